package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// audienceRequest is POST /v1/audiences' body.
type audienceRequest struct {
	Name    string  `json:"name"`
	Rule    string  `json:"rule"`
	Channel string  `json:"channel"`
	Holdout float64 `json:"holdout"`
}

// audienceDTO is a built audience on the wire: sizes and exclusion counts, never a person.
type audienceDTO struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Rule        string         `json:"rule"`
	Channel     string         `json:"channel"`
	Holdout     float64        `json:"holdout"`
	Size        int            `json:"size"`
	HoldoutSize int            `json:"holdout_size"`
	Excluded    map[string]int `json:"excluded"`
	CreatedAt   time.Time      `json:"created_at"`
}

func toAudienceDTO(x vault.AudienceRow) audienceDTO {
	return audienceDTO{ID: x.ID, Name: x.Name, Rule: x.Rule, Channel: x.Channel, Holdout: x.Holdout, Size: x.Size, HoldoutSize: x.HoldoutSize,
		Excluded: x.Excluded, CreatedAt: x.CreatedAt}
}

func (s *Server) postAudience(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req audienceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	aud, err := s.vault.Audiences().Build(c.Request.Context(), a, vault.AudienceInput{Name: req.Name, Rule: req.Rule, Channel: req.Channel, Holdout: req.Holdout})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	c.JSON(http.StatusCreated, toAudienceDTO(aud))
}

type memberDTO struct {
	Ref     string `json:"member_ref"`
	Address string `json:"address,omitempty"`
}

func (s *Server) getAudienceMembers(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.abortCode(c, vault.CodeInvalidArgument, "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	page, err := s.vault.Audiences().Members(c.Request.Context(), a, c.Param("id"), c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	out := make([]memberDTO, 0, len(page.Members))
	for _, m := range page.Members {
		out = append(out, memberDTO{Ref: m.Ref, Address: m.Address})
	}
	body := gin.H{"members": out}
	if page.Next != "" {
		body["next_cursor"] = page.Next
	}
	c.JSON(http.StatusOK, body)
}
