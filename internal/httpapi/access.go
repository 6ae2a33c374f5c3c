package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// accessRequestBody is POST /v1/access-requests' body.
type accessRequestBody struct {
	Categories     []string `json:"categories"`
	Fields         []string `json:"fields"`
	Subjects       []string `json:"subjects"`
	Audience       string   `json:"audience"`
	Justification  string   `json:"justification"`
	ReasonCategory string   `json:"reason_category"`
	Duration       string   `json:"duration"`
	MaxReads       int      `json:"max_reads"`
}

func toAccessRequestInput(b accessRequestBody) vault.AccessRequestInput {
	return vault.AccessRequestInput{Categories: b.Categories, Fields: b.Fields, Subjects: b.Subjects, Audience: b.Audience, Justification: b.Justification,
		ReasonCategory: b.ReasonCategory, Duration: b.Duration, MaxReads: b.MaxReads}
}

// accessRequestDTO is an access request on the wire.
type accessRequestDTO struct {
	ID             string     `json:"id"`
	State          string     `json:"state"`
	Purpose        string     `json:"purpose"`
	Categories     []string   `json:"categories"`
	Fields         []string   `json:"fields"`
	Subjects       []string   `json:"subjects"`
	SubjectCount   int        `json:"subject_count"`
	Audience       string     `json:"audience,omitempty"`
	RequestedBy    string     `json:"requested_by"`
	ReasonCategory string     `json:"reason_category"`
	Justification  string     `json:"justification,omitempty"`
	Duration       string     `json:"duration"`
	MaxReads       int        `json:"max_reads,omitempty"`
	Reads          int        `json:"reads"`
	CreatedAt      time.Time  `json:"created_at"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	Note           string     `json:"note,omitempty"`
	GrantID        string     `json:"grant_id,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at"`
}

func toAccessRequestDTO(x vault.AccessRequestView) accessRequestDTO {
	return accessRequestDTO{ID: x.ID, State: x.State, Purpose: string(x.Purpose), Categories: nonNilStrings(x.Categories), Fields: nonNilStrings(x.Fields),
		Subjects: nonNilStrings(x.Subjects), SubjectCount: x.SubjectCount, Audience: x.Audience, RequestedBy: x.RequestedBy, ReasonCategory: x.ReasonCategory,
		Justification: x.Justification, Duration: policies.FormatDuration(x.Duration), MaxReads: x.MaxReads, Reads: x.Reads, CreatedAt: x.CreatedAt,
		DecidedBy: x.DecidedBy, DecidedAt: x.DecidedAt, Note: x.Note, GrantID: x.GrantID, ExpiresAt: x.ExpiresAt}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// postAccessRequest files a request for the declared purpose (X-Purpose).
func (s *Server) postAccessRequest(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var body accessRequestBody
	if !s.bindJSON(c, &body) {
		return
	}
	r, err := s.vault.AccessRequests().Request(c.Request.Context(), a, toAccessRequestInput(body))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, r.AuditSeq)
	c.JSON(http.StatusCreated, toAccessRequestDTO(r))
}

// getAccessRequests lists the caller's own requests (mine=true) or also those they may decide.
func (s *Server) getAccessRequests(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	mine := c.Query("mine")
	if mine != "" && mine != "true" && mine != "false" {
		s.abortCode(c, vault.CodeInvalidArgument, "mine must be true or false")
		return
	}
	limit, ok := s.limitParam(c, vault.MaxAccessRequestPage)
	if !ok {
		return
	}
	page, err := s.vault.AccessRequests().List(c.Request.Context(), a, c.Query("state"), mine == "true", c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	c.JSON(http.StatusOK, gin.H{"requests": dtosOrEmpty(page.Requests, toAccessRequestDTO), "next_cursor": nextCursor(page.Next)})
}

type accessDecisionBody struct {
	Decision string `json:"decision"`
	Note     string `json:"note"`
	Duration string `json:"duration"`
}

func (s *Server) postAccessDecision(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var body accessDecisionBody
	if !s.bindJSON(c, &body) {
		return
	}
	r, err := s.vault.AccessRequests().Decide(c.Request.Context(), a, c.Param("id"), body.Decision, body.Note, body.Duration)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, r.AuditSeq)
	c.JSON(http.StatusOK, toAccessRequestDTO(r))
}

func (s *Server) postAccessRevoke(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	r, err := s.vault.AccessRequests().Revoke(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, r.AuditSeq)
	c.JSON(http.StatusOK, toAccessRequestDTO(r))
}

// subjectEventsDTO is GET /v1/subjects/{id}/events' body.
type subjectEventsDTO struct {
	Events     []eventViewDTO `json:"events"`
	Withheld   []withheldDTO  `json:"withheld"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// getSubjectEvents answers a page of a subject's decrypted events in the categories the caller may read
// (the role's baseline, or an approved grant with X-Access-Grant).
func (s *Server) getSubjectEvents(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	since, until, ok := s.window(c)
	if !ok {
		return
	}
	limit, ok := s.limitParam(c, 500)
	if !ok {
		return
	}
	page, err := s.vault.Ingestion().SubjectEvents(c.Request.Context(), a, c.Param("id"), vault.EventQuery{Category: c.Query("category"),
		Since: since, Until: until, Cursor: c.Query("cursor"), Limit: limit})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	out := subjectEventsDTO{Events: make([]eventViewDTO, 0, len(page.Events)), Withheld: make([]withheldDTO, 0, len(page.Withheld)), NextCursor: page.Next}
	for _, e := range page.Events {
		out.Events = append(out.Events, toEventViewDTO(e))
	}
	for _, w := range page.Withheld {
		out.Withheld = append(out.Withheld, toWithheldDTO(w))
	}
	c.JSON(http.StatusOK, out)
}

// grantRowDTO is one row of GET /v1/grants/{id}/rows.
type grantRowDTO struct {
	Pseudonym string         `json:"pseudonym"`
	Category  string         `json:"category"`
	Type      string         `json:"type"`
	Day       string         `json:"day"`
	Attrs     map[string]any `json:"attrs"`
}

func toGrantRowDTO(x vault.GrantRow) grantRowDTO {
	return grantRowDTO{Pseudonym: x.Pseudonym, Category: x.Category, Type: x.Type, Day: x.Day, Attrs: x.Attrs}
}

// getGrantRows answers a page of pseudonymous rows under an analyst's grant.
func (s *Server) getGrantRows(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	page, err := s.vault.Ingestion().GrantRows(c.Request.Context(), a, c.Param("id"), c.Query("cursor"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	rows := make([]grantRowDTO, 0, len(page.Rows))
	for _, r := range page.Rows {
		rows = append(rows, toGrantRowDTO(r))
	}
	body := gin.H{"rows": rows}
	if page.Next != "" {
		body["next_cursor"] = page.Next
	}
	c.JSON(http.StatusOK, body)
}

// grantableDTO is one entry of grants.json that the caller's roles may ask for.
type grantableDTO struct {
	Role        string   `json:"role"`
	Purpose     string   `json:"purpose"`
	Categories  []string `json:"categories"`
	Fields      []string `json:"fields"`
	MaxDuration string   `json:"max_duration"`
	Approvers   []string `json:"approvers"`
}

func toGrantableDTO(g policies.Grantable) grantableDTO {
	approvers := make([]string, len(g.Approvers))
	for i, a := range g.Approvers {
		approvers[i] = string(a)
	}
	return grantableDTO{Role: string(g.Role), Purpose: string(g.Purpose), Categories: nonNilStrings(g.Categories), Fields: nonNilStrings(g.Fields),
		MaxDuration: policies.FormatDuration(g.MaxDuration), Approvers: approvers}
}

// getGrantable answers what the caller's roles may ask for (policy only, no personal data).
func (s *Server) getGrantable(c *gin.Context) {
	a, _ := accessOf(c)
	out := []grantableDTO{}
	for _, g := range s.vault.Policy().Grantables() {
		for _, r := range a.Caller.Roles {
			if g.Role == r {
				out = append(out, toGrantableDTO(g))
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"grantable": out})
}
