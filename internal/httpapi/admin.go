package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// mayRole answers 403 (recorded under action) unless the caller's roles may act on a resource without a
// declared purpose.
func (s *Server) mayRole(c *gin.Context, obj policies.Object, act policies.Act, action vault.Action) (vault.Access, bool) {
	a, ok := s.access(c)
	if !ok {
		return a, false
	}
	if err := s.vault.AuthorizeRole(c.Request.Context(), a, obj, act, action); err != nil {
		s.abortWith(c, err)
		return a, false
	}
	return a, true
}

type policiesResponse struct {
	Hash     string             `json:"hash"`
	Model    string             `json:"model"`
	Rules    string             `json:"rules"`
	Purposes []policies.Purpose `json:"purposes"`
	Schema   []policies.Field   `json:"schema"`
	Roles    []string           `json:"roles"`
}

func (s *Server) getPolicies(c *gin.Context) {
	if _, ok := s.mayRole(c, policies.ResourcePolicies, policies.ActRead, vault.ActionPolicyRead); !ok {
		return
	}
	pol := s.vault.Policy()
	files := pol.Files()
	c.JSON(http.StatusOK, policiesResponse{
		Hash: pol.Hash(), Model: string(files["model.conf"]), Rules: string(files["policy.csv"]),
		Purposes: pol.Purposes().All(), Schema: pol.Schema().Fields(), Roles: pol.Roles(),
	})
}

func (s *Server) getPolicyMatrix(c *gin.Context) {
	if _, ok := s.mayRole(c, policies.ResourcePolicies, policies.ActRead, vault.ActionPolicyRead); !ok {
		return
	}
	pol := s.vault.Policy()
	c.JSON(http.StatusOK, gin.H{"hash": pol.Hash(), "matrix": pol.Matrix()})
}

func (s *Server) reloadPolicies(c *gin.Context) {
	a, ok := s.mayRole(c, policies.ResourcePolicies, policies.ActReload, vault.ActionPolicyReload)
	if !ok {
		return
	}
	if s.loadPolicy == nil {
		s.abortCode(c, vault.CodeUnavailable, "policy reload is not configured")
		return
	}
	next, err := s.loadPolicy()
	if err != nil {
		// A validation error names policy files, lines and rules — the admin's own input, no personal data — so
		// it is shown; an error reading the files is the server's and stays in its log.
		s.log.Warn("policy reload refused; the old policy stays in force", "err", err)
		msg := "policy files refused: " + err.Error()
		if pathErr := (*fs.PathError)(nil); errors.As(err, &pathErr) {
			msg = "policy files could not be read; the server log says why"
		}
		s.abortWith(c, s.vault.RefusePolicyReload(c.Request.Context(), a, msg))
		return
	}
	seq, err := s.vault.ReloadPolicy(c.Request.Context(), a, next)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"reloaded": true, "hash": next.Hash(), "audit_seq": seq})
}

// policyInForceDTO is a policy version and when it came into force.
type policyInForceDTO struct {
	Hash  string    `json:"hash"`
	Since time.Time `json:"since"`
}

func toPolicyInForceDTO(x vault.PolicyInForce) policyInForceDTO {
	return policyInForceDTO{Hash: x.Hash, Since: x.Since}
}

// getPolicyHistory lists every policy version that came into force.
func (s *Server) getPolicyHistory(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	hist, err := s.vault.PolicyHistory(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": dtos(hist, toPolicyInForceDTO)})
}

// getPolicyAt answers the policy in force at ?at= (RFC 3339): the processing record as of that time.
func (s *Server) getPolicyAt(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	at, err := time.Parse(time.RFC3339, c.Query("at"))
	if err != nil {
		s.abortCode(c, vault.CodeInvalidArgument, "at must be an RFC 3339 time")
		return
	}
	v, err := s.vault.PolicyAt(c.Request.Context(), a, at)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"hash": v.Hash, "since": v.Since, "files": v.Files})
}

type revokeRequest struct {
	JTI    string    `json:"jti"`
	Sub    string    `json:"sub"`
	Before time.Time `json:"before"`
}

// revokeTokens revokes a token by jti, or a subject's tokens issued before a time (default now).
func (s *Server) revokeTokens(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req revokeRequest
	if !s.bindJSON(c, &req) {
		return
	}
	seq, err := s.vault.RevokeTokens(c.Request.Context(), a, vault.Revocation{TokenID: req.JTI, Subject: req.Sub, Before: req.Before})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"revoked": true})
}
