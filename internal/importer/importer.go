// Package importer runs `vaultd import`: it reads subjects, consents, objections and events from NDJSON
// or CSV files (internal/ingest parses and cleans them), resolves identities, and writes everything
// through the vault's enforcement point in batches — encrypted on the way in, gated and audited exactly
// as through the API — and keeps a data-quality report.
package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Importer imports files into a vault.
type Importer struct {
	Vault *vault.Service
	// Steward is the identity imports run under (role data_steward); purposes are chosen per record kind.
	Steward vault.Caller
	// Stores maps POS store ids to their city (for imputing a missing city).
	Stores map[string]string
	// Progress receives progress lines (a terminal's stderr); nil for none.
	Progress io.Writer
	// Workers is how many subjects are imported concurrently (their audit entries share group commits).
	Workers int
	// BatchSize is how many events go into one transaction.
	BatchSize int
	// SubjectBatch is how many subject records a worker imports in one call (vault.ImportSubjects: one
	// lookup per index field and one change for the records nothing matches); 1 imports them one by one
	// (vault.ImportSubject). Default 128.
	SubjectBatch int

	// Phases are filled by Run: one per file imported, with its lines and how long it took.
	Phases []Phase
	// file is the file being imported, for the places of its rejected records (Report.At).
	file string
	// Skipped lists the directory entries Run did not import, each with why (Expand).
	Skipped []string

	fileSize  int64        // size of the file being imported, for the progress bar
	bytesRead atomic.Int64 // how much of it the reader consumed (the reader stores, workers read)
}

// Phase is the import of one file: its kind, the lines read from it and how long it took.
type Phase struct {
	Kind     ingest.Kind
	Path     string
	Lines    int
	Duration time.Duration
}

// String is the phase as `vaultd import` prints it: lines and lines a second.
func (p Phase) String() string {
	rate := 0.0
	if p.Duration > 0 {
		rate = float64(p.Lines) / p.Duration.Seconds()
	}
	return fmt.Sprintf("phase %s: %d lines in %s (%.0f lines/s)", p.Kind, p.Lines, p.Duration.Round(time.Millisecond), rate)
}

// StoresFile is the name of the POS store table (JSON: store id → city) that Run picks up from an imported
// directory when no table was given.
const StoresFile = "stores.json"

type file struct {
	path, format string
	kind         ingest.Kind
}

// Expand turns paths (files or directories) into importable files, subjects first, then consents,
// objections and events. A file named on the command line must be importable; in a directory, the entries
// that are not (other names, subdirectories) are returned as skipped, each with why, except StoresFile.
func Expand(paths []string) (files []file, skipped []string, err error) {
	add := func(p string) error {
		kind, format, err := ingest.Detect(p)
		if err != nil {
			return err
		}
		files = append(files, file{path: p, format: format, kind: kind})
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !fi.IsDir() {
			if err := add(p); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			path := filepath.Join(p, e.Name())
			switch {
			case e.IsDir():
				skipped = append(skipped, path+": a directory (directories are not read recursively)")
			case e.Name() == StoresFile:
			default:
				if err := add(path); err != nil {
					skipped = append(skipped, path+": not a subjects*, consents*, objections* or events* file (.ndjson, .jsonl or .csv)")
				}
			}
		}
	}
	order := map[ingest.Kind]int{ingest.KindSubjects: 0, ingest.KindConsents: 1, ingest.KindObjections: 2, ingest.KindEvents: 3}
	sort.SliceStable(files, func(i, j int) bool { return order[files[i].kind] < order[files[j].kind] })
	return files, skipped, nil
}

// Plan is an import Check found ready: the files to import, in import order, and what was skipped.
type Plan struct {
	paths   []string
	files   []file
	Skipped []string // "path: why" of each file or entry not imported (see Expand)
}

// Check expands paths and makes sure every file can be imported before anything is: each one opens, and a
// CSV file's header row names the columns its kind needs. It returns the plan RunPlan imports, with what
// was skipped (see Expand) — also beside an error, which names the file and what is wrong, and means
// nothing was imported.
func Check(paths []string) (Plan, error) {
	files, skipped, err := Expand(paths)
	if err != nil {
		return Plan{}, err
	}
	if len(files) == 0 {
		return Plan{Skipped: skipped}, errors.New("no subjects*, consents*, objections* or events* files (.ndjson, .jsonl or .csv) found")
	}
	for _, f := range files {
		if err := checkFile(f); err != nil {
			return Plan{Skipped: skipped}, fmt.Errorf("%s: %w; nothing was imported", f.path, err)
		}
	}
	return Plan{paths: paths, files: files, Skipped: skipped}, nil
}

// checkFile opens f and, for CSV, reads its header row.
func checkFile(f file) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if f.format != ingest.FormatCSV {
		return nil
	}
	r := ingest.NewReader(fh, f.kind, f.format)
	defer r.Close()
	row, ok := r.Next()
	var re *ingest.RowError
	if !ok || row.Err == nil || !errors.As(row.Err, &re) || !strings.HasPrefix(re.Reason, ingest.ReasonBadHeader) {
		return nil
	}
	if p := r.HeaderProblem(); p != "" {
		return fmt.Errorf("bad CSV header: %s", p)
	}
	return errors.New("bad CSV header: the file has no header row")
}

// Run checks and imports paths (Check, then RunPlan) and returns the data-quality report.
func (im *Importer) Run(ctx context.Context, paths []string) (ingest.Report, error) {
	plan, err := Check(paths)
	if err != nil {
		im.Skipped = plan.Skipped
		return ingest.Report{}, err
	}
	return im.RunPlan(ctx, plan)
}

// RunPlan imports what Check found ready, without checking the files again, and returns the data-quality
// report.
func (im *Importer) RunPlan(ctx context.Context, plan Plan) (ingest.Report, error) {
	paths, files := plan.paths, plan.files
	im.Skipped = plan.Skipped
	if im.Workers <= 0 {
		im.Workers = 64
	}
	if im.BatchSize <= 0 {
		im.BatchSize = 4000
	}
	if im.SubjectBatch <= 0 {
		im.SubjectBatch = 128
	}
	rep := ingest.Report{Rejected: map[string]int{}}
	if im.Stores == nil {
		im.Stores = storesFrom(paths)
	}
	stores := im.storeOf(files)
	// Records are checked against the schema the vault runs with (--policy-dir may add fields), not the embedded one.
	cleaner := ingest.NewCleanerWithSchema(im.Vault.Policy().Schema(), im.Stores)
	im.Phases = nil
	for _, f := range files {
		start, lines := time.Now(), rep.LinesRead
		err := im.importFile(ctx, f, cleaner, stores, &rep)
		im.Phases = append(im.Phases, Phase{Kind: f.kind, Path: f.path, Lines: rep.LinesRead - lines, Duration: time.Since(start)})
		if err != nil {
			return rep, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return rep, nil
}

// storesFrom reads the first stores.json found in the given directories.
func storesFrom(paths []string) map[string]string {
	for _, p := range paths {
		raw, err := os.ReadFile(filepath.Join(p, StoresFile))
		if err != nil {
			continue
		}
		var m map[string]string
		if json.Unmarshal(raw, &m) == nil {
			return m
		}
	}
	return nil
}

// storeOf pre-scans event files for the POS store each subject reference bought at, so a missing city can
// be imputed from the store (bounded by the number of subjects).
func (im *Importer) storeOf(files []file) map[string]string {
	out := map[string]string{}
	if len(im.Stores) == 0 {
		return out
	}
	for _, f := range files {
		if f.kind != ingest.KindEvents {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			continue
		}
		r := ingest.NewReader(fh, f.kind, f.format)
		r.SkipLines(notPOSPurchase)
		for row, ok := r.Next(); ok; row, ok = r.Next() {
			if row.Err == nil && row.Event != nil && row.Event.Type == "pos_purchase" {
				if sid, _ := row.Event.Attrs["store_id"].(string); sid != "" {
					if _, seen := out[row.Event.SubjectRef]; !seen {
						out[row.Event.SubjectRef] = sid
					}
				}
			}
		}
		fh.Close()
	}
	return out
}

// notPOSPurchase reports whether an NDJSON line cannot hold a pos_purchase event: it has neither those
// bytes nor an escape (a JSON string could spell the type with \u escapes). Only the lines left are parsed,
// so the pre-scan no longer decodes every event twice.
func notPOSPurchase(line []byte) bool {
	return !bytes.Contains(line, posPurchase) && bytes.IndexByte(line, '\\') < 0
}

var posPurchase = []byte("pos_purchase")

func (im *Importer) access(purpose policies.PurposeName) vault.Access {
	return vault.Access{Caller: im.Steward, Purpose: purpose, RequestID: "import"}
}

// progress redraws the terminal's progress line: a bar of the file read so far and a count.
func (im *Importer) progress(format string, args ...any) {
	if im.Progress == nil {
		return
	}
	bar := ""
	if read := im.bytesRead.Load(); im.fileSize > 0 {
		const width = 24
		n := int(min(read*width/im.fileSize, width))
		bar = "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "] " + strconv.Itoa(int(min(read*100/im.fileSize, 100))) + "% "
	}
	fmt.Fprintf(im.Progress, "\r%s"+format, append([]any{bar}, args...)...)
}

func (im *Importer) importFile(ctx context.Context, f file, cleaner *ingest.Cleaner, stores map[string]string, rep *ingest.Report) error {
	im.file = f.path
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	im.bytesRead.Store(0)
	if fi, err := fh.Stat(); err == nil {
		im.fileSize = fi.Size()
	}
	r := ingest.NewReader(fh, f.kind, f.format)
	// Lines are parsed on every core while the records are cleaned and handed on in file order.
	r.Parallel(runtime.GOMAXPROCS(0))
	defer r.Close()
	switch f.kind {
	case ingest.KindSubjects:
		// A cleaner of its own: the import's counts of standardised values are not doubled.
		groups, err := scanIdentityGroups(f, ingest.NewCleanerWithSchema(im.Vault.Policy().Schema(), im.Stores))
		if err != nil {
			return err
		}
		return im.subjects(ctx, r, cleaner, stores, rep, groups)
	case ingest.KindEvents:
		return im.events(ctx, r, cleaner, rep)
	case ingest.KindConsents:
		return im.consents(ctx, r, rep)
	case ingest.KindObjections:
		return im.objections(ctx, r, rep)
	}
	return nil
}

// reject counts a record of the file being imported, at line, as rejected for reason.
func (im *Importer) reject(rep *ingest.Report, line int, reason string) {
	rep.RejectAt(im.file, line, reason)
}

// badRow counts a row the reader refused (bad reports true) or returns the I/O error that ends the file.
func (im *Importer) badRow(row ingest.Row, rep *ingest.Report) (bad bool, err error) {
	if row.Err == nil {
		return false, nil
	}
	var re *ingest.RowError
	if !errors.As(row.Err, &re) {
		return false, row.Err
	}
	im.reject(rep, row.Line, re.Reason)
	return true, nil
}

// reasonOf turns a vault error into a stable rejection code.
func reasonOf(err error) string {
	var ve *vault.Error
	if errors.As(err, &ve) {
		if ve.Reason != "" {
			return ve.Reason // a refinement the vault names (withdrawn_since)
		}
		return string(ve.Code)
	}
	return "internal"
}

// subjects imports subject records with several workers. Records that may be one person (groups) go to
// the same worker, in file order, so that identity resolution sees the earlier one before it matches the
// later one (two workers racing could otherwise create two subjects for one person, or keep either). A
// worker takes what its queue holds, up to SubjectBatch records, and imports them in one call, in order
// (vault.ImportSubjects decides them as if one after another).
func (im *Importer) subjects(ctx context.Context, r *ingest.Reader, cleaner *ingest.Cleaner, stores map[string]string, rep *ingest.Report, groups *identityGroups) error {
	// A subject record travels with the line it came from, for the report.
	type subjectJob struct {
		row  ingest.SubjectRow
		line int
	}
	queues := make([]chan subjectJob, im.Workers)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	done := 0
	count := func(line int, o vault.ImportOutcome, err error) {
		switch code := vault.ErrorCode(err); {
		case err != nil && (code == vault.CodeInternal || code == vault.CodeUnavailable):
			if firstErr == nil {
				firstErr = err
			}
		case err != nil:
			im.reject(rep, line, reasonOf(err))
		case o.Duplicate:
			rep.Duplicates++
		case o.Merged:
			rep.Merged++
		default:
			rep.Accepted++
			if o.Review {
				rep.ReviewQueued++
			}
		}
		done++
		if done%500 == 0 {
			im.progress("subjects: %d", done)
		}
	}
	a := im.access(policies.PurposeAccountManagement)
	for w := range queues {
		queues[w] = make(chan subjectJob, max(64, im.SubjectBatch))
		wg.Add(1)
		go func(jobs <-chan subjectJob) {
			defer wg.Done()
			batch := make([]vault.NewSubject, 0, im.SubjectBatch)
			lines := make([]int, 0, im.SubjectBatch)
			for job := range jobs {
				batch, lines = append(batch[:0], newSubject(job.row)), append(lines[:0], job.line)
			take:
				for len(batch) < im.SubjectBatch {
					select {
					case job, ok := <-jobs:
						if !ok {
							break take
						}
						batch, lines = append(batch, newSubject(job.row)), append(lines, job.line)
					default:
						break take
					}
				}
				if im.SubjectBatch == 1 {
					o, err := im.Vault.Ingestion().ImportSubject(ctx, a, batch[0])
					mu.Lock()
					count(lines[0], o, err)
					mu.Unlock()
					continue
				}
				results := im.Vault.Ingestion().ImportSubjects(ctx, a, batch)
				mu.Lock()
				for i, res := range results {
					count(lines[i], res.Outcome, res.Err)
				}
				mu.Unlock()
			}
		}(queues[w])
	}
	stop := func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	}
	// prepare checks and cleans a row, counting what it rejects or changes in rep; the workers count into
	// rep too, so it runs under mu. It returns nil for a row that is not imported.
	prepare := func(row ingest.Row) (*ingest.SubjectRow, error) {
		rep.LinesRead++
		if bad, err := im.badRow(row, rep); err != nil || bad {
			return nil, err
		}
		s := row.Subject
		changed, rerr := cleaner.Subject(s)
		if rerr != nil {
			im.reject(rep, row.Line, rerr.Reason)
			return nil, nil
		}
		if len(changed) > 0 {
			rep.Standardised++
		}
		if s.Fields["city"] == "" {
			if sid, ok := stores["external:"+s.Source+":"+s.ExternalID]; ok && cleaner.ImputeCity(s, sid) {
				rep.Imputed++
			}
		}
		return s, nil
	}
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		im.bytesRead.Store(r.BytesRead())
		mu.Lock()
		s, err := prepare(row)
		failed := firstErr != nil
		mu.Unlock()
		if err != nil {
			stop()
			return err
		}
		if failed {
			break
		}
		if s != nil {
			// Not under mu: a full queue waits for its worker, which takes mu to count.
			queues[groups.route(s, len(queues))] <- subjectJob{*s, row.Line}
		}
	}
	stop()
	im.progress("subjects: %d\n", done)
	return firstErr
}

// newSubject is a cleaned subject row as the vault imports it.
func newSubject(row ingest.SubjectRow) vault.NewSubject {
	fields := make(map[string]*string, len(row.Fields))
	for k, v := range row.Fields {
		fields[k] = &v
	}
	return vault.NewSubject{ExternalID: row.ExternalID, Source: row.Source, Fields: fields}
}

// routeKey spreads keys over n workers, the same key always to the same worker.
func routeKey(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// consents imports consent records; records of one subject go to one worker, in file order, so a grant
// and a later withdrawal keep their order.
func (im *Importer) consents(ctx context.Context, r *ingest.Reader, rep *ingest.Report) error {
	grantOf := func(row ingest.Row) consent.Grant {
		c := row.Consent
		return consent.Grant{Purpose: policies.PurposeName(c.Purpose), Kind: consent.Kind(c.Kind),
			NoticeVersion: c.NoticeVersion, Method: c.Method, Evidence: c.Evidence, Recipient: c.Recipient, ExpiresAt: c.ExpiresAt,
			GrantedAt: &c.GrantedAt}
	}
	a := im.access(policies.PurposeAccountManagement)
	return im.perSubject(ctx, r, rep, func(row ingest.Row) string { return row.Consent.SubjectRef }, func(id string, row ingest.Row) (bool, error) {
		return im.Vault.ConsentRecords().ImportConsent(ctx, a, id, grantOf(row))
	}, func(ids []string, rows []ingest.Row) []applied {
		batch := make([]vault.ConsentImport, len(rows))
		for i, row := range rows {
			batch[i] = vault.ConsentImport{Subject: ids[i], Grant: grantOf(row)}
		}
		out := make([]applied, len(rows))
		for i, res := range im.Vault.ConsentRecords().ImportConsents(ctx, a, batch) {
			out[i] = applied{duplicate: res.Duplicate, err: res.Err}
		}
		return out
	})
}

// objections imports objections to personalised marketing, per subject in file order.
func (im *Importer) objections(ctx context.Context, r *ingest.Reader, rep *ingest.Report) error {
	return im.perSubject(ctx, r, rep, func(row ingest.Row) string { return row.Objection.SubjectRef }, func(id string, row ingest.Row) (bool, error) {
		return im.Vault.ConsentRecords().ImportObjection(ctx, im.access(policies.PurposeAccountManagement), id, row.Objection.Kind)
	}, nil)
}

// applyTo resolves the row's subject and applies apply: it returns the rejection reason of a row the vault
// refused, or the error that must stop the import.
func (im *Importer) applyTo(ctx context.Context, row ingest.Row, refOf func(ingest.Row) string, apply func(string, ingest.Row) (bool, error)) (duplicate bool, reason string, fatal error) {
	id, err := im.Vault.Ingestion().ResolveSubject(ctx, im.access(policies.PurposeAccountManagement), refOf(row))
	return applyResolved(row, id, err, apply)
}

// applyResolved is applyTo with the row's subject resolved already (id, or the error resolving it).
func applyResolved(row ingest.Row, id string, err error, apply func(string, ingest.Row) (bool, error)) (duplicate bool, reason string, fatal error) {
	if errors.Is(err, vault.ErrNotFound) {
		return false, "unknown_subject", nil
	}
	if err == nil {
		duplicate, err = apply(id, row)
	}
	switch code := vault.ErrorCode(err); {
	case err == nil:
		return duplicate, "", nil
	case code == vault.CodeInternal || code == vault.CodeUnavailable:
		return false, "", err
	default:
		return false, reasonOf(err), nil
	}
}

// applied is what applying one row did.
type applied struct {
	duplicate bool
	err       error
}

// perSubject applies apply to every good row with its resolved subject id, on several workers (their
// audit entries share group commits); rows of one subject reference go to the same worker in file order.
// A worker takes what its queue holds, up to SubjectBatch rows, resolves their subjects in one call
// (vault.ResolveSubjects) and applies the rows in order — with applyBatch, if given, the rows whose
// subject was found in one call (it must do what apply does row after row). A vault error that is about
// the row is counted as a rejection; an internal one stops the import.
func (im *Importer) perSubject(ctx context.Context, r *ingest.Reader, rep *ingest.Report, refOf func(ingest.Row) string, apply func(id string, row ingest.Row) (duplicate bool, err error),
	applyBatch func(ids []string, rows []ingest.Row) []applied) error {
	var mu sync.Mutex // guards rep and firstErr
	var firstErr error
	count := func(line int, duplicate bool, reason string, fatal error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case fatal != nil:
			if firstErr == nil {
				firstErr = fatal
			}
		case reason != "":
			im.reject(rep, line, reason)
		case duplicate:
			rep.Duplicates++
		default:
			rep.Accepted++
		}
	}
	queues := make([]chan ingest.Row, im.Workers)
	var wg sync.WaitGroup
	a := im.access(policies.PurposeAccountManagement)
	for w := range queues {
		queues[w] = make(chan ingest.Row, max(16, im.SubjectBatch))
		wg.Add(1)
		go func(rows <-chan ingest.Row) {
			defer wg.Done()
			batch := make([]ingest.Row, 0, im.SubjectBatch)
			refs := make([]string, 0, im.SubjectBatch)
			var found []ingest.Row // the batch's rows whose subject was found, and their ids
			var ids []string
			for row := range rows {
				if im.SubjectBatch == 1 {
					duplicate, reason, fatal := im.applyTo(ctx, row, refOf, apply)
					count(row.Line, duplicate, reason, fatal)
					continue
				}
				batch = append(batch[:0], row)
			take:
				for len(batch) < im.SubjectBatch {
					select {
					case row, ok := <-rows:
						if !ok {
							break take
						}
						batch = append(batch, row)
					default:
						break take
					}
				}
				refs = refs[:0]
				for _, row := range batch {
					refs = append(refs, refOf(row))
				}
				resolved := im.Vault.Ingestion().ResolveSubjects(ctx, a, refs)
				if applyBatch == nil {
					for i, res := range resolved {
						duplicate, reason, fatal := applyResolved(batch[i], res.ID, res.Err, apply)
						count(batch[i].Line, duplicate, reason, fatal)
					}
					continue
				}
				found, ids := found[:0], ids[:0]
				for i, res := range resolved {
					if res.Err != nil {
						duplicate, reason, fatal := applyResolved(batch[i], "", res.Err, apply)
						count(batch[i].Line, duplicate, reason, fatal)
						continue
					}
					found, ids = append(found, batch[i]), append(ids, res.ID)
				}
				if len(found) == 0 {
					continue
				}
				for i, res := range applyBatch(ids, found) {
					duplicate, reason, fatal := applyResolved(found[i], ids[i], nil, func(string, ingest.Row) (bool, error) { return res.duplicate, res.err })
					count(found[i].Line, duplicate, reason, fatal)
				}
			}
		}(queues[w])
	}
	var readErr error
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		mu.Lock()
		rep.LinesRead++
		bad, err := im.badRow(row, rep)
		failed := firstErr != nil
		mu.Unlock()
		if err != nil {
			readErr = err
			break
		}
		if failed {
			break
		}
		if !bad {
			queues[routeKey(refOf(row), len(queues))] <- row
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	return firstErr
}

// events imports events in batches per collection purpose. The reader cleans and flags rows in file order
// (anomaly statistics depend on it); batches go to several workers so that parsing, sealing and the
// writer's commits overlap.
func (im *Importer) events(ctx context.Context, r *ingest.Reader, cleaner *ingest.Cleaner, rep *ingest.Report) error {
	var amounts ingest.AmountStats
	var bots ingest.BotDetector
	type job struct {
		purpose policies.PurposeName
		batch   []vault.EventInput
		lines   []int // the line of each event of batch
	}
	// A few batches in flight keep the writer busy; more would only hold memory.
	workers := min(im.Workers, 4)
	jobs := make(chan job, workers)
	var mu sync.Mutex // guards rep, total and firstErr
	var firstErr error
	total := 0
	start := time.Now()
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				counts, err := im.ingestBatch(ctx, j.purpose, j.batch, j.lines)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				rep.Accepted += counts.Accepted
				rep.Duplicates += counts.Duplicates
				for _, line := range counts.Rejected {
					im.reject(rep, line.line, line.reason)
				}
				total += len(j.batch)
				im.progress("events: %d (%.0f/s)", total, float64(total)/time.Since(start).Seconds())
				mu.Unlock()
			}
		}()
	}
	batches := map[policies.PurposeName][]vault.EventInput{}
	lines := map[policies.PurposeName][]int{}
	catalog := im.Vault.Policy().Purposes()
	send := func(purpose policies.PurposeName) {
		if len(batches[purpose]) > 0 {
			jobs <- job{purpose, batches[purpose], lines[purpose]}
			delete(batches, purpose)
			delete(lines, purpose)
		}
	}
	var readErr error
	for row, ok := r.Next(); ok && !failed(); row, ok = r.Next() {
		im.bytesRead.Store(r.BytesRead())
		mu.Lock()
		rep.LinesRead++
		bad, err := im.badRow(row, rep)
		mu.Unlock()
		if err != nil {
			readErr = err
			break
		} else if bad {
			continue
		}
		e := row.Event
		if rerr := ingest.ValidateEvent(e); rerr != nil {
			mu.Lock()
			im.reject(rep, row.Line, rerr.Reason)
			mu.Unlock()
			continue
		}
		standardised := len(cleaner.Event(e)) > 0
		anomalous := false
		cat, _ := ingest.Category(e.Type)
		if e.Type == "order" || e.Type == "pos_purchase" {
			if amt, ok := e.Attrs["amount"].(float64); ok {
				if amounts.Anomalous(amt) {
					e.Attrs["anomaly"] = "amount"
					anomalous = true
				}
				amounts.Add(amt)
			}
		}
		if standardised || anomalous {
			mu.Lock()
			if standardised {
				rep.Standardised++
			}
			if anomalous {
				rep.Anomalies++
			}
			mu.Unlock()
		}
		if cat == "behavior" {
			bots.Observe(e.SubjectRef, e.TS, e.Type)
		}
		// The first purpose the catalog collects the category under; refusals move on to the next.
		collecting := catalog.CollectingFor(cat)
		if len(collecting) == 0 {
			mu.Lock()
			im.reject(rep, row.Line, "not_collected")
			mu.Unlock()
			continue
		}
		purpose := collecting[0]
		batches[purpose] = append(batches[purpose], vault.EventInput{EventID: e.EventID, SubjectRef: e.SubjectRef, Type: e.Type, TS: e.TS, Source: e.Source, Attrs: e.Attrs})
		lines[purpose] = append(lines[purpose], row.Line)
		if len(batches[purpose]) >= im.BatchSize {
			send(purpose)
		}
	}
	if readErr == nil && !failed() {
		for _, p := range slices.Sorted(maps.Keys(batches)) {
			send(p)
		}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	if firstErr != nil {
		return firstErr
	}
	rep.Anomalies += len(bots.Bots())
	im.progress("events: %d\n", total)
	return nil
}

// batchCounts is what one batch did.
type batchCounts struct {
	Accepted, Duplicates int
	Rejected             []rejectedLine
}

// rejectedLine is a record the vault refused: the line it came from and why.
type rejectedLine struct {
	line   int
	reason string
}

// ingestBatch collects one batch for its purpose. An event refused for lack of consent is offered again
// under the next purpose the catalog collects its category under (behaviour without a personalization
// consent may still be collected for analytics), until none is left.
func (im *Importer) ingestBatch(ctx context.Context, purpose policies.PurposeName, batch []vault.EventInput, lines []int) (batchCounts, error) {
	var out batchCounts
	catalog := im.Vault.Policy().Purposes()
	for len(batch) > 0 {
		res, err := im.Vault.Ingestion().IngestEvents(ctx, im.access(purpose), batch)
		if err != nil {
			return out, err
		}
		out.Accepted += res.Accepted
		out.Duplicates += res.Duplicates
		retry := map[policies.PurposeName][]vault.EventInput{} // by the next purpose to try
		retryLines := map[policies.PurposeName][]int{}
		for _, rj := range res.Rejected {
			ev := batch[rj.Index]
			if rj.Error == vault.ReasonConsentRequired {
				cat, _ := ingest.Category(ev.Type)
				if next := nextPurpose(catalog.CollectingFor(cat), purpose); next != "" {
					retry[next] = append(retry[next], ev)
					retryLines[next] = append(retryLines[next], lines[rj.Index])
					continue
				}
			}
			out.Rejected = append(out.Rejected, rejectedLine{lines[rj.Index], rj.Error})
		}
		batch, purpose = nil, ""
		for _, p := range slices.Sorted(maps.Keys(retry)) {
			if purpose == "" {
				purpose, batch, lines = p, retry[p], retryLines[p]
				continue
			}
			more, err := im.ingestBatch(ctx, p, retry[p], retryLines[p])
			if err != nil {
				return out, err
			}
			out.add(more)
		}
	}
	return out, nil
}

// nextPurpose is the purpose after current in order ("" when current is the last).
func nextPurpose(order []policies.PurposeName, current policies.PurposeName) policies.PurposeName {
	if i := slices.Index(order, current); i >= 0 && i+1 < len(order) {
		return order[i+1]
	}
	return ""
}

// add merges another batch's counts into b.
func (b *batchCounts) add(o batchCounts) {
	b.Accepted += o.Accepted
	b.Duplicates += o.Duplicates
	b.Rejected = append(b.Rejected, o.Rejected...)
}
