package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// auditEventsResponse is GET /v1/audit/events' body; next_cursor is null on the last page.
type auditEventsResponse struct {
	Events     []auditEntryDTO `json:"events"`
	NextCursor *string         `json:"next_cursor"`
}

// auditEntryDTO is an entry as the review API shows it: the canonical entry's keys in its order, with the
// keys API.md lists always present — subject_ref, reason and the actor's team are empty strings when the
// entry has none (its canonical bytes, which proofs and exports carry, leave them out) — and grant_id, by
// which reviews filter.
type auditEntryDTO struct {
	Seq               int64          `json:"seq"`
	Version           int            `json:"v,omitempty"`
	TS                time.Time      `json:"ts"`
	RequestID         string         `json:"request_id"`
	Actor             auditActorDTO  `json:"actor"`
	Purpose           string         `json:"purpose"`
	JustificationHash string         `json:"justification_hash,omitempty"`
	Action            string         `json:"action"`
	SubjectRef        string         `json:"subject_ref"`
	Categories        []string       `json:"categories"`
	FieldsRequested   []string       `json:"fields_requested"`
	FieldsGranted     []string       `json:"fields_granted"`
	FieldsWithheld    []string       `json:"fields_withheld"`
	DecisionInputs    []string       `json:"decision_inputs,omitempty"`
	Decision          audit.Decision `json:"decision"`
	Reason            string         `json:"reason"`
	ConsentIDs        []string       `json:"consent_ids"`
	Status            int            `json:"status"`
	PolicyHash        string         `json:"policy_hash"`
	ClientRef         string         `json:"client_ref,omitempty"`
	ClientRequestRef  string         `json:"client_request_ref,omitempty"`
	GrantID           string         `json:"grant_id"`
	Recipient         string         `json:"recipient,omitempty"`
	Intent            int64          `json:"intent,omitempty"`
	PrevHash          string         `json:"prev_hash"`
}

// auditActorDTO is an entry's actor: the staff member's sub, or a data subject's pseudonym.
type auditActorDTO struct {
	Sub       string   `json:"sub,omitempty"`
	Pseudonym string   `json:"pseudonym,omitempty"`
	Roles     []string `json:"roles"`
	Team      string   `json:"team"`
	TokenID   string   `json:"token_id,omitempty"`
}

func toAuditEntryDTO(e audit.Entry) auditEntryDTO {
	return auditEntryDTO{
		Seq: e.Seq, Version: e.Version, TS: e.TS, RequestID: e.RequestID,
		Actor:   auditActorDTO{Sub: e.Actor.Sub, Pseudonym: e.Actor.Pseudonym, Roles: nonNilStrings(e.Actor.Roles), Team: e.Actor.Team, TokenID: e.Actor.TokenID},
		Purpose: e.Purpose, JustificationHash: e.JustificationHash, Action: e.Action, SubjectRef: e.SubjectRef,
		Categories: nonNilStrings(e.Categories), FieldsRequested: nonNilStrings(e.FieldsRequested),
		FieldsGranted: nonNilStrings(e.FieldsGranted), FieldsWithheld: nonNilStrings(e.FieldsWithheld),
		DecisionInputs: e.DecisionInputs, Decision: e.Decision, Reason: e.Reason, ConsentIDs: nonNilStrings(e.ConsentIDs),
		Status: e.Status, PolicyHash: e.PolicyHash, ClientRef: e.ClientRef, ClientRequestRef: e.ClientRequestRef,
		GrantID: e.GrantID, Recipient: e.Recipient, Intent: e.Intent, PrevHash: e.PrevHash,
	}
}

func (s *Server) parseTimeParam(c *gin.Context, name string) (time.Time, bool) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		s.abortCode(c, vault.CodeInvalidArgument, name+" must be an RFC 3339 time")
		return time.Time{}, false
	}
	return t, true
}

func (s *Server) auditEvents(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	since, until, ok := s.window(c)
	if !ok {
		return
	}
	limit, ok := s.limitParam(c, 0)
	if !ok {
		return
	}
	var minSeq int64
	if v := c.Query("min_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.abortCode(c, vault.CodeInvalidArgument, "min_seq must be a positive integer")
			return
		}
		minSeq = n
	}
	page, err := s.vault.Review().AuditEvents(c.Request.Context(), a, vault.AuditQuery{
		SubjectID: c.Query("subject_id"), Actor: c.Query("actor"), Purpose: c.Query("purpose"), Action: c.Query("action"), GrantID: c.Query("grant"),
		Decision: audit.Decision(c.Query("decision")), Since: since, Until: until, Cursor: c.Query("cursor"), Limit: limit, MinSeq: minSeq,
	})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	out := auditEventsResponse{Events: dtosOrEmpty(page.Events, toAuditEntryDTO)}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	c.JSON(http.StatusOK, out)
}

// auditExport streams NDJSON (each line an entry's canonical bytes, so it can be re-hashed and checked
// against proofs) or CSV, without holding the trail in memory.
func (s *Server) auditExport(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "ndjson")
	if format != "ndjson" && format != "csv" {
		s.abortCode(c, vault.CodeInvalidArgument, "format must be ndjson or csv")
		return
	}
	since, until, ok := s.window(c)
	if !ok {
		return
	}
	var x *audit.ExportWriter
	// start sends the headers once — on the first entry, or at the end of an empty export — after the
	// export has been recorded.
	start := func() error {
		ct := "application/x-ndjson"
		if format == "csv" {
			ct = "text/csv; charset=utf-8"
		}
		c.Header("Content-Type", ct)
		c.Status(http.StatusOK)
		var err error
		x, err = audit.NewExportWriter(s.streaming(c), format)
		return err
	}
	_, err := s.vault.Review().AuditExport(c.Request.Context(), a, since, until, func(seq int64) { setAuditSeq(c, seq) },
		func(_ int64, canon []byte) error {
			if x == nil {
				if err := start(); err != nil {
					return err
				}
			}
			return x.Write(canon)
		})
	if err != nil {
		if x == nil {
			s.abortWith(c, err)
			return
		}
		// Headers are gone: end the stream short; the client sees a truncated body, never a wrong one.
		s.log.Error("audit export stopped", "request_id", requestID(c), "err", err)
		_ = x.Flush()
		return
	}
	if x == nil {
		_ = start()
	}
	_ = x.Flush()
}

func (s *Server) auditVerify(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rep, err := s.vault.Review().VerifyTrail(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	if rep.OK {
		c.JSON(http.StatusOK, gin.H{"ok": true, "entries": rep.Entries, "head": rep.Head, "checkpoints": rep.Checkpoints, "indexed": rep.Indexed})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": false, "first_bad_seq": rep.FirstBadSeq, "reason": rep.Reason, "entries": rep.Entries})
}

func (s *Server) auditCheckpoint(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	cp, err := s.vault.Review().LatestCheckpoint(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	c.JSON(http.StatusOK, toCheckpointInfoDTO(cp))
}

func (s *Server) auditProof(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		s.abortCode(c, vault.CodeInvalidArgument, "seq must be a positive integer")
		return
	}
	var size int64
	if v := c.Query("tree_size"); v != "" {
		if size, err = strconv.ParseInt(v, 10, 64); err != nil || size < 1 {
			s.abortCode(c, vault.CodeInvalidArgument, "tree_size must be a positive integer")
			return
		}
	}
	p, err := s.vault.Review().Proof(c.Request.Context(), a, seq, size)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, p.AuditSeq)
	c.JSON(http.StatusOK, toInclusionProofDTO(p))
}

// crossBorderReportDTO is GET /v1/audit/reports/cross-border's body.
type crossBorderReportDTO struct {
	Year       int                  `json:"year"`
	Recipients []recipientVolumeDTO `json:"recipients"`
}

type recipientVolumeDTO struct {
	Recipient            string `json:"recipient"`
	Country              string `json:"country"`
	TransferMechanism    string `json:"transfer_mechanism,omitempty"`
	Individuals          int    `json:"individuals"`
	SensitiveIndividuals int    `json:"sensitive_individuals"`
}

func toRecipientVolumeDTO(x vault.RecipientVolume) recipientVolumeDTO {
	return recipientVolumeDTO{Recipient: x.Recipient, Country: x.Country, TransferMechanism: x.TransferMechanism,
		Individuals: x.Individuals, SensitiveIndividuals: x.SensitiveIndividuals}
}

// crossBorderReport answers the yearly count of individuals whose data went abroad, per recipient.
func (s *Server) crossBorderReport(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	year, err := strconv.Atoi(c.Query("year"))
	if err != nil {
		s.abortCode(c, vault.CodeInvalidArgument, "year must be a four-digit year")
		return
	}
	rep, err := s.vault.Review().CrossBorderReport(c.Request.Context(), a, year)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, rep.AuditSeq)
	c.JSON(http.StatusOK, crossBorderReportDTO{Year: rep.Year, Recipients: dtos(rep.Recipients, toRecipientVolumeDTO)})
}

// activityReportDTO is GET /v1/audit/reports/activity's body.
type activityReportDTO struct {
	Days []dayActivityDTO `json:"days"`
}

type dayActivityDTO struct {
	Day       string         `json:"day"`
	Total     int            `json:"total"`
	Denied    int            `json:"denied"`
	ByPurpose map[string]int `json:"by_purpose"`
	ByRole    map[string]int `json:"by_role"`
}

func toDayActivityDTO(x vault.DayActivity) dayActivityDTO {
	return dayActivityDTO{Day: x.Day, Total: x.Total, Denied: x.Denied, ByPurpose: x.ByPurpose, ByRole: x.ByRole}
}

// consentRatesDTO is GET /v1/audit/reports/consent-rates's body.
type consentRatesDTO struct {
	Days     []string         `json:"days"`
	Subjects []int            `json:"subjects"`
	Purposes []purposeRateDTO `json:"purposes"`
}

type purposeRateDTO struct {
	Purpose string `json:"purpose"`
	Granted []int  `json:"granted"`
}

func toPurposeRateDTO(x vault.PurposeRate) purposeRateDTO {
	return purposeRateDTO{Purpose: x.Purpose, Granted: x.Granted}
}

// limitParam reads ?limit=: 0 when absent, else an integer from 1 to most (no bound when most is 0),
// answering 400 otherwise.
func (s *Server) limitParam(c *gin.Context, most int) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || most > 0 && n > most {
		msg := "limit must be a positive integer"
		if most > 0 {
			msg = "limit must be 1 to " + strconv.Itoa(most)
		}
		s.abortCode(c, vault.CodeInvalidArgument, msg)
		return 0, false
	}
	return n, true
}

// window reads ?since= and ?until= (RFC 3339, either may be absent; since inclusive, until exclusive),
// answering one 400 for the first that does not parse, or when since is not before until.
func (s *Server) window(c *gin.Context) (since, until time.Time, ok bool) {
	if since, ok = s.parseTimeParam(c, "since"); !ok {
		return
	}
	if until, ok = s.parseTimeParam(c, "until"); !ok {
		return
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		s.abortCode(c, vault.CodeInvalidArgument, "since must be before until")
		return since, until, false
	}
	return since, until, true
}

// activityReport answers the trail's volume per day, purpose and role, and its denials.
func (s *Server) activityReport(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	since, until, ok := s.window(c)
	if !ok {
		return
	}
	rep, err := s.vault.Review().ActivityReport(c.Request.Context(), a, since, until)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, rep.AuditSeq)
	c.JSON(http.StatusOK, activityReportDTO{Days: dtos(rep.Days, toDayActivityDTO)})
}

// consentRates answers, per consent-based purpose and day, the subjects holding a valid consent.
func (s *Server) consentRates(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	since, until, ok := s.window(c)
	if !ok {
		return
	}
	rep, err := s.vault.Review().ConsentRates(c.Request.Context(), a, since, until)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, rep.AuditSeq)
	c.JSON(http.StatusOK, consentRatesDTO{Days: rep.Days, Subjects: rep.Subjects, Purposes: dtos(rep.Purposes, toPurposeRateDTO)})
}
