// Package sqlite implements the vault's stores on modernc.org/sqlite (pure Go, the embedded default), with
// the audit log in segment files beside the database (internal/seglog).
//
// One write connection is owned by a single writer goroutine, which is also the trail's sequencer: it
// numbers and chains every entry in one order. A group of reads only appends its entries to the log (one
// write and one fdatasync); a group with changes runs them in savepoints of one transaction, appends the
// entries to the log first — write-ahead intents, durable before anything is committed — and records the
// intent's id in the transaction before COMMIT (WAL, synchronous=FULL). A request learns its result only once
// its entry is durable. Recovery appends an aborted entry for each intent the database never recorded.
// The review index (audit_index) is derived from the log and fed off the hot path. Reads use a separate
// pool of connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/seglog"
	"github.com/profilevault/profilevault/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// CommitTimeout bounds how long a request waits for its audit entry to become durable before it fails
	// with vault.ErrUnavailable. Default 5s.
	CommitTimeout time.Duration
	// MaxBatch is the most operations committed in one transaction. Default 256.
	MaxBatch int
	// Readers is the size of the read connection pool. Default 8.
	Readers int
	// LogDir is the audit log's directory (default: "audit" beside the database).
	LogDir string
	// Signer signs checkpoints; nil disables them (tests of the store alone).
	Signer *audit.Signer
	// CheckpointInterval is how long an entry may stay uncovered by a signed checkpoint (default 1s: a
	// client holding X-Audit-Seq can prove its entry within 2 s, API.md).
	CheckpointInterval time.Duration
	// RecordCache is how many sealed subject records are cached in memory (ciphertexts only). Default
	// 20,000; negative turns the cache off.
	RecordCache int
	// ScanReads has the readers read through SQLite's own page cache (8 MiB each) instead of mapping the
	// file (unmappedDSN): for a process that reads most of a large database once, whose mapped pages would
	// stay resident (vaultd tags compute).
	ScanReads bool
	// BulkWrites lets the WAL grow to bulkCheckpointPages before a checkpoint copies it into the database,
	// instead of SQLite's 1,000 pages: for an offline bulk load (vaultd import, tags compute, events
	// reseal), whose commits insert at scattered places of the same indexes. A page rewritten by many
	// commits is then copied into the database once a window rather than about once a commit. Not for a
	// server: every page read looks the page up in the WAL's index, which grows with it.
	BulkWrites bool
	Logger     *slog.Logger
}

// bulkCheckpointPages is the WAL's size between checkpoints under Options.BulkWrites: 64 MiB of 4 KiB
// pages. Measured on the 10,000-subject shop's import (load 2.7–3.6, one core busy elsewhere): the events
// phase took 28.9–31.8 s with SQLite's default and 18.3–24.9 s with this, writing 22 % fewer bytes; larger
// windows wrote fewer bytes still but read more slowly (262,144 pages: 25.5 s).
const bulkCheckpointPages = 16384

// Store is the SQLite implementation of vault.Store.
type Store struct {
	*Trail
	path     string
	write    *sql.DB
	read     *sql.DB
	ckpt     *sql.DB // one connection for WAL checkpoints
	ops      chan *op
	stop     chan struct{}
	stopped  chan struct{}
	ckptDone chan struct{} // closed when the checkpointer goroutine has returned
	timeout  time.Duration
	maxBatch int
	// inflight counts ops between their enqueue and their answer; lastAppend is how long the last group
	// took to append to the audit log. The writer lingers for ops still on their way (see linger).
	inflight   atomic.Int64
	lastAppend atomic.Int64
	log        *slog.Logger
	healthy    atomic.Bool
	// head of the audit chain; touched only by the writer goroutine after Open.
	checkpoints chan struct{}
	records     *recordCache
	// gens orders releases against changes (vault.Generations): the writer checks and advances it.
	gens *vault.Generations
	// prepared statements: modernc parses SQL on every unprepared call.
	stmtSubject, stmtLookup, stmtTags, stmtEvents *sql.Stmt
	stmtSubjects                                  *sql.Stmt            // a page of records (batch jobs)
	ranges                                        rangeStmts           // a batch decision's page as ranges
	insertStmts                                   inserts              // multi-row inserts by table and row count (writer only)
	writeStmts                                    map[string]*sql.Stmt // the writer's other statements by SQL text (writer only)
	toPrepare                                     map[string]struct{}  // statements to prepare after the current transaction (writer only)
	// auditLog holds the entries, tiles and checkpoints; the writer appends to it.
	auditLog audit.LogStorage
	// The writer's state: the chain head.
	headSeq  int64
	headHash string
	// indexer writes the review index rows of logged entries, on its own connection.
	indexer *indexer
	// broken is set when an intent whose change failed to commit could not be cancelled in the log: the
	// writer then refuses everything until a restart's recovery cancels it.
	broken bool
	// index is how far the review index covers the log (shared with the Trail's queries and the indexer).
	index   *indexProgress
	metrics Metrics
	// eventPages recycles the page buffers of Events (*[]vault.StoredEvent): a tag run reads every
	// subject's events.
	eventPages sync.Pool
}

// Metrics counts the writer's work; read them with Stats.
type Metrics struct {
	// CommitNanos is the total time spent in group commits (statements, COMMIT and its fsync).
	CommitNanos atomic.Int64
	// SyncNanos is the part of it spent in COMMIT.
	SyncNanos atomic.Int64
	Batches   atomic.Int64
	Ops       atomic.Int64
	Failures  atomic.Int64
	Abandoned atomic.Int64
	// LogSyncNanos is the part of commits spent appending to the audit log (write and fdatasync).
	LogSyncNanos atomic.Int64
}

var _ vault.Store = (*Store)(nil)

func dsn(path string, write bool) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(5000)", "secure_delete(1)"} {
		q.Add("_pragma", p)
	}
	if write {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "cache_size(-65536)") // 64 MiB: bulk imports insert at random positions of the event index
		// Each change runs in a savepoint, whose sub-journal holds the pages it touches: keep it in memory
		// rather than in a temporary file written through the kernel.
		q.Add("_pragma", "temp_store(2)")
	} else {
		q.Add("_pragma", "query_only(1)")
		// Readers map the file instead of copying each page through read(2) into a small cache of their
		// own: batch reads (a page of audience members, in random order) touch pages all over it.
		q.Add("_pragma", "mmap_size(1073741824)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path, runs embedded migrations and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 5 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Readers <= 0 {
		opts.Readers = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(filepath.Dir(path), "audit")
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	if opts.RecordCache == 0 {
		opts.RecordCache = 20_000
	}
	cache, err := newRecordCache(opts.RecordCache)
	if err != nil {
		return nil, err
	}
	writer := dsn(path, true)
	if opts.BulkWrites {
		writer += "&_pragma=" + url.QueryEscape("wal_autocheckpoint("+strconv.Itoa(bulkCheckpointPages)+")")
	}
	w, err := sql.Open("sqlite", writer)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	readers := dsn(path, false)
	if opts.ScanReads {
		readers = unmappedDSN(path)
	}
	r, err := sql.Open("sqlite", readers)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	ck, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	ck.SetMaxOpenConns(1)
	r.SetMaxOpenConns(opts.Readers)
	r.SetMaxIdleConns(opts.Readers)
	closeConns := func() {
		w.Close()
		r.Close()
		ck.Close()
	}
	if err := importLegacyTrail(ctx, w, opts.LogDir, opts.Signer); err != nil {
		closeConns()
		return nil, err
	}
	if err := requireLog(ctx, w, opts.LogDir); err != nil {
		closeConns()
		return nil, err
	}
	l, err := seglog.Open(opts.LogDir, seglog.Options{Signer: opts.Signer, CheckpointInterval: opts.CheckpointInterval})
	if err != nil {
		closeConns()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	s := &Store{
		Trail: newTrail(r, l),
		path:  path, write: w, read: r, ckpt: ck, auditLog: l,
		ops:         make(chan *op, 4096),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
		ckptDone:    make(chan struct{}),
		timeout:     opts.CommitTimeout,
		maxBatch:    opts.MaxBatch,
		log:         opts.Logger,
		checkpoints: make(chan struct{}, 1),
		writeStmts:  map[string]*sql.Stmt{},
		toPrepare:   map[string]struct{}{},
		records:     cache,
		gens:        vault.NewGenerations(),
	}
	if err := s.recoverLog(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if s.indexer, err = newIndexer(ctx, path, s.index, s.log); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open the audit indexer: %w", err)
	}
	s.healthy.Store(true)
	go s.writer()
	go s.checkpointer()
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.stmtSubject, err = s.read.PrepareContext(ctx, subjectQuery); err != nil {
		return fmt.Errorf("prepare subject query: %w", err)
	}
	if s.stmtSubjects, err = s.read.PrepareContext(ctx, subjectsQuery); err != nil {
		return fmt.Errorf("prepare subjects query: %w", err)
	}
	if s.stmtLookup, err = s.read.PrepareContext(ctx, lookupQuery); err != nil {
		return fmt.Errorf("prepare lookup query: %w", err)
	}
	if s.stmtEvents, err = s.read.PrepareContext(ctx, eventsQuery); err != nil {
		return fmt.Errorf("prepare events query: %w", err)
	}
	if s.stmtTags, err = s.read.PrepareContext(ctx, tagsQuery); err != nil {
		return fmt.Errorf("prepare tags query: %w", err)
	}
	if s.ranges, err = prepareRanges(ctx, s.read); err != nil {
		return fmt.Errorf("prepare range reads: %w", err)
	}
	if s.insertStmts, err = prepareInserts(ctx, s.write, insertNotes, insertEvents, insertTags, insertMembers,
		insertSubjects, insertDEKs, insertFields, insertTokens); err != nil {
		return fmt.Errorf("prepare multi-row inserts: %w", err)
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// Close stops the writer after it has committed what is queued, and closes the database.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.stopped
	<-s.ckptDone // no WAL checkpoint may run while, or after, the connections close
	return s.closeDBs()
}

// closeDBs closes the audit log (after a final checkpoint) and the database.
func (s *Store) closeDBs() error {
	var idxErr error
	if s.indexer != nil {
		idxErr = s.indexer.close() // the last index rows, before the log closes
	}
	logErr := errors.Join(idxErr, s.auditLog.Close())
	for _, st := range []*sql.Stmt{s.stmtSubject, s.stmtSubjects, s.stmtLookup, s.stmtTags, s.stmtEvents} {
		if st != nil {
			st.Close()
		}
	}
	s.ranges.close()
	s.insertStmts.close()
	for _, st := range s.writeStmts {
		st.Close()
	}
	return errors.Join(logErr, s.read.Close(), s.ckpt.Close(), s.write.Close())
}

// Ready reports whether the writer is running and its last commit succeeded.
func (s *Store) Ready(ctx context.Context) error {
	select {
	case <-s.stopped:
		return errors.New("store closed")
	default:
	}
	if !s.healthy.Load() {
		return vault.ErrUnavailable
	}
	return s.read.PingContext(ctx)
}

// Stats returns the writer's counters.
func (s *Store) Stats() *Metrics { return &s.metrics }

// CachedRecords is how many sealed subject records the record cache holds.
func (s *Store) CachedRecords() int { return s.records.len() }

// IndexLag is how many entries of the audit log the review index does not cover yet.
func (s *Store) IndexLag() int64 { return max(s.auditLog.Size()-s.index.Through(), 0) }

// Path returns the database file path.
func (s *Store) Path() string { return s.path }

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// recordQuery selects the rows of the records of the subjects whose id matches match (a condition on the id
// column), in one statement — so in one snapshot, without an explicit transaction — each row with its
// subject's id and tagged by kind: 0 subject, 1 DEK, 2 field, 3 consent event, 4 objection, 5 newest event
// of a type.
func recordQuery(match string) string {
	return `
SELECT id, 0, state, source, created_at, updated_at, ref_salt FROM subjects WHERE id ` + match + `
UNION ALL
SELECT subject_id, 1, class, version, kek_version, wrapped, NULL FROM deks WHERE subject_id ` + match + `
UNION ALL
SELECT subject_id, 2, name, class, dek_version, value, updated_at FROM fields WHERE subject_id ` + match + `
UNION ALL
SELECT subject_id, 3, id, purpose, at, data, NULL FROM consent_events WHERE subject_id ` + match + `
UNION ALL
SELECT subject_id, 4, kind, created_at, NULL, NULL, NULL FROM objections WHERE subject_id ` + match + `
UNION ALL
SELECT subject_id, 5, type, last_at, NULL, NULL, NULL FROM subject_activity WHERE subject_id ` + match
}

var (
	// subjectQuery reads one subject's record (?1 the id).
	subjectQuery = recordQuery("= ?1")
	// subjectsQuery reads the records of several subjects (?1 a JSON array of ids): a batch job's page in
	// one statement instead of one per subject.
	subjectsQuery = `WITH ids(id) AS (SELECT value FROM json_each(?1))` + recordQuery("IN ids")
)

// Subject implements vault.Store.
func (s *Store) Subject(ctx context.Context, id string) (vault.SubjectRecord, error) {
	if rec, ok := s.records.get(id); ok {
		return rec, nil
	}
	gen := s.records.generation()
	recs, err := scanRecords(s.stmtSubject.QueryContext(ctx, id))
	if err != nil {
		return vault.SubjectRecord{}, err
	}
	rec, ok := recs[id]
	if !ok {
		return vault.SubjectRecord{}, vault.ErrNotFound
	}
	s.records.add(id, rec, gen)
	return rec, nil
}

// Subjects implements vault.Store: cached records (with only the fields named), the others read in one
// statement per reader connection in parallel (one per core, for more than a few hundred). A batch job's
// scan does not fill the cache, which keeps the records interactive reads need.
func (s *Store) Subjects(ctx context.Context, ids []string, fields []string) (map[string]vault.SubjectRecord, error) {
	out := make(map[string]vault.SubjectRecord, len(ids))
	missing := make([]string, 0, len(ids))
	for _, id := range ids {
		if rec, ok := s.records.get(id); ok {
			out[id] = onlyFields(rec, fields)
		} else {
			missing = append(missing, id)
		}
	}
	parts := min(runtime.GOMAXPROCS(0), 1+len(missing)/250)
	read := make([]map[string]vault.SubjectRecord, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	size := (len(missing) + parts - 1) / parts
	for p := range parts {
		chunk := missing[min(p*size, len(missing)):min((p+1)*size, len(missing))]
		wg.Go(func() { read[p], errs[p] = s.readRecords(ctx, chunk, fields) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, recs := range read {
		maps.Copy(out, recs)
	}
	return out, nil
}

// readRecords reads the records of ids in one statement, with only the fields named (all if nil).
func (s *Store) readRecords(ctx context.Context, ids []string, fields []string) (map[string]vault.SubjectRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	if fields != nil {
		return s.readRecordsWith(ctx, string(list), fields)
	}
	return scanRecords(s.stmtSubjects.QueryContext(ctx, string(list)))
}

// scanRecords decodes the rows of recordQuery into records by subject id; a subject without its kind-0 row
// (none such) is left out.
func scanRecords(rows *sql.Rows, err error) (map[string]vault.SubjectRecord, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := map[string]*vault.SubjectRecord{}
	for rows.Next() {
		var id string
		var kind int
		var a string
		var b, c, d, e any
		if err := rows.Scan(&id, &kind, &a, &b, &c, &d, &e); err != nil {
			return nil, err
		}
		rec := recs[id]
		if rec == nil {
			rec = &vault.SubjectRecord{ID: id, DEKs: map[string]vault.DEK{}, Fields: map[string]vault.SealedField{}}
			recs[id] = rec
		}
		switch kind {
		case 0:
			rec.State, rec.Source = a, asString(b)
			rec.CreatedAt, rec.UpdatedAt = parseTime(asString(c)), parseTime(asString(d))
			rec.RefSalt = asBytes(e)
		case 1:
			dk := vault.DEK{Subject: id, Class: a, Version: uint32(asInt(b)), KEKVersion: uint32(asInt(c)), Wrapped: asBytes(d)}
			if cur, ok := rec.DEKs[dk.Class]; !ok || dk.Version > cur.Version {
				rec.DEKs[dk.Class] = dk
			}
		case 2:
			rec.Fields[a] = vault.SealedField{Name: a, Class: asString(b), DEKVersion: uint32(asInt(c)), Value: asBytes(d), UpdatedAt: parseTime(asString(e))}
		case 3:
			var ev consent.Event
			if err := json.Unmarshal(asBytes(d), &ev); err != nil {
				return nil, fmt.Errorf("decode consent event: %w", err)
			}
			rec.ConsentEvents = append(rec.ConsentEvents, ev)
		case 4:
			if rec.Objections == nil {
				rec.Objections = map[string]time.Time{}
			}
			rec.Objections[a] = parseTime(asString(b))
		case 5:
			if rec.Activity == nil {
				rec.Activity = map[string]time.Time{}
			}
			rec.Activity[a] = parseTime(asString(b))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]vault.SubjectRecord, len(recs))
	for id, rec := range recs {
		if rec.State == "" {
			continue // rows of a subject whose own row is gone
		}
		rec.Consents = consent.Derive(rec.ConsentEvents)
		out[id] = *rec
	}
	return out, nil
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func asInt(v any) int64 {
	if x, ok := v.(int64); ok {
		return x
	}
	return 0
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return append([]byte(nil), x...)
	case string:
		return []byte(x)
	}
	return nil
}

const lookupQuery = `SELECT b.subject_id FROM blind_index b JOIN subjects s ON s.id = b.subject_id
	WHERE b.field = ? AND b.token = ? AND s.state = 'active' ORDER BY b.subject_id LIMIT 100`

// LookupIndex implements vault.Store.
func (s *Store) LookupIndex(ctx context.Context, field string, token []byte) ([]string, error) {
	return scanIDs(s.stmtLookup.QueryContext(ctx, field, token))
}

// ErasedHolders implements vault.ProfileStore.
func (s *Store) ErasedHolders(ctx context.Context, field string, tokens [][]byte) (map[string]bool, error) {
	out := map[string]bool{}
	err := inChunks(tokens, func(in string, args []any) error {
		rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT b.token FROM blind_index b JOIN subjects s ON s.id = b.subject_id
	WHERE b.field = ? AND b.token IN `+in+` AND s.state = 'erased'`, append([]any{field}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tok []byte
			if err := rows.Scan(&tok); err != nil {
				return err
			}
			out[string(tok)] = true
		}
		return rows.Err()
	})
	return out, err
}

// LookupIndexTokens implements vault.ProfileStore: one statement per chunk of distinct tokens.
func (s *Store) LookupIndexTokens(ctx context.Context, field string, tokens [][]byte) (map[string][]string, error) {
	out := map[string][]string{}
	seen := make(map[string]bool, len(tokens))
	tokens = slices.DeleteFunc(slices.Clone(tokens), func(tok []byte) bool {
		dup := seen[string(tok)]
		seen[string(tok)] = true
		return dup
	})
	err := inChunks(tokens, func(in string, args []any) error {
		rows, err := s.read.QueryContext(ctx, `SELECT b.token, b.subject_id FROM blind_index b JOIN subjects s ON s.id = b.subject_id
	WHERE b.field = ? AND b.token IN `+in+` AND s.state = 'active' ORDER BY b.token, b.subject_id`, append([]any{field}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tok []byte
			var id string
			if err := rows.Scan(&tok, &id); err != nil {
				return err
			}
			if ids := out[string(tok)]; len(ids) < 100 {
				out[string(tok)] = append(ids, id)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkpointer truncates the WAL after erasures, on its own connection and off the writer's path, so that
// freed pages do not linger in it.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	for {
		select {
		case <-s.stopped:
			return
		case <-s.checkpoints:
			if err := s.Checkpoint(context.Background()); err != nil {
				s.log.Debug("wal checkpoint after erasure postponed", "err", err)
			}
		}
	}
}

// Checkpoint truncates the WAL so that pages freed by an erasure do not linger in it.
func (s *Store) Checkpoint(ctx context.Context) error {
	_, err := s.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// ActiveSubjectIDs returns up to limit ids of active subjects in creation order (for the demo's examples;
// ids are random and carry no personal data).
func (s *Store) ActiveSubjectIDs(ctx context.Context, limit int) ([]string, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT id FROM subjects WHERE state = 'active' ORDER BY created_at, id LIMIT ?`, limit))
}

// SubjectIDs implements vault.Store: active subject ids after the given one, in id order (for batch jobs).
func (s *Store) SubjectIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT id FROM subjects WHERE state = 'active' AND id > ? ORDER BY id LIMIT ?`, after, limit))
}

// scanIDs collects a single text column (ids, table names).
func scanIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CountActiveSubjects returns how many subjects are not erased.
func (s *Store) CountActiveSubjects(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM subjects WHERE state = 'active'`).Scan(&n)
	return n, err
}

// CountRows counts the rows of one of the store's tables (for tests and operations).
func (s *Store) CountRows(ctx context.Context, table string) (int, error) {
	switch table {
	case "subjects", "deks", "fields", "blind_index", "audit_index", "events", "consent_events":
	default:
		return 0, fmt.Errorf("unknown table %q", table)
	}
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// ExpiredHolds implements vault.Store.
func (s *Store) ExpiredHolds(ctx context.Context, now time.Time) ([]string, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT id FROM subjects WHERE hold_until IS NOT NULL AND hold_until <= ? ORDER BY hold_until LIMIT 10000`, formatTime(now)))
}

// TableNames lists the database's tables (vaultd migrate's coverage test).
func (s *Store) TableNames(ctx context.Context) ([]string, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`))
}

// ErrLogMissing refuses a database that has had an audit trail beside a log directory without one: a new,
// empty log would reuse the sequence numbers of the history it replaces.
var ErrLogMissing = audit.ErrLogMissing

// requireLog refuses to start a new audit log beside a database that already holds what only a trail
// produces — review index rows, intents, subjects — as the key ring is never silently recreated beside an
// existing database.
func requireLog(ctx context.Context, db *sql.DB, logDir string) error {
	segs, err := filepath.Glob(filepath.Join(logDir, "segments", "*.log"))
	if err != nil || len(segs) > 0 {
		return err
	}
	var used bool
	err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_index) OR EXISTS (SELECT 1 FROM audit_intents) OR EXISTS (SELECT 1 FROM subjects)`).Scan(&used)
	if err != nil {
		return err
	}
	if used {
		return fmt.Errorf("%w: the database at hand holds a history (review index, subjects) but %s has no log segments; restore the audit log (audit/) from a backup — starting a new trail would reuse its sequence numbers", ErrLogMissing, logDir)
	}
	return nil
}
