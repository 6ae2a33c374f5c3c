package audit

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// LogStorage persists the audit log for a store that numbers and chains entries itself (Assemble): it
// appends batches durably and serves back entries, the C2SP tlog-tiles hash tiles and entry bundles, and
// signed checkpoints. Tree math is Tree's, written once; a driver only persists what Tree gives it. The
// embedded default is internal/seglog (segment files); a database driver implements the same methods, and
// audit/logtest checks any of them against the same contract.
type LogStorage interface {
	LogAppender
	LogReader
	// Verify checks the whole log: the chain, each checkpoint's signature under v and its root, the tiles.
	Verify(v note.Verifier) (Report, error)
	// Close writes what is pending (tiles, a last checkpoint) and releases the storage.
	Close() error
}

// LogAppender is the write side of LogStorage.
type LogAppender interface {
	// AppendBatch appends canonical entries, the first numbered first, and returns once all of them are
	// durable. A batch that does not continue the log exactly — first is not Size()+1, or an entry is not
	// numbered and chained after the one before it — is refused whole with ErrOutOfOrder.
	AppendBatch(ctx context.Context, first int64, canons [][]byte) error
	// Head is the number of durable entries and the chain hash of the last (GenesisHash when empty): where
	// the sequencer continues.
	Head() (size int64, head string)
}

// LogReader is the read side of LogStorage.
type LogReader interface {
	// Size is the number of durable entries.
	Size() int64
	// Entry is the canonical entry numbered seq (1-based).
	Entry(seq int64) ([]byte, error)
	// Scan calls fn for every entry from seq from on, in order, until fn returns an error.
	Scan(from int64, fn func(seq int64, canonical []byte) error) error
	// ReadTile returns a hash tile or entry bundle by its C2SP path (tile/L/N[.p/W], tile/entries/N[.p/W]).
	ReadTile(path string) ([]byte, error)
	// Checkpoint is the newest signed checkpoint note; Checkpoints all of them, oldest first.
	Checkpoint() ([]byte, error)
	Checkpoints() ([]StoredCheckpoint, error)
}

// ErrOutOfOrder refuses a batch that does not continue the log (LogAppender.AppendBatch).
var ErrOutOfOrder = errors.New("audit: entries do not continue the log")

// ErrRefused is returned by a driver's Append for an entry whose admit check declined it in the sequencing
// step (the gate's ordering check): nothing was appended.
var ErrRefused = errors.New("audit: entry refused at sequencing")

// Continues reports whether canons, the first numbered first, follow an entry numbered seq with
// chain hash head; it returns the chain hash of the last and appends each entry's leaf hash to leaves.
func Continues(seq int64, head string, first int64, canons [][]byte, leaves []tlog.Hash) (string, []tlog.Hash, bool) {
	if first != seq+1 {
		return head, leaves, false
	}
	n := len(leaves)
	var scratch []byte
	for _, c := range canons {
		seq++
		if !HoldsSeq(c, seq, &scratch) || !ChainedTo(c, head) {
			return head, leaves[:n], false
		}
		leaf := LeafHash(c)
		leaves = append(leaves, leaf)
		head = HexHash(leaf)
	}
	return head, leaves, true
}

// HoldsSeq reports whether a canonical entry begins with its sequence number seq ({"seq":N,); scratch is
// reused so that the check allocates nothing.
func HoldsSeq(canonical []byte, seq int64, scratch *[]byte) bool {
	b := append((*scratch)[:0], `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ',')
	*scratch = b
	return bytes.HasPrefix(canonical, b)
}

// ChainedTo reports whether a canonical entry ends with prev_hash prev (,"prev_hash":"<prev>"}), without
// allocating.
func ChainedTo(canonical []byte, prev string) bool {
	const member = `,"prev_hash":"`
	n := len(canonical) - 2 - len(prev)
	return n >= len(member) && string(canonical[n-len(member):n]) == member &&
		string(canonical[n:n+len(prev)]) == prev && string(canonical[n+len(prev):]) == `"}`
}
