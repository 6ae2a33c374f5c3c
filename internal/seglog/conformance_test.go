package seglog

import (
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
)

// TestConformance runs the log storage's conformance suite against the segment files.
func TestConformance(t *testing.T) {
	logtest.Run(t, logtest.Driver{Name: "seglog", New: func(t *testing.T, s *audit.Signer) func() audit.LogStorage {
		dir := t.TempDir()
		return func() audit.LogStorage {
			l, err := Open(dir, Options{Signer: s, SegmentSize: 16 << 10, CheckpointInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}})
}
