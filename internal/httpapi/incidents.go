package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// Personal information incidents (PIPL Art. 57): POST /v1/incidents and GET /v1/incidents/{id} for
// compliance officers, GET /v1/me/notices for the subjects concerned.

type incidentBody struct {
	DiscoveredAt time.Time `json:"discovered_at"`
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
	Actor        string    `json:"actor"`
	Notice       string    `json:"notice"`
}

type incidentDTO struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	DiscoveredAt  time.Time `json:"discovered_at"`
	Since         time.Time `json:"since"`
	Until         time.Time `json:"until"`
	Actor         string    `json:"actor"`
	Affected      int       `json:"affected"`
	Categories    []string  `json:"categories"`
	Notice        string    `json:"notice"`
	Regulator     string    `json:"regulator_notice"`
	NoticesQueued int       `json:"subject_notices_queued"`
}

func toIncidentDTO(x vault.Incident) incidentDTO {
	return incidentDTO{ID: x.ID, CreatedAt: x.CreatedAt, DiscoveredAt: x.DiscoveredAt, Since: x.Since, Until: x.Until, Actor: x.Actor,
		Affected: x.Affected, Categories: x.Categories, Notice: x.Notice, Regulator: x.Regulator, NoticesQueued: x.NoticesQueued}
}

// subjectNoticeDTO is an incident as the subject concerned is told of it: never who the actor was.
type subjectNoticeDTO struct {
	IncidentID   string    `json:"incident_id"`
	DiscoveredAt time.Time `json:"discovered_at"`
	Categories   []string  `json:"categories"`
	Notice       string    `json:"notice"`
}

func toSubjectNoticeDTO(x vault.Incident) subjectNoticeDTO {
	return subjectNoticeDTO{IncidentID: x.ID, DiscoveredAt: x.DiscoveredAt, Categories: x.Categories, Notice: x.Notice}
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
	inc, err := s.vault.Review().RecordIncident(c.Request.Context(), a, vault.IncidentInput{DiscoveredAt: req.DiscoveredAt,
		Since: req.Since, Until: req.Until, Actor: req.Actor, Notice: req.Notice})
	if err != nil {
		s.abortWith(c, err)
		return
	}
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
