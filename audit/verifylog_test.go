package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
)

// memLog is a log kept in memory: entries, tiles by C2SP path and signed checkpoints, as a driver stores
// them; tests edit them to tamper.
type memLog struct {
	entries [][]byte
	tiles   map[string][]byte
	cps     []audit.StoredCheckpoint
}

func (m *memLog) Size() int64 { return int64(len(m.entries)) }
func (m *memLog) Entry(seq int64) ([]byte, error) {
	return m.entries[seq-1], nil
}
func (m *memLog) Scan(from int64, fn func(int64, []byte) error) error {
	buf := make([]byte, 0, 1024) // reused, as drivers do
	for i := from - 1; i < int64(len(m.entries)); i++ {
		buf = append(buf[:0], m.entries[i]...)
		if err := fn(i+1, buf); err != nil {
			return err
		}
	}
	return nil
}
func (m *memLog) ReadTile(path string) ([]byte, error) {
	if b, ok := m.tiles[path]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no tile %s", path)
}
func (m *memLog) Checkpoint() ([]byte, error) { return m.cps[len(m.cps)-1].Note, nil }
func (m *memLog) Checkpoints() ([]audit.StoredCheckpoint, error) {
	return m.cps, nil
}

// buildMemLog chains n entries and stores the tiles and a signed checkpoint at each size in cps, as a
// writer would.
func buildMemLog(t *testing.T, s *audit.Signer, n int, cps []int64) *memLog {
	t.Helper()
	m := &memLog{tiles: map[string][]byte{}}
	m.entries, _ = logtest.Chain(0, audit.GenesisHash, n)
	var tree audit.Tree
	done := 0
	for _, size := range cps {
		in := tree.Integrate(m.entries[done:size])
		done = int(size)
		for _, td := range append(in.Tiles, tree.Edge()...) {
			m.tiles[td.Path()] = td.Data
		}
		note, err := s.Sign(size, tree.Frontier.Root())
		if err != nil {
			t.Fatal(err)
		}
		m.cps = append(m.cps, audit.StoredCheckpoint{Size: size, Note: note})
	}
	return m
}

// flip returns a copy of b with its first bit flipped.
func flip(b []byte) []byte {
	out := slices.Clone(b)
	out[0] ^= 1
	return out
}

// VerifyLog checks the log in chunks on every core and builds the tree in order: tampering anywhere —
// at the first or last entry of a chunk, in a chunk whose memory is being reused, right at a checkpoint
// — is found at the first bad sequence number, as a check one entry at a time finds it.
func TestVerifyLogAcrossChunks(t *testing.T) {
	s := logtest.NewSigner(t)
	const n = 5*4096 + 100
	cps := []int64{1000, 4096, 4097, 9000, 12288, n}
	edit := func(e []byte) []byte { return bytes.Replace(e, []byte(`"allow"`), []byte(`"deny"`), 1) }
	for _, c := range []struct {
		name   string
		tamper func(m *memLog)
		want   int64
		cps    []int64 // checkpoints if not the default ones
	}{
		{"intact", func(*memLog) {}, 0, nil},
		// The root at 4097 covers the edit before the next entry's broken chain is reached.
		{"edited first entry of a chunk, at a checkpoint", func(m *memLog) { m.entries[4096] = edit(m.entries[4096]) }, 4097, nil},
		// The next entry still holds the hash the edited one had: the edited one is named, not the next.
		{"edited entry mid-chunk", func(m *memLog) { m.entries[9499] = edit(m.entries[9499]) }, 9500, nil},
		// The entry bundle 7937..8192 completes with the edited entry and differs from the stored one at it.
		{"edited last entry of a chunk", func(m *memLog) { m.entries[8191] = edit(m.entries[8191]) }, 8192, nil},
		// Past the newest checkpoint no tile or root is compared: only the chain from the chunk before
		// catches this one.
		{"first entry of a chunk chained elsewhere", func(m *memLog) {
			e := m.entries[8192]
			m.entries[8192] = append(e[:len(e)-66:len(e)-66], audit.GenesisHash+`"}`...)
		}, 8193, []int64{1000, 4096}},
		// Past the newest checkpoint, at a chunk's end: the next chunk's first entry still holds the hash
		// the edited one had, so the edited one is named.
		{"edited last entry of a chunk past the checkpoints", func(m *memLog) { m.entries[8191] = edit(m.entries[8191]) }, 8192, []int64{1000, 4096}},
		{"swapped entries", func(m *memLog) { m.entries[11999], m.entries[12000] = m.entries[12000], m.entries[11999] }, 12000, nil},
		{"deleted entry across chunks", func(m *memLog) { m.entries = slices.Delete(m.entries, 16383, 16384) }, 16384, nil},
		{"truncated tail", func(m *memLog) { m.entries = m.entries[:n-10] }, n - 9, nil},
		{"edited tile", func(m *memLog) { m.tiles["tile/0/040"] = flip(m.tiles["tile/0/040"]) }, 40*256 + 1, nil},
		{"edited entry bundle", func(m *memLog) { m.tiles["tile/entries/030"] = flip(m.tiles["tile/entries/030"]) }, 30*256 + 1, nil},
		{"edited partial bundle of the newest checkpoint", func(m *memLog) {
			m.tiles["tile/entries/080.p/100"] = flip(m.tiles["tile/entries/080.p/100"])
		}, 80*256 + 1, nil},
		{"edited upper tile", func(m *memLog) { m.tiles["tile/1/000.p/80"] = flip(m.tiles["tile/1/000.p/80"]) }, 1, nil},
		// Its 41st hash covers entries 10241–10496: the tile parts from the entries there, not at its first.
		{"edited hash mid upper tile", func(m *memLog) {
			tile := slices.Clone(m.tiles["tile/1/000.p/80"])
			tile[40*32] ^= 1
			m.tiles["tile/1/000.p/80"] = tile
		}, 40*256 + 1, nil},
		{"missing tile", func(m *memLog) { delete(m.tiles, "tile/0/020") }, 20*256 + 1, nil},
		// A root the entries do not give names the first entry it could be about: after the last checkpoint
		// they still give (9000), as a rewrite with its chain rebuilt would show.
		{"bad checkpoint root", func(m *memLog) {
			note, _ := s.Sign(12288, [32]byte{1})
			m.cps[4].Note = note
		}, 9001, nil},
		// A second tree of one size, signed with the log's key: a fork (the later one overwrote the first,
		// and verify said ok).
		{"two checkpoints of one size", func(m *memLog) {
			note, _ := s.Sign(9000, [32]byte{2})
			m.cps = slices.Insert(m.cps, 3, audit.StoredCheckpoint{Size: 9000, Note: note}) // ahead of the genuine one
		}, 9000, nil},
		// The newest checkpoints deleted (as a history rewritten after them needs): the entries past the
		// newest one left span hours where the writer signs within seconds (verify said ok with the pinned
		// key). The test entries are a second apart.
		{"newest checkpoints deleted", func(m *memLog) { m.cps = m.cps[:2] }, 4097, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			sizes := cps
			if c.cps != nil {
				sizes = c.cps
			}
			m := buildMemLog(t, s, n, sizes)
			c.tamper(m)
			rep, err := audit.VerifyLog(m, s.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			if c.want == 0 {
				if !rep.OK || rep.Entries != n || rep.Checkpoints != len(sizes) {
					t.Fatalf("intact log: %+v", rep)
				}
				if want := audit.ChainHash(m.entries[n-1]); rep.Head != want {
					t.Fatalf("head %s, want %s", rep.Head, want)
				}
				return
			}
			if rep.OK || rep.FirstBadSeq != c.want {
				t.Fatalf("first bad seq %d (%s), want %d", rep.FirstBadSeq, rep.Reason, c.want)
			}
		})
	}
}

// The last moments before a crash are left uncovered (the writer signs within seconds of any entry): a tail
// that spans less than audit.MaxUncoveredSpan verifies.
func TestVerifyLogAcceptsACrashedWritersTail(t *testing.T) {
	s := logtest.NewSigner(t)
	const n = 3000
	m := buildMemLog(t, s, n, []int64{1000, n - 20}) // 20 entries a second apart
	if rep, err := audit.VerifyLog(m, s.Verifier()); err != nil || !rep.OK || rep.Entries != n {
		t.Fatalf("a log with an uncovered tail of 20 s: %+v %v", rep, err)
	}
}

// memIndex is a review index in memory: rows by seq, a row's duplicates in dup.
type memIndex struct {
	rows map[int64]audit.IndexRow
	dup  map[int64]int
}

func (x memIndex) IndexRows(_ context.Context, lo, hi int64) (audit.IndexCursor, error) {
	var c memCursor
	for seq := lo; seq <= hi; seq++ {
		if row, ok := x.rows[seq]; ok {
			for range 1 + x.dup[seq] {
				c.seqs, c.rows = append(c.seqs, seq), append(c.rows, row)
			}
		}
	}
	return &c, nil
}

func (x memIndex) FirstIndexRowAfter(_ context.Context, seq int64) (int64, bool, error) {
	first, ok := int64(0), false
	for s := range x.rows {
		if s > seq && (!ok || s < first) {
			first, ok = s, true
		}
	}
	return first, ok, nil
}

type memCursor struct {
	seqs []int64
	rows []audit.IndexRow
}

func (c *memCursor) Next() (int64, audit.IndexRow, bool, error) {
	if len(c.seqs) == 0 {
		return 0, audit.IndexRow{}, false, nil
	}
	seq, row := c.seqs[0], c.rows[0]
	c.seqs, c.rows = c.seqs[1:], c.rows[1:]
	return seq, row, true, nil
}

func (c *memCursor) Close() error { return nil }

// VerifyTrail checks index rows chunk by chunk on every core and carries what it found across chunks:
// rows may end (lag) anywhere, but a row after a gap — inside a chunk or chunks later — names the first
// entry hidden from review, and the first bad seq of log and index together is reported.
func TestVerifyLogIndexAcrossChunks(t *testing.T) {
	s := logtest.NewSigner(t)
	const n = 5*4096 + 100
	cps := []int64{1000, 4096, 12288, n}
	edit := func(e []byte) []byte { return bytes.Replace(e, []byte(`"allow"`), []byte(`"deny"`), 1) }
	build := func(t *testing.T) (*memLog, memIndex) {
		m := buildMemLog(t, s, n, cps)
		ix := memIndex{rows: map[int64]audit.IndexRow{}, dup: map[int64]int{}}
		for i, e := range m.entries {
			row, err := audit.IndexOfCanonical(e)
			if err != nil {
				t.Fatal(err)
			}
			ix.rows[int64(i+1)] = row
		}
		return m, ix
	}
	drop := func(ix memIndex, lo, hi int64) {
		for seq := lo; seq <= hi; seq++ {
			delete(ix.rows, seq)
		}
	}
	relabel := func(ix memIndex, seq int64) {
		row := ix.rows[seq]
		row.Decision = audit.Deny
		ix.rows[seq] = row
	}
	for _, c := range []struct {
		name    string
		tamper  func(m *memLog, ix memIndex)
		want    int64 // first bad seq; 0 for a log that verifies
		indexed int64 // with want 0: how far the rows reach
	}{
		{"whole index", func(*memLog, memIndex) {}, 0, n},
		{"lag mid-chunk", func(_ *memLog, ix memIndex) { drop(ix, 10001, n) }, 0, 10000},
		{"lag from a chunk boundary", func(_ *memLog, ix memIndex) { drop(ix, 8193, n) }, 0, 8192},
		{"no index yet", func(_ *memLog, ix memIndex) { drop(ix, 1, n) }, 0, 0},
		{"row missing mid-chunk", func(_ *memLog, ix memIndex) { delete(ix.rows, 5000) }, 5000, 0},
		{"row duplicated mid-chunk", func(_ *memLog, ix memIndex) { ix.dup[5000] = 1 }, 5000, 0},
		{"last row of a chunk duplicated", func(_ *memLog, ix memIndex) { ix.dup[8192] = 2 }, 8192, 0},
		{"last row duplicated", func(_ *memLog, ix memIndex) { ix.dup[n] = 1 }, n, 0},
		{"row past the log", func(_ *memLog, ix memIndex) { ix.rows[n+5] = ix.rows[n] }, n + 5, 0},
		{"a chunk's rows missing", func(_ *memLog, ix memIndex) { drop(ix, 4097, 8192) }, 4097, 0},
		{"rows end, then start again chunks later", func(_ *memLog, ix memIndex) { drop(ix, 5001, 9000) }, 5001, 0},
		{"rows end at a chunk's end, then start again mid-chunk", func(_ *memLog, ix memIndex) { drop(ix, 8193, 15000) }, 8193, 0},
		{"relabelled row", func(_ *memLog, ix memIndex) { relabel(ix, 12000) }, 12000, 0},
		{"relabelled row before an edited entry", func(m *memLog, ix memIndex) {
			m.entries[9499] = edit(m.entries[9499])
			ix.rows[9500] = must(audit.IndexOfCanonical(m.entries[9499]))
			relabel(ix, 9400)
		}, 9400, 0},
		{"edited entry before a relabelled row", func(m *memLog, ix memIndex) {
			m.entries[9499] = edit(m.entries[9499])
			ix.rows[9500] = must(audit.IndexOfCanonical(m.entries[9499]))
			relabel(ix, 9600)
		}, 9500, 0}, // the edited entry itself: 9501 still holds the hash 9500 had
	} {
		t.Run(c.name, func(t *testing.T) {
			m, ix := build(t)
			c.tamper(m, ix)
			rep, err := audit.VerifyTrail(context.Background(), m, s.Verifier(), ix)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == 0 {
				if !rep.OK || rep.Entries != n || rep.Indexed != c.indexed {
					t.Fatalf("got %+v, want OK with %d indexed", rep, c.indexed)
				}
				return
			}
			if rep.OK || rep.FirstBadSeq != c.want {
				t.Fatalf("first bad seq %d (%s), want %d", rep.FirstBadSeq, rep.Reason, c.want)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
