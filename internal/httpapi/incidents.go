package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// Personal information incidents (PIPL Art. 57): POST /v1/incidents records one (open, its scope derived
// from the trail), POST /v1/incidents/{id}/notify queues the notices and the regulator report, GET
// /v1/incidents and GET /v1/incidents/{id} read them — compliance officers; GET /v1/me/notices for the
// subjects concerned.

// incidentBody is POST /v1/incidents. discovered_at and notice are the names of an earlier release, still
// accepted for detected_at and summary.
type incidentBody struct {
	Title        string    `json:"title"`
	DetectedAt   time.Time `json:"detected_at"`
	Summary      string    `json:"summary"`
	Actor        string    `json:"actor"`
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
	DiscoveredAt time.Time `json:"discovered_at"`
	Notice       string    `json:"notice"`
}

func (b incidentBody) toInput() vault.IncidentInput {
	in := vault.IncidentInput{Title: b.Title, DiscoveredAt: b.DetectedAt, Notice: b.Summary, Actor: b.Actor, Since: b.Since, Until: b.Until}
	if in.DiscoveredAt.IsZero() {
		in.DiscoveredAt = b.DiscoveredAt
	}
	if in.Notice == "" {
		in.Notice = b.Notice
	}
	return in
}

type incidentDTO struct {
	ID               string     `json:"id"`
	Title            string     `json:"title"`
	State            string     `json:"state"`
	CreatedAt        time.Time  `json:"created_at"`
	DetectedAt       time.Time  `json:"detected_at"`
	NotifiedAt       *time.Time `json:"notified_at,omitempty"`
	Since            time.Time  `json:"since"`
	Until            time.Time  `json:"until"`
	Actor            string     `json:"actor"`
	AffectedSubjects int        `json:"affected_subjects"`
	ToNotify         int        `json:"subjects_to_notify"`
	Categories       []string   `json:"categories"`
	Summary          string     `json:"summary"`
	Regulator        string     `json:"regulator_notice"`
	NoticesQueued    int        `json:"subject_notices_queued"`
	// The names of an earlier release, kept for its clients.
	DiscoveredAt time.Time `json:"discovered_at"`
	Affected     int       `json:"affected"`
	Notice       string    `json:"notice"`
}

func toIncidentDTO(x vault.Incident) incidentDTO {
	out := incidentDTO{ID: x.ID, Title: x.Title, State: x.State, CreatedAt: x.CreatedAt, DetectedAt: x.DiscoveredAt, Since: x.Since, Until: x.Until,
		Actor: x.Actor, AffectedSubjects: x.Affected, ToNotify: x.AffectedSubjects, Categories: x.Categories, Summary: x.Notice, Regulator: x.Regulator,
		NoticesQueued: x.NoticesQueued, DiscoveredAt: x.DiscoveredAt, Affected: x.Affected, Notice: x.Notice}
	if !x.NotifiedAt.IsZero() {
		out.NotifiedAt = &x.NotifiedAt
	}
	return out
}

// subjectNoticeDTO is an incident as the subject concerned is told of it: never who the actor was.
type subjectNoticeDTO struct {
	IncidentID   string    `json:"incident_id"`
	Title        string    `json:"title"`
	DetectedAt   time.Time `json:"detected_at"`
	DiscoveredAt time.Time `json:"discovered_at"`
	Categories   []string  `json:"categories"`
	Notice       string    `json:"notice"`
}

func toSubjectNoticeDTO(x vault.Incident) subjectNoticeDTO {
	return subjectNoticeDTO{IncidentID: x.ID, Title: x.Title, DetectedAt: x.DiscoveredAt, DiscoveredAt: x.DiscoveredAt, Categories: x.Categories, Notice: x.Notice}
}

func (s *Server) postIncident(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req incidentBody
	if !s.bindJSON(c, &req) {
		return
	}
	inc, seq, err := s.vault.Review().RecordIncident(c.Request.Context(), a, req.toInput())
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, toIncidentDTO(inc))
}

func (s *Server) getIncident(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	inc, seq, err := s.vault.Review().Incident(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, toIncidentDTO(inc))
}

func (s *Server) listIncidents(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	list, seq, err := s.vault.Review().Incidents(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"incidents": dtos(list, toIncidentDTO)})
}

func (s *Server) notifyIncident(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	inc, seq, err := s.vault.Review().NotifyIncident(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, toIncidentDTO(inc))
}

func (s *Server) getMeNotices(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	list, seq, err := s.vault.DataSubjects().MeNotices(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"notices": dtos(list, toSubjectNoticeDTO)})
}
