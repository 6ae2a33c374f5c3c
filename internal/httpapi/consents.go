package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

type grantConsentRequest struct {
	Purpose       string     `json:"purpose"`
	NoticeVersion string     `json:"notice_version"`
	Method        string     `json:"method"`
	Kind          string     `json:"kind"`
	Evidence      string     `json:"evidence"`
	Recipient     *string    `json:"recipient"`
	ExpiresAt     *time.Time `json:"expires_at"`
	// Channels narrows a marketing consent to some of the channels its notice names (none: all).
	Channels []string `json:"channels"`
}

type consentsResponse struct {
	Consents []consentViewDTO `json:"consents"`
	History  []consentViewDTO `json:"history"`
}

func (s *Server) listConsents(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	res, err := s.vault.ConsentRecords().ListConsents(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	c.JSON(http.StatusOK, consentsResponse{Consents: dtosOrEmpty(res.Current, toConsentViewDTO), History: dtosOrEmpty(res.History, toConsentViewDTO)})
}

func (s *Server) grantConsent(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req grantConsentRequest
	if !s.bindJSON(c, &req) {
		return
	}
	kind := req.Kind
	if kind == "" {
		kind = string(consent.General)
	}
	g := consent.Grant{Purpose: policies.PurposeName(req.Purpose), Kind: consent.Kind(kind), NoticeVersion: req.NoticeVersion, Method: req.Method,
		Evidence: req.Evidence, ExpiresAt: req.ExpiresAt, Channels: req.Channels}
	if req.Recipient != nil {
		g.Recipient = *req.Recipient
	}
	v, seq, err := s.vault.ConsentRecords().GrantConsent(c.Request.Context(), a, c.Param("id"), g)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, toConsentViewDTO(v))
}

func (s *Server) withdrawConsent(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var views []vault.ConsentView
	var seq int64
	var err error
	if ch := c.Query("channel"); ch != "" { // one channel of commercial messages only
		views, seq, err = s.vault.ConsentRecords().WithdrawChannel(c.Request.Context(), a, c.Param("id"), policies.PurposeName(c.Param("purpose")), ch)
	} else {
		views, seq, err = s.vault.ConsentRecords().WithdrawConsent(c.Request.Context(), a, c.Param("id"), policies.PurposeName(c.Param("purpose")))
	}
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"withdrawn": dtos(views, toConsentViewDTO)})
}
