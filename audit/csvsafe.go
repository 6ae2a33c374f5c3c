package audit

import (
	"encoding/csv"
	"io"
)

// CSVWriter is the one CSV writer the vault uses for anything a spreadsheet may open (audit exports, a
// subject's export package): it neutralises formula injection by OWASP's rule — a cell that begins with
// '=', '+', '-', '@', a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows it
// as text instead of evaluating it.
type CSVWriter struct {
	w   *csv.Writer
	buf []string // reused for the neutralised record
}

// NewCSVWriter returns a CSVWriter on w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one record, neutralised.
func (c *CSVWriter) Write(record []string) error {
	c.buf = c.buf[:0]
	for _, cell := range record {
		c.buf = append(c.buf, NeutralizeCell(cell))
	}
	return c.w.Write(c.buf)
}

// Flush writes out what is buffered and reports any write error.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// NeutralizeCell prefixes a formula-leading cell with a single quote (see CSVWriter).
func NeutralizeCell(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
