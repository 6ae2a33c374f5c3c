package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/vault"
)

type eventsEnvelope struct {
	Events []json.RawMessage `json:"events"`
}

// postEvents collects events: JSON {"events": [...]} or NDJSON. A bad event is rejected with its index and
// a stable code and never drops the good ones; 400 only when the envelope itself cannot be parsed.
func (s *Server) postEvents(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.abortCode(c, vault.CodePayloadTooLarge, "request body too large")
			return
		}
		s.abortCode(c, vault.CodeInvalidArgument, "could not read the request body")
		return
	}
	lines := body
	if c.ContentType() != "application/x-ndjson" {
		var env eventsEnvelope
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&env); err != nil || env.Events == nil {
			s.abortCode(c, vault.CodeInvalidArgument, `body must be {"events": [...]} or NDJSON with Content-Type application/x-ndjson`)
			return
		}
		var buf bytes.Buffer
		for _, raw := range env.Events {
			var compact bytes.Buffer
			if json.Compact(&compact, raw) != nil {
				compact.WriteString("{")
			}
			buf.Write(compact.Bytes())
			buf.WriteByte('\n')
		}
		lines = buf.Bytes()
	}
	var inputs []vault.EventInput
	var index []int // position in the request of each input
	// Rejections carry the event's index in this request; an empty list is sent as [].
	res := vault.IngestResult{Rejected: []vault.EventRejection{}}
	r := ingest.NewReader(bytes.NewReader(lines), ingest.KindEvents, "ndjson")
	for i := 0; ; i++ {
		row, more := r.Next()
		if !more {
			break
		}
		if row.Err != nil {
			var re *ingest.RowError
			reason := "malformed_json"
			if errors.As(row.Err, &re) {
				reason = re.Reason
			}
			res.Rejected = append(res.Rejected, vault.EventRejection{Index: i, Error: reason})
			continue
		}
		if rerr := ingest.ValidateEvent(row.Event); rerr != nil {
			res.Rejected = append(res.Rejected, vault.EventRejection{Index: i, Error: rerr.Reason})
			continue
		}
		e := row.Event
		inputs = append(inputs, vault.EventInput{EventID: e.EventID, SubjectRef: e.SubjectRef, Type: e.Type, TS: e.TS, Source: e.Source, Attrs: e.Attrs})
		index = append(index, i)
	}
	out, err := s.vault.Ingestion().IngestEvents(c.Request.Context(), a, inputs)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	res.Accepted, res.Duplicates = out.Accepted, out.Duplicates
	for _, rj := range out.Rejected {
		res.Rejected = append(res.Rejected, vault.EventRejection{Index: index[rj.Index], Error: rj.Error})
	}
	// Those the envelope check refused and those the vault refused, in the order of the events.
	slices.SortFunc(res.Rejected, func(a, b vault.EventRejection) int { return cmp.Compare(a.Index, b.Index) })
	setAuditSeq(c, out.AuditSeq)
	c.JSON(http.StatusOK, toIngestResultDTO(res))
}
