package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
)

func testSigner(t testing.TB) *audit.Signer {
	t.Helper()
	skey, vkey, err := audit.GenerateSignerKey("test.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewSigner(skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildTrail writes n entries with a checkpoint every 10, closes the store and returns the database path.
func buildTrail(t *testing.T, signer *audit.Signer, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := Open(t.Context(), path, Options{Signer: signer, CheckpointEvery: 10, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyDB(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		in, err := os.Open(src + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func verifyFile(t *testing.T, path string, signer *audit.Signer) audit.Report {
	t.Helper()
	tr, err := OpenTrail(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rep, err := audit.Verify(t.Context(), tr, signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyDetectsAndLocatesTampering(t *testing.T) {
	signer := testSigner(t)
	orig := buildTrail(t, signer, 55)
	if rep := verifyFile(t, orig, signer); !rep.OK || rep.Entries != 55 || rep.Checkpoints != 5 {
		t.Fatalf("untouched trail: %+v", rep)
	}
	exec := func(t *testing.T, db *sql.DB, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rowOf := func(t *testing.T, db *sql.DB, seq int64) ([]byte, string) {
		var e []byte
		var h string
		if err := db.QueryRow(`SELECT entry, hash FROM audit_log WHERE seq = ?`, seq).Scan(&e, &h); err != nil {
			t.Fatal(err)
		}
		return e, h
	}
	other := testSigner(t)
	cases := []struct {
		name     string
		tamper   func(t *testing.T, db *sql.DB)
		firstBad int64
		reason   string
	}{
		{"change one byte of an entry", func(t *testing.T, db *sql.DB) {
			e, _ := rowOf(t, db, 17)
			e = []byte(strings.Replace(string(e), "subject.read", "subject.reae", 1))
			exec(t, db, `UPDATE audit_log SET entry = ? WHERE seq = 17`, e)
		}, 17, "content changed"},
		{"change an entry and its hash column", func(t *testing.T, db *sql.DB) {
			e, _ := rowOf(t, db, 17)
			e = []byte(strings.Replace(string(e), `"status":200`, `"status":403`, 1))
			exec(t, db, `UPDATE audit_log SET entry = ?, hash = ? WHERE seq = 17`, e, audit.ChainHash(e))
		}, 17, "Merkle tree hash"},
		{"delete an entry", func(t *testing.T, db *sql.DB) {
			exec(t, db, `DELETE FROM audit_log WHERE seq = 23`)
		}, 23, "missing"},
		{"swap two entries", func(t *testing.T, db *sql.DB) {
			e30, h30 := rowOf(t, db, 30)
			e31, h31 := rowOf(t, db, 31)
			exec(t, db, `UPDATE audit_log SET entry = ?, hash = ? WHERE seq = 30`, e31, h31)
			exec(t, db, `UPDATE audit_log SET entry = ?, hash = ? WHERE seq = 31`, e30, h30)
		}, 30, "sequence number"},
		{"insert one", func(t *testing.T, db *sql.DB) {
			_, h40 := rowOf(t, db, 40)
			exec(t, db, `UPDATE audit_log SET seq = seq + 1000 WHERE seq > 40`)
			exec(t, db, `UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000`)
			forged := audit.Entry{Seq: 41, TS: time.Now(), Action: "subject.read", Decision: audit.Allow, Status: 200, PrevHash: h40}
			canon, _ := forged.Canonical()
			exec(t, db, `INSERT INTO audit_log (seq, ts, action, decision, entry, hash) VALUES (41, '', 'subject.read', 'allow', ?, ?)`, canon, audit.ChainHash(canon))
		}, 41, "Merkle tree hash"},
		{"relabel an entry's decision in the review index", func(t *testing.T, db *sql.DB) {
			exec(t, db, `UPDATE audit_log SET decision = CASE decision WHEN 'allow' THEN 'deny' ELSE 'allow' END WHERE seq = 12`)
		}, 12, "index column decision"},
		{"hide an entry from a subject's review", func(t *testing.T, db *sql.DB) {
			exec(t, db, `UPDATE audit_log SET subject_ref = 'ps_someone_else' WHERE seq = 14`)
		}, 14, "index column subject_ref"},
		{"relabel the actor, purpose, action or time", func(t *testing.T, db *sql.DB) {
			exec(t, db, `UPDATE audit_log SET purpose = 'marketing' WHERE seq = 15`)
			exec(t, db, `UPDATE audit_log SET actor = 'nobody', action = 'x', ts = '2001-01-01T00:00:00.000000000Z' WHERE seq = 16`)
		}, 15, "index column purpose"},
		{"truncate the tail behind the last checkpoint", func(t *testing.T, db *sql.DB) {
			exec(t, db, `DELETE FROM audit_log WHERE seq > 45`)
		}, 46, "truncated"},
		{"forge a checkpoint", func(t *testing.T, db *sql.DB) {
			signed, err := other.Sign(30, tlog.Hash{1})
			if err != nil {
				t.Fatal(err)
			}
			exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE size = 30`, signed)
		}, 30, "checkpoint at size 30"},
		{"alter a checkpoint's root", func(t *testing.T, db *sql.DB) {
			var note []byte
			if err := db.QueryRow(`SELECT note FROM audit_checkpoints WHERE size = 20`).Scan(&note); err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(string(note), "\n", 4)
			lines[2] = base64.StdEncoding.EncodeToString(make([]byte, 32))
			exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE size = 20`, []byte(strings.Join(lines, "\n")))
		}, 20, "checkpoint at size 20"},
		{"rewrite the chain from an entry on", func(t *testing.T, db *sql.DB) {
			// The attacker rewrites entry 33 and re-chains everything after it, tree included; only the
			// signed checkpoint at 40 can tell.
			rewriteFrom(t, db, 33)
		}, 40, "Merkle root differs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := copyDB(t, orig)
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, db)
			db.Close()
			rep := verifyFile(t, path, signer)
			if rep.OK || rep.FirstBadSeq != tc.firstBad || !strings.Contains(rep.Reason, tc.reason) {
				t.Fatalf("got ok=%v first_bad_seq=%d reason=%q; want %d containing %q", rep.OK, rep.FirstBadSeq, rep.Reason, tc.firstBad, tc.reason)
			}
		})
	}
	// With the wrong verifier key, the first checkpoint fails.
	if rep := verifyFile(t, orig, other); rep.OK || rep.FirstBadSeq != 10 {
		t.Fatalf("wrong key: %+v", rep)
	}
}

// rewriteFrom changes entry `from` and recomputes every later entry, chain hash and tree hash, as an
// attacker with database access (but without the checkpoint key) would.
func rewriteFrom(t *testing.T, db *sql.DB, from int64) {
	t.Helper()
	rows, err := db.Query(`SELECT seq, entry FROM audit_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		seq   int64
		entry audit.Entry
	}
	var all []row
	for rows.Next() {
		var r row
		var canon []byte
		if err := rows.Scan(&r.seq, &canon); err != nil {
			t.Fatal(err)
		}
		if err := jsonUnmarshal(canon, &r.entry); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	rows.Close()
	var front audit.Frontier
	prev := audit.GenesisHash
	for _, r := range all {
		e := r.entry
		if r.seq == from {
			e.Decision = audit.Deny
		}
		e.PrevHash = prev
		canon, _ := e.Canonical()
		leaf := audit.LeafHash(canon)
		for k, h := range front.Append(leaf) {
			if _, err := db.Exec(`UPDATE audit_tree SET hash = ? WHERE idx = ?`, h[:], tlog.StoredHashCount(r.seq-1)+int64(k)); err != nil {
				t.Fatal(err)
			}
		}
		// The index column goes along with the entry, or verify would stop at the first rewritten entry.
		if _, err := db.Exec(`UPDATE audit_log SET entry = ?, hash = ?, decision = ? WHERE seq = ?`, canon, audit.HexHash(leaf), string(e.Decision), r.seq); err != nil {
			t.Fatal(err)
		}
		prev = audit.HexHash(leaf)
	}
}

func TestInclusionProofsCheckAgainstCheckpoint(t *testing.T) {
	signer := testSigner(t)
	path := buildTrail(t, signer, 37)
	tr, err := OpenTrail(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sc, err := tr.LatestCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(sc.Note, signer.Verifier())
	if err != nil || cp.Size != 30 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	for seq := int64(1); seq <= cp.Size; seq++ {
		leaf, err := tr.Leaf(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tlog.ProveRecord(cp.Size, seq-1, tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, cp.Size, cp.Root, seq-1, tlog.RecordHash(leaf)); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if seq == 7 {
			if tlog.CheckRecord(p, cp.Size, cp.Root, seq-1, tlog.RecordHash(append(leaf, ' '))) == nil {
				t.Fatal("a changed entry passed its proof")
			}
		}
	}
}

func TestFrontierSurvivesRestart(t *testing.T) {
	signer := testSigner(t)
	path := filepath.Join(t.TempDir(), "vault.db")
	for round := 0; round < 3; round++ {
		s, err := Open(t.Context(), path, Options{Signer: signer, CheckpointEvery: 7, CheckpointInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 13; i++ {
			if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	if rep := verifyFile(t, path, signer); !rep.OK || rep.Entries != 39 {
		t.Fatalf("after restarts: %+v", rep)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
