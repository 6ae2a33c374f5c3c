package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// createRequestBody is POST /v1/me/requests and, for a deceased subject's close relative's request (PIPL
// Art. 49) recorded by staff, POST /v1/subjects/{id}/requests; relationship and evidence come with
// deceased_relative only.
type createRequestBody struct {
	Type         string `json:"type"`
	Relationship string `json:"relationship"`
	Evidence     string `json:"evidence"`
}

func (s *Server) postMeRequest(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req createRequestBody
	if !s.bindJSON(c, &req) {
		return
	}
	var v vault.RequestView
	var seq int64
	var err error
	switch {
	case req.Type == vault.RequestDeceasedRelative:
		v, seq, err = s.vault.Requests().MeRelativeRequest(c.Request.Context(), a, req.Relationship, req.Evidence)
	case req.Relationship != "" || req.Evidence != "":
		err = vault.Errorf(vault.CodeInvalidArgument, "relationship and evidence come with type deceased_relative only")
	default:
		v, seq, err = s.vault.Requests().MeCreateRequest(c.Request.Context(), a, req.Type)
	}
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, toRequestViewDTO(v))
}

func (s *Server) getMeRequests(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	views, seq, err := s.vault.Requests().MeRequests(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	if views == nil {
		views = []vault.RequestView{}
	}
	c.JSON(http.StatusOK, gin.H{"requests": dtos(views, toRequestViewDTO)})
}

// deleteMeRequest withdraws one of the caller's own requests that is not answered yet.
func (s *Server) deleteMeRequest(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	v, seq, err := s.vault.Requests().MeWithdrawRequest(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, toRequestViewDTO(v))
}

func (s *Server) getRequestQueue(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	overdue := c.Query("overdue")
	if overdue != "" && overdue != "true" && overdue != "false" {
		s.abortCode(c, vault.CodeInvalidArgument, "overdue must be true or false")
		return
	}
	items, seq, err := s.vault.Requests().RequestQueue(c.Request.Context(), a, c.Query("state"), overdue == "true")
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"requests": dtos(items, toQueueItemDTO)})
}

type transitionBody struct {
	To     string `json:"to"`
	Reason string `json:"reason"`
}

func (s *Server) postTransition(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req transitionBody
	if !s.bindJSON(c, &req) {
		return
	}
	v, seq, err := s.vault.Requests().TransitionRequest(c.Request.Context(), a, c.Param("id"), req.To, req.Reason)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, toRequestViewDTO(v))
}

func (s *Server) postRelativeRequest(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req createRequestBody
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Type != vault.RequestDeceasedRelative {
		s.abortCode(c, vault.CodeInvalidArgument, "type must be deceased_relative (a subject files their own requests at /v1/me/requests)")
		return
	}
	v, seq, err := s.vault.Requests().RecordRelativeRequest(c.Request.Context(), a, c.Param("id"), req.Relationship, req.Evidence)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, toRequestViewDTO(v))
}
