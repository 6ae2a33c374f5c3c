package seglog

import (
	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
)

// Verify checks the log from its segments, checkpoints and tile files (audit.VerifyLog).
func (l *Log) Verify(v note.Verifier) (audit.Report, error) { return audit.VerifyLog(l, v) }
