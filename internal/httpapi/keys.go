package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// Key management (role admin): rotation, its progress as a job, and the state of the key ring.

// rotateKeys starts a KEK rotation, or resumes an interrupted one. It answers 200 with the result when the
// rotation has finished, or at once 202 {job_id} with ?async=true or "Prefer: respond-async"; progress is
// at GET /v1/jobs/{job_id}. A rotation already running → 409 rotation_in_progress. The rotation runs under
// the server's lifetime, not the request's: a client that stops waiting does not stop it.
func (s *Server) rotateKeys(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	async, err := strconv.ParseBool(c.DefaultQuery("async", "false"))
	if err != nil { // ?async=maybe ran a whole rotation synchronously
		s.abortCode(c, vault.CodeInvalidArgument, "async must be true or false")
		return
	}
	job, err := s.vault.Keys().StartRotation(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	type outcome struct {
		res vault.RotationResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := job.Run(s.background, vault.RunOptions{})
		if err != nil {
			s.log.Error("key rotation stopped", "rotation", job.ID(), "err", err)
		}
		done <- outcome{res, err}
	}()
	if async || c.GetHeader("Prefer") == "respond-async" {
		c.JSON(http.StatusAccepted, gin.H{"job_id": job.ID(), "new_version": job.NewVersion(), "resumed": job.Resumed()})
		return
	}
	select {
	case o := <-done:
		if o.err != nil {
			s.abortWith(c, o.err)
			return
		}
		setAuditSeq(c, o.res.AuditSeq)
		c.JSON(http.StatusOK, toRotationResultDTO(o.res))
	case <-c.Request.Context().Done():
		// The client left; the rotation goes on and its job records the outcome.
	}
}

func (s *Server) getRotationJob(c *gin.Context, a vault.Access) {
	st, seq, err := s.vault.Keys().RotationStatus(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, toJobStatusDTO(st))
}

// getKeys shows the KEK versions (never key material), the last key check and the latest rotation.
func (s *Server) getKeys(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	st, err := s.vault.Keys().KeyStatus(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, st.AuditSeq)
	c.JSON(http.StatusOK, toKeyStatusDTO(st))
}
