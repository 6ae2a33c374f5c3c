package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

type createSubjectRequest struct {
	ExternalID string                     `json:"external_id"`
	Source     string                     `json:"source"`
	Fields     map[string]json.RawMessage `json:"fields"`
}

type createSubjectResponse struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	AuditSeq  int64     `json:"audit_seq"`
}

type subjectView struct {
	ID       string            `json:"id"`
	Purpose  string            `json:"purpose"`
	Fields   map[string]string `json:"fields"`
	Withheld []withheldDTO     `json:"withheld"`
	AuditSeq int64             `json:"audit_seq"`
}

type updateSubjectRequest struct {
	Fields map[string]json.RawMessage `json:"fields"`
}

type lookupRequest struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

type lookupResponse struct {
	IDs      []string `json:"ids"`
	AuditSeq int64    `json:"audit_seq"`
}

type eraseResponse struct {
	Erased  bool       `json:"erased"`
	Receipt receiptDTO `json:"receipt"`
}

func toView(v vault.View) subjectView {
	w := dtos(v.Withheld, toWithheldDTO)
	if w == nil {
		w = []withheldDTO{}
	}
	return subjectView{ID: v.ID, Purpose: string(v.Purpose), Fields: v.Fields, Withheld: w, AuditSeq: v.AuditSeq}
}

func setAuditSeq(c *gin.Context, seq int64) {
	c.Header("X-Audit-Seq", strconv.FormatInt(seq, 10))
}

func (s *Server) createSubject(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req createSubjectRequest
	if !s.bindJSON(c, &req) {
		return
	}
	fields, err := fieldValues(req.Fields)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	created, err := s.vault.Profiles().Create(c.Request.Context(), a, vault.NewSubject{ExternalID: req.ExternalID, Source: req.Source, Fields: fields})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, created.AuditSeq)
	c.JSON(http.StatusCreated, createSubjectResponse{ID: created.ID, CreatedAt: created.CreatedAt, AuditSeq: created.AuditSeq})
}

func (s *Server) readSubject(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var fields []string
	if q, present := c.GetQuery("fields"); present {
		for _, f := range strings.Split(q, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			s.abortCode(c, vault.CodeInvalidArgument, "fields must name at least one field")
			return
		}
	}
	v, err := s.vault.Profiles().Read(c.Request.Context(), a, c.Param("id"), fields)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, v.AuditSeq)
	c.Data(http.StatusOK, jsonContentType, appendSubjectView(nil, toView(v)))
}

// jsonContentType is the Content-Type c.JSON sets.
const jsonContentType = "application/json; charset=utf-8"

func (s *Server) updateSubject(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	fields, ok := s.bindFieldsBody(c)
	if !ok {
		return
	}
	v, err := s.vault.Profiles().Update(c.Request.Context(), a, c.Param("id"), fields)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, v.AuditSeq)
	c.JSON(http.StatusOK, toView(v))
}

func (s *Server) lookupSubject(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req lookupRequest
	if !s.bindJSON(c, &req) {
		return
	}
	res, err := s.vault.Profiles().Lookup(c.Request.Context(), a, req.Field, req.Value)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	c.JSON(http.StatusOK, lookupResponse{IDs: res.IDs, AuditSeq: res.AuditSeq})
}

func (s *Server) eraseSubject(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rec, err := s.vault.Profiles().Erase(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	s.erased(c, rec)
}
