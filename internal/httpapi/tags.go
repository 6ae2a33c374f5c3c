package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/vault"
)

// Tags, tag jobs and population insights.

func (s *Server) getSubjectTags(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	res, err := s.vault.Tags().SubjectTags(c.Request.Context(), a, c.Param("id"), language(c))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	c.JSON(http.StatusOK, toTagsResultDTO(res))
}

func (s *Server) postTagsCompute(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	if s.jobs == nil {
		s.abortCode(c, vault.CodeUnavailable, "tag computation is not available in this process")
		return
	}
	kind := tagrun.KindFull
	switch c.DefaultQuery("mode", "full") {
	case "full":
	case "changed":
		kind = tagrun.KindChanged
	default:
		s.abortCode(c, vault.CodeInvalidArgument, "mode must be full or changed")
		return
	}
	ro, ok := s.rulesOptions(c)
	if !ok {
		return
	}
	seq, err := s.vault.Tags().AuthorizeTagCompute(c.Request.Context(), a, "job:start "+kind)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	id, started := s.jobs.Start(a.Caller, kind, ro)
	if !started {
		// The standard error body, with the running job's id beside it.
		c.JSON(http.StatusConflict, gin.H{"job_id": id, "error": errorDetail{Code: vault.CodeConflict, Message: "a tag computation is already running",
			RequestID: requestID(c)}})
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"job_id": id})
}

func (s *Server) getJob(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	if vault.IsRotationJob(c.Param("id")) {
		s.getRotationJob(c, a)
		return
	}
	seq, err := s.vault.Tags().AuthorizeTagCompute(c.Request.Context(), a, "job:status")
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	if s.jobs == nil {
		s.abortCode(c, vault.CodeNotFound, "no such job")
		return
	}
	st, found := s.jobs.Status(c.Param("id"))
	if !found {
		s.abortCode(c, vault.CodeNotFound, "no such job")
		return
	}
	c.JSON(http.StatusOK, toJobStatusDTO(st))
}

// insightKinds maps the insight routes to the part of the frozen model they show.
var insightKinds = map[string]string{"rfm": "rfm", "segments": "segments", "rules": "rules", "purchase-factors": "purchase_factors"}

func (s *Server) getInsight(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	part, known := insightKinds[c.Param("kind")]
	if !known {
		s.abortCode(c, vault.CodeNotFound, "no such insight")
		return
	}
	raw, at, seq, err := s.vault.Tags().Insights(c.Request.Context(), a, part)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	if raw == nil {
		s.abortCode(c, vault.CodeNotFound, "no tag computation has run yet: POST /v1/tags/compute")
		return
	}
	var m struct {
		Insights map[string]json.RawMessage `json:"insights"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		s.abortWith(c, err)
		return
	}
	body, found := m.Insights[part]
	if !found {
		body = json.RawMessage("null")
	}
	c.JSON(http.StatusOK, gin.H{"insight": c.Param("kind"), "computed_at": at, "data": body})
}

// rulesOptions reads a full run's association-rule thresholds from the query (rules_min_support,
// rules_min_confidence, rules_max_len, rules_min_lift; absent: the defaults, min lift 1), answering 400 for
// a value out of range; rules_min_lift=0 asks for every rule.
func (s *Server) rulesOptions(c *gin.Context) (tagrun.RulesOptions, bool) {
	ro := tagrun.DefaultRules()
	for _, p := range []struct {
		name string
		f    *float64
		i    *int
	}{{"rules_min_support", &ro.MinSupport, nil}, {"rules_min_confidence", &ro.MinConfidence, nil},
		{"rules_max_len", nil, &ro.MaxLen}, {"rules_min_lift", &ro.MinLift, nil}} {
		v, ok := c.GetQuery(p.name)
		if !ok {
			continue
		}
		var err error
		if p.f != nil {
			*p.f, err = strconv.ParseFloat(v, 64)
		} else {
			*p.i, err = strconv.Atoi(v)
		}
		if err == nil && (p.i != nil && *p.i <= 0 || p.f != nil && (*p.f < 0 || *p.f == 0 && p.name != "rules_min_lift")) {
			err = strconv.ErrRange
		}
		if err != nil {
			s.abortCode(c, vault.CodeInvalidArgument, p.name+" must be a positive number")
			return ro, false
		}
	}
	if _, err := ro.Normalize(); err != nil {
		s.abortCode(c, vault.CodeInvalidArgument, "rule thresholds out of range: min_support and min_confidence in (0, 1], max_len 1 to 10, min_lift ≥ 0")
		return ro, false
	}
	return ro, true
}
