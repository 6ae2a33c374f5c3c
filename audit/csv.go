package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the column order of CSV exports of the trail.
var CSVHeader = []string{"seq", "ts", "request_id", "actor_sub", "actor_pseudonym", "actor_roles", "actor_team", "purpose",
	"action", "subject_ref", "categories", "fields_requested", "fields_granted", "fields_withheld", "decision", "reason",
	"consent_ids", "status", "policy_hash", "client_ref", "justification_hash", "prev_hash",
	// Added after the first release, at the end so that the columns before keep their places.
	"v", "actor_token_id", "decision_inputs", "client_request_ref", "grant_id", "recipient", "intent"}

// CSVRecord renders e in CSVHeader's column order; lists are space-separated. Every member of the
// canonical entry has its column (TestCSVHasEveryMember).
func (e Entry) CSVRecord() []string {
	j := func(s []string) string { return strings.Join(s, " ") }
	intent := ""
	if e.Intent != 0 {
		intent = strconv.FormatInt(e.Intent, 10)
	}
	return []string{strconv.FormatInt(e.Seq, 10), e.TS.UTC().Format(time.RFC3339Nano), e.RequestID, e.Actor.Sub, e.Actor.Pseudonym,
		j(e.Actor.Roles), e.Actor.Team, e.Purpose, e.Action, e.SubjectRef, j(e.Categories), j(e.FieldsRequested),
		j(e.FieldsGranted), j(e.FieldsWithheld), string(e.Decision), e.Reason, j(e.ConsentIDs), strconv.Itoa(e.Status),
		e.PolicyHash, e.ClientRef, e.JustificationHash, e.PrevHash,
		strconv.Itoa(e.Version), e.Actor.TokenID, j(e.DecisionInputs), e.ClientRequestRef, e.GrantID, e.Recipient, intent}
}

// ExportWriter writes entries as NDJSON (each line an entry's canonical bytes, so it can be re-hashed and
// checked against proofs) or CSV (CSVHeader columns), buffered.
type ExportWriter struct {
	format string
	bw     *bufio.Writer
	cw     *CSVWriter
}

// NewExportWriter starts an export in format "ndjson" or "csv" (a CSV export begins with its header).
func NewExportWriter(w io.Writer, format string) (*ExportWriter, error) {
	if format != "ndjson" && format != "csv" {
		return nil, errors.New("format must be ndjson or csv")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	x := &ExportWriter{format: format, bw: bw, cw: NewCSVWriter(bw)}
	if format == "csv" {
		if err := x.cw.Write(CSVHeader); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// Write adds one entry given its canonical bytes.
func (x *ExportWriter) Write(canonical []byte) error {
	if x.format == "ndjson" {
		if _, err := x.bw.Write(canonical); err != nil {
			return err
		}
		return x.bw.WriteByte('\n')
	}
	var e Entry
	if err := json.Unmarshal(canonical, &e); err != nil {
		return err
	}
	return x.cw.Write(e.CSVRecord())
}

// Flush writes out what is buffered.
func (x *ExportWriter) Flush() error {
	return errors.Join(x.cw.Flush(), x.bw.Flush())
}
