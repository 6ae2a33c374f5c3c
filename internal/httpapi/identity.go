package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// Identity stewardship (data steward, purpose account_management): automatic merges and their revert, the
// review queue of weak matches, and the stored data-quality reports of imports.

func (s *Server) getMerges(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	limit, ok := s.limitParam(c, vault.MaxStewardshipPage)
	if !ok {
		return
	}
	page, err := s.vault.Stewardship().Merges(c.Request.Context(), a, c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	c.JSON(http.StatusOK, gin.H{"merges": dtos(page.Rows, toMergeRowDTO), "next_cursor": nextCursor(page.Next)})
}

// nextCursor is a page's next_cursor: null on the last page.
func nextCursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func (s *Server) postMergeRevert(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	res, err := s.vault.Stewardship().RevertMerge(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	c.JSON(http.StatusOK, toRevertResultDTO(res))
}

func (s *Server) getReviews(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	limit, ok := s.limitParam(c, vault.MaxStewardshipPage)
	if !ok {
		return
	}
	page, err := s.vault.Stewardship().Reviews(c.Request.Context(), a, c.DefaultQuery("state", "open"), c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	c.JSON(http.StatusOK, gin.H{"reviews": dtos(page.Rows, toReviewRowDTO), "next_cursor": nextCursor(page.Next)})
}

type decisionBody struct {
	Decision string `json:"decision"`
}

func (s *Server) postReviewDecision(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req decisionBody
	if !s.bindJSON(c, &req) {
		return
	}
	seq, err := s.vault.Stewardship().DecideReview(c.Request.Context(), a, c.Param("id"), req.Decision)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "state": req.Decision})
}

func (s *Server) getImportReports(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rows, seq, err := s.vault.Stewardship().ImportReports(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"reports": dtos(rows, toImportReportDTO)})
}
