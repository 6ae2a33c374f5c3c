package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/vault"
)

// The audit log as a C2SP tlog-tiles log (API.md "Audit"): GET /audit/checkpoint (the signed note, text),
// GET /audit/tile/{L}/{N}[.p/{W}] (hash tiles) and GET /audit/tile/entries/{N}[.p/{W}] (entry bundles), so
// that an auditor verifies the trail with off-the-shelf code (golang.org/x/mod/sumdb/tlog, or any
// tlog-tiles client) instead of trusting this server.

func (s *Server) getLogCheckpoint(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	note, err := s.vault.Review().SignedCheckpoint(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", note)
}

func (s *Server) getLogTile(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rest := strings.TrimPrefix(c.Param("path"), "/")
	entries := strings.HasPrefix(rest, "entries/")
	if entries {
		rest = "data/" + strings.TrimPrefix(rest, "entries/")
	}
	t, err := tlog.ParseTilePath("tile/8/" + rest)
	if err != nil || t.H != vault.TileHeight {
		s.abortCode(c, vault.CodeNotFound, "no such tile")
		return
	}
	width := t.W
	if width == 1<<vault.TileHeight {
		width = 0
	}
	var data []byte
	if entries {
		var seq int64
		data, seq, err = s.vault.Review().EntryBundle(c.Request.Context(), a, t.N, width)
		if err == nil {
			setAuditSeq(c, seq)
		}
	} else {
		data, err = s.vault.Review().HashTile(c.Request.Context(), a, int64(t.L), t.N, width)
	}
	if err != nil {
		s.abortWith(c, err)
		return
	}
	// A hash tile never changes, full or partial (a wider partial one has another path): tlog-tiles asks for
	// long-lived caching. Entry bundles are never cached — every read of the entries is recorded, so each
	// must reach the server — and are compressed for a client that accepts it, as tlog-tiles advises.
	if !entries {
		c.Header("Cache-Control", "private, max-age=31536000, immutable")
		c.Data(http.StatusOK, "application/octet-stream", data)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Vary", "Accept-Encoding")
	if acceptsGzip(c.GetHeader("Accept-Encoding")) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(data); err == nil && zw.Close() == nil {
			c.Header("Content-Encoding", "gzip")
			data = b.Bytes()
		}
	}
	c.Data(http.StatusOK, "application/octet-stream", data)
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (not with q=0).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// consistencyResponse is GET /v1/audit/consistency's body: base64 hashes of the RFC 6962 proof.
type consistencyResponse struct {
	From   int64    `json:"from"`
	To     int64    `json:"to"`
	Hashes []string `json:"hashes"`
}

func (s *Server) auditConsistency(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	from, err1 := strconv.ParseInt(c.Query("from"), 10, 64)
	to, err2 := strconv.ParseInt(c.Query("to"), 10, 64)
	if err1 != nil || err2 != nil {
		s.abortCode(c, vault.CodeInvalidArgument, "from and to must be tree sizes")
		return
	}
	p, err := s.vault.Review().Consistency(c.Request.Context(), a, from, to)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	out := consistencyResponse{From: p.From, To: p.To, Hashes: make([]string, len(p.Hashes))}
	for i, h := range p.Hashes {
		out.Hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	c.JSON(http.StatusOK, out)
}
