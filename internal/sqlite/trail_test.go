package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
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

// openStore opens a store at dir/vault.db with its log in dir/audit.
func openStore(t testing.TB, dir string, signer *audit.Signer) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(dir, "vault.db"), Options{Signer: signer, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildTrail writes n entries, closes the store (which signs a final checkpoint) and returns its directory.
func buildTrail(t *testing.T, signer *audit.Signer, n int) string {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir, signer)
	for i := 0; i < n; i++ {
		if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDir copies a store's directory (database and log).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func openTrail(t *testing.T, dir string) *Trail {
	t.Helper()
	tr, err := OpenTrail(filepath.Join(dir, "vault.db"), filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func verifyDir(t *testing.T, dir string, signer *audit.Signer) audit.Report {
	t.Helper()
	rep, err := openTrail(t, dir).Verify(t.Context(), signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// The review index is derived from the log and checked against it: an edited, deleted or invented row is
// located like any other tampering, and a query refuses to return an entry through a row that lies about
// it. (Tampering with the log itself is seglog's tests'; one case here shows verify runs them.)
func TestVerifyDetectsAndLocatesTampering(t *testing.T) {
	signer := testSigner(t)
	orig := buildTrail(t, signer, 55)
	if rep := verifyDir(t, orig, signer); !rep.OK || rep.Entries != 55 || rep.Indexed != 55 || rep.Checkpoints < 1 {
		t.Fatalf("untouched trail: %+v", rep)
	}
	exec := func(t *testing.T, db *sql.DB, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cases := []struct {
		name     string
		tamper   func(t *testing.T, dir string, db *sql.DB)
		firstBad int64
		reason   string
	}{
		{"relabel an entry's decision in the review index", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `UPDATE audit_index SET decision = CASE decision WHEN 'allow' THEN 'deny' ELSE 'allow' END WHERE seq = 12`)
		}, 12, "differs from its entry in decision"},
		{"hide an entry from a subject's review", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `UPDATE audit_index SET subject_ref = 'ps_someone_else' WHERE seq = 14`)
		}, 14, "in subject_ref"},
		{"relabel the actor, purpose, action or time", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `UPDATE audit_index SET purpose = 'marketing' WHERE seq = 15`)
			exec(t, db, `UPDATE audit_index SET actor = 'nobody', action = 'x', ts = '2001-01-01T00:00:00.000000000Z' WHERE seq = 16`)
		}, 15, "in purpose"},
		{"attach a read to an access grant it never used", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `UPDATE audit_index SET grant_id = 'grt_forged' WHERE seq = 17`)
		}, 17, "in grant_id"},
		{"delete an index row", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `DELETE FROM audit_index WHERE seq = 23`)
		}, 23, "hidden from review"},
		{"delete an index row in the second half", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `DELETE FROM audit_index WHERE seq = 41`)
		}, 41, "hidden from review"},
		{"delete rows across the middle", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `DELETE FROM audit_index WHERE seq BETWEEN 20 AND 40`)
		}, 20, "hidden from review"},
		{"invent an index row", func(t *testing.T, _ string, db *sql.DB) {
			exec(t, db, `INSERT INTO audit_index (seq, ts, action, decision) VALUES (56, '2026-01-01T00:00:00.000000000Z', 'subject.read', 'allow')`)
		}, 56, "no entry in the log"},
		{"change one byte of an entry in the log", func(t *testing.T, dir string, _ *sql.DB) {
			seg := filepath.Join(dir, "audit", "segments", "00000000000000000001.log")
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, []byte(strings.Replace(string(b), "subject.read", "subject.reae", 1)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, orig)
			db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "vault.db"))
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, dir, db)
			db.Close()
			rep := verifyDir(t, dir, signer)
			if rep.OK || rep.FirstBadSeq != tc.firstBad || !strings.Contains(rep.Reason, tc.reason) {
				t.Fatalf("got ok=%v first_bad_seq=%d reason=%q; want %d containing %q", rep.OK, rep.FirstBadSeq, rep.Reason, tc.firstBad, tc.reason)
			}
		})
	}
	// A review query reads entries from the log and refuses one whose row was edited.
	dir := copyDir(t, orig)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, `UPDATE audit_index SET decision = 'deny' WHERE seq = 9`)
	db.Close()
	if _, err := openTrail(t, dir).Query(t.Context(), audit.Filter{Decision: audit.Deny, Limit: 10}); !errors.Is(err, audit.ErrIndexTampered) {
		t.Fatalf("query through an edited row: %v", err)
	}
	// With the wrong verifier key, the first checkpoint fails.
	if rep := verifyDir(t, orig, testSigner(t)); rep.OK || !strings.Contains(rep.Reason, "checkpoint at size") {
		t.Fatalf("wrong key: %+v", rep)
	}
}

func TestInclusionProofsCheckAgainstCheckpoint(t *testing.T) {
	signer := testSigner(t)
	tr := openTrail(t, buildTrail(t, signer, 37))
	sc, err := tr.LatestCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(sc.Note, signer.Verifier())
	if err != nil || cp.Size != 37 {
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

func TestLogSurvivesRestart(t *testing.T) {
	signer := testSigner(t)
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		s := openStore(t, dir, signer)
		for i := 0; i < 13; i++ {
			if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	if rep := verifyDir(t, dir, signer); !rep.OK || rep.Entries != 39 || rep.Indexed != 39 || rep.Checkpoints < 3 {
		t.Fatalf("after restarts: %+v", rep)
	}
}

// failingCommit is a change whose transaction cannot commit: a deferred foreign key is violated, which
// SQLite reports only at COMMIT, after the change's intent is in the log.
func failingCommit(tx vault.Tx) error {
	t := tx.(*txn)
	if err := t.exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	return t.exec(`INSERT INTO deks (subject_id, class, version, kek_version, wrapped, created_at) VALUES ('no-such-subject', 'general', 1, 1, x'00', '')`)
}

// A change's entry is a write-ahead intent: durable in the log before the change commits. When the commit
// fails the intent is cancelled by an aborted entry at once; when the process stops between the two,
// recovery at the next start cancels it — once. Committed intents are never cancelled.
func TestIntentsOfUncommittedChangesAreAborted(t *testing.T) {
	signer := testSigner(t)
	dir := t.TempDir()
	s := openStore(t, dir, signer)
	ctx := t.Context()
	if _, err := s.Commit(ctx, func(vault.Tx) error { return nil }, entry("subject.update")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, failingCommit, entry("subject.update")); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("a failing commit: %v", err)
	}
	if _, err := s.Commit(ctx, nil, entry("subject.read")); err != nil {
		t.Fatalf("the writer did not recover from a failed commit: %v", err)
	}
	aborted := func(tr *Trail) []string {
		t.Helper()
		es, err := tr.Query(ctx, audit.Filter{Action: audit.ActionAborted, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Reason)
		}
		return out
	}
	if got := aborted(s.Trail); len(got) != 1 || got[0] != "intent:2 not committed" {
		t.Fatalf("after a failed commit: %v", got)
	}
	// Now a crash between the log and the database: the writer stops, an intent reaches the log, the
	// process dies before the database records it.
	close(s.stop)
	<-s.stopped
	e := entry("consent.withdraw")(nil)
	e.Intent = s.headSeq + 1
	canons, _, err := s.chain([]audit.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.auditLog.AppendBatch(ctx, s.headSeq+1, canons); err != nil {
		t.Fatal(err)
	}
	crashed := s.headSeq + 1
	if err := s.closeDBs(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s = openStore(t, dir, signer)
		if got := aborted(s.Trail); len(got) != 2 || got[0] != "intent:"+strconv.FormatInt(crashed, 10)+" not committed" {
			t.Fatalf("after restart %d: %v", round, got)
		}
		s.Close()
	}
	if rep := verifyDir(t, dir, signer); !rep.OK || rep.Entries != crashed+1 {
		t.Fatalf("verify: %+v", rep)
	}
}

// writeLegacyTrail writes n entries and a checkpoint at each of cps into the database's audit_log and
// audit_checkpoints, as the store kept its trail before the segment log.
func writeLegacyTrail(t *testing.T, dbPath string, signer *audit.Signer, n int, cps ...int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prev := audit.GenesisHash
	var front audit.Frontier
	for i := 1; i <= n; i++ {
		e := entry("subject.read")(nil)
		e.Seq, e.PrevHash, e.Version = int64(i), prev, 2
		canon, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		ix := audit.IndexOf(e)
		prev = audit.ChainHash(canon)
		if _, err := db.Exec(`INSERT INTO audit_log (seq, ts, action, subject_ref, actor, purpose, decision, entry, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, formatTime(ix.TS), ix.Action, ix.SubjectRef, ix.Actor, ix.Purpose, string(ix.Decision), canon, prev); err != nil {
			t.Fatal(err)
		}
		front.Append(audit.LeafHash(canon))
		for _, size := range cps {
			if size == int64(i) {
				signed, err := signer.Sign(size, front.Root())
				if err != nil {
					t.Fatal(err)
				}
				root := front.Root()
				if _, err := db.Exec(`INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)`, size, root[:], signed, formatTime(time.Now())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// A data dir from before the segment log moves its trail into the log on first start: entries, checkpoints
// (consistency from an old checkpoint still proves), and a review index rebuilt from the entries. A trail
// whose checkpoint does not sign its entries does not move, and the store does not open.
func TestLegacyTrailMovesIntoTheLog(t *testing.T) {
	signer := testSigner(t)
	dir := t.TempDir()
	openStore(t, dir, signer).Close() // the schema, as an older release left it (plus the new tables)
	if err := os.RemoveAll(filepath.Join(dir, "audit")); err != nil {
		t.Fatal(err)
	}
	bad := copyDir(t, dir)
	writeLegacyTrail(t, filepath.Join(dir, "vault.db"), signer, 300, 100, 256)
	writeLegacyTrail(t, filepath.Join(bad, "vault.db"), testSigner(t), 300, 100, 256)
	if _, err := Open(t.Context(), filepath.Join(bad, "vault.db"), Options{Signer: signer}); err == nil {
		t.Fatal("a trail signed by another key moved")
	}
	if names, _ := filepath.Glob(filepath.Join(bad, "audit", "segments", "*")); len(names) > 0 {
		t.Fatalf("a refused move left %v", names)
	}
	s := openStore(t, dir, signer)
	if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
		t.Fatal(err)
	}
	page, err := s.Query(t.Context(), audit.Filter{Limit: 500})
	if err != nil || len(page) != 301 || page[0].Seq != 301 || page[300].Seq != 1 {
		t.Fatalf("review after the move: %d entries, %v", len(page), err)
	}
	cps, err := s.Checkpoints(t.Context())
	if err != nil || len(cps) < 2 || cps[0].Size != 100 || cps[1].Size != 256 {
		t.Fatalf("checkpoints after the move: %+v %v", cps, err)
	}
	s.Close()
	tr := openTrail(t, dir)
	rep, err := tr.Verify(t.Context(), signer.Verifier())
	if err != nil || !rep.OK || rep.Entries != 301 || rep.Indexed != 301 {
		t.Fatalf("verify after the move: %+v %v", rep, err)
	}
	latest, err := tr.LatestCheckpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	newest, err := audit.OpenCheckpoint(latest.Note, signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	old, err := audit.OpenCheckpoint(cps[0].Note, signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	proof, err := tlog.ProveTree(newest.Size, old.Size, tr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(proof, newest.Size, newest.Root, old.Size, old.Root); err != nil {
		t.Fatalf("the old checkpoint is not consistent with the log: %v", err)
	}
}

// The review index is fed off the hot path, yet a query sees every entry acknowledged before it (it asks
// the writer to flush and waits); a query for an entry the log does not hold yet gives up with
// ErrIndexBehind after the wait.
func TestQueriesWaitForTheIndex(t *testing.T) {
	s := openStore(t, t.TempDir(), testSigner(t))
	defer s.Close()
	ctx := t.Context()
	for i := range 50 {
		seq, err := s.Commit(ctx, nil, entry("subject.read"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Query(ctx, audit.Filter{Limit: 1})
		if err != nil || len(got) != 1 || got[0].Seq != seq {
			t.Fatalf("round %d: the review does not show entry %d: %v %v", i, seq, got, err)
		}
	}
	if got, err := s.Query(ctx, audit.Filter{Limit: 100, MinSeq: 50}); err != nil || len(got) != 50 {
		t.Fatalf("min_seq 50: %d entries, %v", len(got), err)
	}
	s.index.limit = 50 * time.Millisecond
	if _, err := s.Query(ctx, audit.Filter{Limit: 1, MinSeq: 51}); !errors.Is(err, audit.ErrIndexBehind) {
		t.Fatalf("an entry not in the log yet: %v", err)
	}
	if lag := s.IndexLag(); lag != 0 {
		t.Fatalf("index lag %d after a query", lag)
	}
}

// Verify beside a running writer checks the trail as it was when the log was opened: entries appended
// since, with their index rows and checkpoints, are not "rows without an entry" nor "a checkpoint past the
// log" — and an invented row past every entry still is.
func TestVerifyBesideARunningWriter(t *testing.T) {
	signer := testSigner(t)
	dir := t.TempDir()
	s, err := Open(context.Background(), filepath.Join(dir, "vault.db"), Options{Signer: signer, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit := func(n int) {
		for range n {
			if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
				t.Fatal(err)
			}
		}
		for s.IndexLag() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(30 * time.Millisecond) // a checkpoint over them
	}
	commit(50)
	tr := openTrail(t, dir) // the snapshot: 50 entries
	commit(50)              // then the writer goes on: entries, index rows and checkpoints past it
	rep, err := tr.Verify(t.Context(), signer.Verifier())
	if err != nil || !rep.OK || rep.Entries != 50 {
		t.Fatalf("verify beside a running writer: %+v %v", rep, err)
	}
	// A row invented past every entry the log holds is still found.
	s.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO audit_index (` + indexColumns + `) SELECT seq + 1000, ` + strings.TrimPrefix(indexColumns, "seq, ") + ` FROM audit_index WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	if rep := verifyDir(t, dir, signer); rep.OK || rep.FirstBadSeq != 1001 || !strings.Contains(rep.Reason, "no entry in the log") {
		t.Fatalf("an invented row past the log: %+v", rep)
	}
}

// A database that has had a trail is never given a new, empty log: its audit directory gone, the store
// refuses to open (a new log would reuse the sequence numbers of the history it replaces).
func TestAMissingLogIsNotRecreated(t *testing.T) {
	signer := testSigner(t)
	dir := buildTrail(t, signer, 5)
	if err := os.RemoveAll(filepath.Join(dir, "audit")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), filepath.Join(dir, "vault.db"), Options{Signer: signer})
	if !errors.Is(err, ErrLogMissing) {
		t.Fatalf("open without the log: %v", err)
	}
	// Nor is an emptied one read as intact: with the audit directory there and its segments gone, an
	// offline verify checked 0 entries and said ok.
	if err := os.MkdirAll(filepath.Join(dir, "audit", "segments"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenTrail(filepath.Join(dir, "vault.db"), filepath.Join(dir, "audit")); !errors.Is(err, ErrLogMissing) {
		t.Fatalf("reading an emptied log: %v", err)
	}
	// A new database beside no log starts one, as ever.
	fresh := openStore(t, t.TempDir(), signer)
	fresh.Close()
}
