package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/sqlite"
)

// MigrateOptions say what vaultd migrate moves where.
type MigrateOptions struct {
	DataDir      string // the SQLite data dir (its lock is taken for the whole run)
	DB           string // postgres://… of an empty database
	KEKFile      string // default DataDir/kek.json
	AuditKeyFile string // default DataDir/audit-checkpoint.key
	// Batch is how many rows are read and copied at a time (default 5,000).
	Batch int
	// Progress, if set, is called as rows are copied: done and total over every table and the log.
	Progress func(done, total int64)
}

// MigrateSummary is what a migration moved and what it checked on the target.
type MigrateSummary struct {
	Tables      []TableCount // in copy order, the audit log's tables last
	Entries     int64        // audit entries copied
	Checkpoints int          // signed checkpoints copied
	Head        string       // chain hash of the last entry, the same on both sides
	Verify      audit.Report // the trail verification on the target (entries, checkpoints, index)
	Duration    time.Duration
}

// TableCount is one table's row count on each side.
type TableCount struct {
	Source, Target string // table names (they differ where the schemas do)
	SourceRows     int64
	TargetRows     int64
}

// ErrSourceTrail refuses a data dir whose audit trail does not verify: nothing is copied.
var ErrSourceTrail = errors.New("the source audit trail does not verify")

// conv converts a value read from SQLite to what the PostgreSQL column takes.
type conv func(v any) (any, error)

func same(v any) (any, error) { return v, nil }

func ts(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("a time is %T, not text", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, errors.New("a time does not parse as RFC 3339") // never the value
	}
	return t, nil
}

func tsNull(v any) (any, error) {
	if s, ok := v.(string); v == nil || ok && s == "" {
		return nil, nil
	}
	return ts(v)
}

func list(v any) (any, error) {
	s, _ := v.(string)
	if s == "" {
		return []string{}, nil
	}
	return strings.Split(s, ","), nil
}

func ints(v any) (any, error) {
	s, _ := v.(string)
	out := []int64{}
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, errors.New("a number list does not parse")
		}
		out = append(out, n)
	}
	return out, nil
}

func boolean(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	n, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("a flag is %T, not an integer", v)
	}
	return n != 0, nil
}

func blob(v any) (any, error) {
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return v, nil
}

func text(v any) (any, error) {
	if v == nil {
		return "", nil
	}
	return v, nil
}

// recoded returns a conv that decodes a JSON document with SQLite's storage form and encodes it with
// PostgreSQL's: the two name their members differently (created_at, CreatedAt), and a copy passed verbatim
// lost every member whose name differed — each audience's holdout size, creation time and creator.
func recoded[T any](decode func([]byte) (T, error), encode func(T) ([]byte, error)) conv {
	return func(v any) (any, error) {
		b, _ := blob(v)
		raw, _ := b.([]byte)
		x, err := decode(raw)
		if err != nil {
			return nil, err
		}
		out, err := encode(x)
		return json.RawMessage(out), err
	}
}

// migrateTable copies one SQLite table (or query) into a PostgreSQL table.
type migrateTable struct {
	source, target string
	query          string // SELECT of the source columns, in the order of cols
	cols           []string
	convs          []conv // one per column; nil: same
}

// migrateTables are the stores' tables in an order that satisfies the target's foreign keys. Every table
// of the SQLite schema is either here or in notMigrated (a test checks).
var migrateTables = []migrateTable{
	{"subjects", "subjects", "SELECT id, state, source, ref_salt, created_at, updated_at, erased_at, hold_until, shredded FROM subjects ORDER BY id",
		[]string{"subject_id", "state", "source", "ref_salt", "created_at", "updated_at", "erased_at", "hold_until", "shredded"},
		[]conv{same, same, same, blob, ts, ts, tsNull, tsNull, same}},
	{"retired_keks", "retired_keks", "SELECT version, retired_at FROM retired_keks ORDER BY version",
		[]string{"version", "retired_at"}, []conv{same, ts}},
	{"deks", "deks", "SELECT subject_id, class, version, kek_version, wrapped, created_at FROM deks ORDER BY subject_id, class, version",
		[]string{"subject_id", "class", "version", "kek_version", "wrapped", "created_at"}, []conv{same, same, same, same, blob, ts}},
	{"fields", "fields", "SELECT subject_id, name, class, dek_version, value, updated_at FROM fields ORDER BY subject_id, name",
		[]string{"subject_id", "name", "class", "dek_version", "value", "updated_at"}, []conv{same, same, same, same, blob, ts}},
	{"blind_index", "blind_index", "SELECT subject_id, field, token FROM blind_index ORDER BY subject_id, field, token",
		[]string{"subject_id", "field", "token"}, []conv{same, same, blob}},
	{"consent_events", "consent_events", "SELECT subject_id, id, purpose, action, at, data FROM consent_events ORDER BY subject_id, at, id",
		[]string{"subject_id", "id", "purpose", "action", "at", "data"}, []conv{same, same, same, same, ts, blob}},
	{"objections", "objections", "SELECT subject_id, kind, created_at FROM objections ORDER BY subject_id, kind",
		[]string{"subject_id", "kind", "created_at"}, []conv{same, same, ts}},
	{"subject_activity", "subject_activity", "SELECT subject_id, type, last_at FROM subject_activity ORDER BY subject_id, type",
		[]string{"subject_id", "type", "last_at"}, []conv{same, same, ts}},
	{"events", "events", "SELECT subject_id, id, type, category, ts, source, class, dek_version, purpose, attrs FROM events ORDER BY seq",
		[]string{"subject_id", "id", "type", "category", "ts", "source", "class", "dek_version", "purpose", "attrs"},
		[]conv{same, same, same, same, ts, same, same, same, same, blob}},
	{"tags", "tags", "SELECT subject_id, purpose, key, level, inputs, consent_ids, computed_at, dek_version, sealed FROM tags ORDER BY subject_id, purpose, key",
		[]string{"subject_id", "purpose", "key", "level", "inputs", "consent_ids", "computed_at", "dek_version", "sealed"},
		[]conv{same, same, same, same, list, list, ts, same, blob}},
	{"tag_dirty", "tag_dirty", "SELECT subject_id, marked_seq FROM tag_dirty ORDER BY subject_id",
		[]string{"subject_id", "marked_seq"}, nil},
	{"tag_models", "tag_models", "SELECT id, fitted_at, model FROM tag_models ORDER BY id",
		[]string{"id", "fitted_at", "model"}, []conv{same, ts, blob}},
	{"dsr_requests", "dsr_requests", "SELECT subject_id, id, type, state, created_at, due_at, updated_at, reason, note, relationship, evidence FROM dsr_requests ORDER BY id",
		[]string{"subject_id", "id", "type", "state", "created_at", "due_at", "updated_at", "reason", "note", "relationship", "evidence"},
		[]conv{same, same, same, same, ts, ts, ts, blob, same, same, blob}},
	{"merges", "merges", "SELECT id, subject_id, source, matched_on, fields_added, created_at, reverted_at, restored_subject_id, external_token FROM merges ORDER BY id",
		[]string{"id", "subject_id", "source", "matched_on", "fields_added", "created_at", "reverted_at", "restored_subject_id", "external_token"},
		[]conv{same, same, same, same, list, ts, tsNull, text, blob}},
	{"merge_reviews", "merge_reviews", "SELECT id, subject_a, subject_b, reason, state, created_at, decided_at FROM merge_reviews ORDER BY id",
		[]string{"id", "subject_a", "subject_b", "reason", "state", "created_at", "decided_at"},
		[]conv{same, same, same, same, same, ts, tsNull}},
	{"import_reports", "import_reports", "SELECT id, created_at, report FROM import_reports ORDER BY id",
		[]string{"id", "created_at", "report"}, []conv{same, ts, same}},
	{"key_rotations", "key_rotations", "SELECT id, kek_version, state, holder, lease_until, started_at, updated_at, finished_at, total, rewrapped, retired, error FROM key_rotations ORDER BY id",
		[]string{"id", "kek_version", "state", "holder", "lease_until", "started_at", "updated_at", "finished_at", "total", "rewrapped", "retired", "error"},
		[]conv{same, same, same, same, ts, ts, ts, tsNull, same, same, ints, same}},
	{"policy_versions", "policy_versions", "SELECT hash, files FROM policy_versions ORDER BY hash",
		[]string{"hash", "files"}, []conv{same, blob}},
	{"policy_in_force", "policy_in_force", "SELECT since, hash FROM policy_in_force ORDER BY rowid",
		[]string{"since", "hash"}, []conv{ts, same}},
	{"incidents", "incidents", "SELECT id, title, state, created_at, discovered_at, notified_at, since, until, actor, affected, categories, description, regulator FROM incidents ORDER BY id",
		[]string{"id", "title", "state", "created_at", "discovered_at", "notified_at", "since", "until", "actor", "affected", "categories", "notice", "regulator"},
		[]conv{same, same, same, ts, ts, tsNull, ts, ts, same, same, list, blob, same}},
	{"incident_notices", "incident_notices", "SELECT subject_id, incident_id, state FROM incident_notices ORDER BY incident_id, subject_id",
		[]string{"subject_id", "incident_id", "state"}, nil},
	{"access_requests", "access_requests", "SELECT id, grant_id, state, requested_by, created_at, data FROM access_requests ORDER BY id",
		[]string{"id", "grant_id", "state", "requested_by", "created_at", "data"}, []conv{same, same, same, same, ts, recoded(sqlite.DecodeAccessRequest, postgres.EncodeAccessRequest)}},
	{"audiences", "audiences", "SELECT id, created_at, data FROM audiences ORDER BY id",
		[]string{"id", "created_at", "data"}, []conv{same, ts, recoded(sqlite.DecodeAudience, postgres.EncodeAudience)}},
	{"audience_members", "audience_members", "SELECT audience_id, ref, subject_id, holdout FROM audience_members ORDER BY audience_id, ref",
		[]string{"audience_id", "ref", "subject_id", "holdout"}, []conv{same, same, same, boolean}},
	{"audience_outcomes", "audience_outcomes", "SELECT audience_id, ref, converted, order_value, retained_30, retained_60, retained_90 FROM audience_outcomes ORDER BY audience_id, ref",
		[]string{"audience_id", "ref", "converted", "order_value", "retained_30", "retained_60", "retained_90"},
		[]conv{same, same, boolean, same, boolean, boolean, boolean}},
	{"token_revocations", "token_revocations", "SELECT token_id, subject, before, at, by FROM token_revocations ORDER BY id",
		[]string{"token_id", "subject", "before", "at", "by"}, []conv{same, same, tsNull, ts, same}},
}

// notMigrated are the SQLite tables migrate does not copy, and why.
var notMigrated = map[string]string{
	"schema_migrations": "the schema's own record (the target has its own)",
	"audit_log":         "before the segment log: kept read-only as the source of its one-time move",
	"audit_tree":        "before the segment log (derived)",
	"audit_checkpoints": "before the segment log: the segment log holds the checkpoints",
	"audit_notes":       "before the segment log: copied into audit_note, which is migrated",
	"audit_index":       "derived from the log: rebuilt on the target as the entries go in",
	"audit_note":        "copied into audit_log_notes after the entries",
	"audit_intents":     "the embedded writer's recovery state",
	"audit_recovery":    "the embedded writer's recovery state",
	"sqlite_sequence":   "SQLite's own",
}

// Migrate moves the SQLite vault of opts.DataDir into the empty PostgreSQL database opts.DB: every store's
// rows, and the audit log verbatim with its signed checkpoints and notes, the review index derived on the
// way. It holds the data dir's lock (so it refuses while a vaultd serves it), verifies the source trail
// before copying anything, copies in one PostgreSQL transaction (a failure leaves the target empty), checks
// the row count of every table before committing, and verifies the target's trail after. The source is
// only read. The key files stay files: the target's nodes need the same ones (see the summary).
func Migrate(ctx context.Context, opts MigrateOptions) (_ MigrateSummary, err error) {
	start := time.Now()
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	if !postgresDSN(opts.DB) {
		return MigrateSummary{}, errors.New("--to must be a postgres:// DSN")
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, datadir.DatabaseFile)); err != nil {
		return MigrateSummary{}, fmt.Errorf("no SQLite vault in %s", opts.DataDir)
	}
	dir, err := datadir.Open(opts.DataDir) // refuses while a vaultd holds the data dir
	if err != nil {
		return MigrateSummary{}, err
	}
	defer dir.Close()
	dbPath := dir.File(datadir.DatabaseFile)
	fingerprints, verifier, err := dataDirKeys(dir, opts)
	if err != nil {
		return MigrateSummary{}, err
	}
	// Opened for one pass: unmapped, so that what stays resident is bounded by the batch, not the database.
	src, err := sqlite.OpenScan(dbPath)
	if err != nil {
		return MigrateSummary{}, err
	}
	defer src.Close()
	trail, err := sqlite.OpenScanTrail(dbPath, dir.File(datadir.AuditLogDir))
	if err != nil {
		return MigrateSummary{}, err
	}
	defer trail.Close()

	// The source must be whole before anything is copied: the trail verifies (entries, checkpoints under the
	// data dir's key, tiles, index), the index covers the log, and no change is left half-recorded.
	rep, err := trail.Verify(ctx, verifier)
	if err != nil {
		return MigrateSummary{}, fmt.Errorf("verify the source audit trail: %w", err)
	}
	if !rep.OK {
		return MigrateSummary{}, fmt.Errorf("%w: first bad seq %d (%s); nothing was copied", ErrSourceTrail, rep.FirstBadSeq, rep.Reason)
	}
	if rep.Indexed != rep.Entries {
		return MigrateSummary{}, fmt.Errorf("the source review index covers %d of %d entries: start and stop vaultd on the data dir once (it catches up), then migrate", rep.Indexed, rep.Entries)
	}
	if err := noOpenIntents(ctx, src, trail.Log()); err != nil {
		return MigrateSummary{}, err
	}
	log := trail.Log()
	cps, err := log.Checkpoints()
	if err != nil {
		return MigrateSummary{}, err
	}

	counts := make([]TableCount, len(migrateTables))
	var total int64
	for i, t := range migrateTables {
		counts[i] = TableCount{Source: t.source, Target: t.target}
		if err := src.QueryRowContext(ctx, "SELECT count(*) FROM "+t.source).Scan(&counts[i].SourceRows); err != nil {
			return MigrateSummary{}, fmt.Errorf("count %s: %w", t.source, err)
		}
		total += counts[i].SourceRows
	}
	var notes int64
	if err := src.QueryRowContext(ctx, "SELECT count(*) FROM audit_note").Scan(&notes); err != nil {
		return MigrateSummary{}, fmt.Errorf("count audit_note: %w", err)
	}
	total += rep.Entries + notes
	var done int64
	progress := func(n int) {
		done += int64(n)
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}

	pg, err := postgres.Open(ctx, opts.DB)
	if err != nil {
		return MigrateSummary{}, err
	}
	defer pg.Close()
	im, err := pg.BeginImport(ctx, verifier, cps)
	if err != nil {
		return MigrateSummary{}, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, im.Rollback(context.Background()))
		}
	}()
	for _, t := range migrateTables {
		if err := copyTable(ctx, src, im, t, opts.Batch, progress); err != nil {
			return MigrateSummary{}, fmt.Errorf("copy %s: %w", t.source, err)
		}
	}
	if err := im.Exec(ctx, "INSERT INTO event_ids (id, subject_id) SELECT id, subject_id FROM events"); err != nil {
		return MigrateSummary{}, fmt.Errorf("derive event_ids: %w", err)
	}

	// The audit log, verbatim and in order, then the notes beside its entries.
	batch := make([][]byte, 0, opts.Batch)
	flush := func() error {
		if err := im.AppendLog(ctx, batch); err != nil {
			return err
		}
		progress(len(batch))
		batch = batch[:0]
		return nil
	}
	err = log.Scan(1, func(_ int64, canonical []byte) error {
		batch = append(batch, bytes.Clone(canonical))
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return MigrateSummary{}, fmt.Errorf("copy the audit log: %w", err)
	}
	if size, head := im.Size(); size != rep.Entries || head != rep.Head {
		return MigrateSummary{}, fmt.Errorf("copied %d audit entries ending at %s; the source verified %d ending at %s", size, head, rep.Entries, rep.Head)
	}
	if err := im.Finish(ctx); err != nil {
		return MigrateSummary{}, err
	}
	if err := copyTable(ctx, src, im, migrateTable{"audit_note", "audit_log_notes", "SELECT seq, sealed FROM audit_note ORDER BY seq",
		[]string{"seq", "sealed"}, []conv{same, blob}}, opts.Batch, progress); err != nil {
		return MigrateSummary{}, fmt.Errorf("copy audit_note: %w", err)
	}

	// Every table holds what the source held, before anything is committed.
	counts = append(counts,
		TableCount{Source: "events", Target: "event_ids", SourceRows: rowsOf(counts, "events")},
		TableCount{Source: "audit log", Target: "audit_log_entries", SourceRows: rep.Entries},
		TableCount{Source: "audit log", Target: "audit_index", SourceRows: rep.Entries},
		TableCount{Source: "audit log checkpoints", Target: "audit_log_checkpoints", SourceRows: int64(len(cps))},
		TableCount{Source: "audit_note", Target: "audit_log_notes", SourceRows: notes})
	var differ []string
	for i := range counts {
		if counts[i].TargetRows, err = im.Count(ctx, counts[i].Target); err != nil {
			return MigrateSummary{}, fmt.Errorf("count %s: %w", counts[i].Target, err)
		}
		if counts[i].TargetRows != counts[i].SourceRows {
			differ = append(differ, fmt.Sprintf("%s: %d of %d rows", counts[i].Target, counts[i].TargetRows, counts[i].SourceRows))
		}
	}
	if len(differ) > 0 {
		return MigrateSummary{}, fmt.Errorf("row counts differ, nothing was committed: %s", strings.Join(differ, "; "))
	}
	if err := im.Commit(ctx); err != nil {
		return MigrateSummary{}, err
	}
	// The nodes that serve the database must use the data dir's keys: recorded as the first node would.
	if err := pg.AgreeOnKeys(ctx, fingerprints); err != nil {
		return MigrateSummary{}, err
	}
	target, err := postgres.OpenTrail(ctx, opts.DB)
	if err != nil {
		return MigrateSummary{}, fmt.Errorf("open the target trail: %w", err)
	}
	defer target.Close()
	vrep, err := target.Verify(ctx, verifier)
	if err != nil {
		return MigrateSummary{}, fmt.Errorf("verify the target trail: %w", err)
	}
	sum := MigrateSummary{Tables: counts, Entries: rep.Entries, Checkpoints: len(cps), Head: rep.Head, Verify: vrep, Duration: time.Since(start)}
	if !vrep.OK || vrep.Head != rep.Head || vrep.Entries != rep.Entries || vrep.Indexed != rep.Entries {
		return sum, fmt.Errorf("the target trail does not verify as the source did: first bad seq %d (%s), %d entries, head %s", vrep.FirstBadSeq, vrep.Reason, vrep.Entries, vrep.Head)
	}
	return sum, nil
}

func rowsOf(counts []TableCount, target string) int64 {
	for _, c := range counts {
		if c.Target == target {
			return c.SourceRows
		}
	}
	return -1
}

// copyTable streams t from SQLite into the import, opts.Batch rows at a time.
func copyTable(ctx context.Context, src *sql.DB, im *postgres.Import, t migrateTable, batch int, progress func(int)) error {
	rows, err := src.QueryContext(ctx, t.query)
	if err != nil {
		return err
	}
	defer rows.Close()
	var buf [][]any
	for rows.Next() {
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range t.convs {
			if c == nil {
				continue
			}
			if vals[i], err = c(vals[i]); err != nil {
				return fmt.Errorf("column %s: %w", t.cols[i], err)
			}
		}
		buf = append(buf, vals)
		if len(buf) == batch {
			if err := im.Copy(ctx, t.target, t.cols, buf); err != nil {
				return err
			}
			progress(len(buf))
			buf = buf[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := im.Copy(ctx, t.target, t.cols, buf); err != nil {
		return err
	}
	progress(len(buf))
	return nil
}

// noOpenIntents refuses a source whose log holds a write-ahead intent that the database neither recorded
// as committed nor recovery marked aborted: the embedded store settles those when it next opens.
func noOpenIntents(ctx context.Context, db *sql.DB, log audit.LogReader) error {
	var committed, through sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT max(id) FROM audit_intents), (SELECT through FROM audit_recovery WHERE one = 1)`).
		Scan(&committed, &through); err != nil {
		return fmt.Errorf("read audit intents: %w", err)
	}
	open := false
	err := log.Scan(max(committed.Int64, through.Int64)+1, func(_ int64, canon []byte) error {
		if !bytes.Contains(canon, []byte(`"intent":`)) {
			return nil
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			return err
		}
		if e.Intent > committed.Int64 {
			open = true
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("read the audit log: %w", err)
	}
	if open {
		return errors.New("the data dir was not closed cleanly (a change's intent is logged but not settled): start and stop vaultd on it once, then migrate")
	}
	return nil
}

var errStopScan = errors.New("stop")

// dataDirKeys reads the data dir's keys — never creating one — and returns the fingerprints the database's
// nodes must agree on and the checkpoint verifier.
func dataDirKeys(dir *datadir.Dir, opts MigrateOptions) (map[string]string, note.Verifier, error) {
	kekPath := orDefault(opts.KEKFile, dir.File(datadir.KEKFile))
	auditPath := orDefault(opts.AuditKeyFile, dir.File(datadir.AuditKeyFile))
	jwtPath := dir.File(datadir.JWTKeyFile)
	for _, p := range []string{kekPath, auditPath, jwtPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, nil, fmt.Errorf("key file %s: %w", filepath.Base(p), err)
		}
	}
	ring, err := keys.OpenRing(kekPath)
	if err != nil {
		return nil, nil, fmt.Errorf("key ring: %w", err)
	}
	auditor, _, err := loadOrCreateAuditSigner(auditPath)
	if err != nil {
		return nil, nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	signer, _, err := authn.LoadOrCreateSigner(jwtPath)
	if err != nil {
		return nil, nil, fmt.Errorf("jwt signing key: %w", err)
	}
	return nodeKeyFingerprints(ring, auditor, signer), auditor.Verifier(), nil
}

// nodeKeyFingerprints are the fingerprints of a node's keys that every node of one PostgreSQL database
// must share (postgres.DB.AgreeOnKeys).
func nodeKeyFingerprints(ring *keys.Ring, auditor *audit.Signer, signer *authn.Signer) map[string]string {
	return map[string]string{
		// A keyed check value of the ring (its pseudonym of a constant): the same ring gives the same one,
		// and it reveals nothing of the key.
		keyRing:  ring.Pseudonymizer().Pseudonym("profile-vault/node-key-check"),
		keyAudit: auditor.VerifierKey(),
		keyJWT:   signer.KeyID(),
	}
}
