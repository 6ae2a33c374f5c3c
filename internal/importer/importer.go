// Package importer runs `vaultd import`: it reads subjects, consents, objections and events from NDJSON
// or CSV files (internal/ingest parses and cleans them), resolves identities, and writes everything
// through the vault's enforcement point in batches — encrypted on the way in, gated and audited exactly
// as through the API — and keeps a data-quality report.
package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/ingest"
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
}

// StoresFile is the name of the POS store table (JSON: store id → city) that Run picks up from an imported
// directory when no table was given.
const StoresFile = "stores.json"

// Collection purposes by event category: behaviour is consent-gated (personalization, else analytics).
var collectionPurpose = map[string]string{"transactions": "order_fulfillment", "interactions": "order_fulfillment", "behavior": "personalization"}

type file struct {
	path, format string
	kind         ingest.Kind
}

// Expand turns paths (files or directories) into importable files, subjects first, then consents,
// objections and events.
func Expand(paths []string) ([]file, error) {
	var out []file
	add := func(p string) error {
		kind, err := ingest.DetectKind(p)
		if err != nil {
			return err
		}
		format := "ndjson"
		if strings.HasSuffix(strings.ToLower(p), ".csv") {
			format = "csv"
		}
		out = append(out, file{path: p, format: format, kind: kind})
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(p); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if _, err := ingest.DetectKind(e.Name()); err == nil {
				if err := add(filepath.Join(p, e.Name())); err != nil {
					return nil, err
				}
			}
		}
	}
	order := map[ingest.Kind]int{ingest.KindSubjects: 0, ingest.KindConsents: 1, ingest.KindObjections: 2, ingest.KindEvents: 3}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].kind] < order[out[j].kind] })
	return out, nil
}

// Run imports paths and returns the data-quality report.
func (im *Importer) Run(ctx context.Context, paths []string) (ingest.Report, error) {
	files, err := Expand(paths)
	if err != nil {
		return ingest.Report{}, err
	}
	if len(files) == 0 {
		return ingest.Report{}, errors.New("no subjects*, consents*, objections* or events* files (.ndjson, .jsonl or .csv) found")
	}
	if im.Workers <= 0 {
		im.Workers = 16
	}
	if im.BatchSize <= 0 {
		im.BatchSize = 1000
	}
	rep := ingest.Report{Rejected: map[string]int{}}
	if im.Stores == nil {
		im.Stores = storesFrom(paths)
	}
	stores := im.storeOf(files)
	cleaner := ingest.NewCleaner(im.Stores)
	for _, f := range files {
		if err := im.importFile(ctx, f, cleaner, stores, &rep); err != nil {
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

func (im *Importer) access(purpose string) vault.Access {
	return vault.Access{Caller: im.Steward, Purpose: purpose, RequestID: "import"}
}

func (im *Importer) progress(format string, args ...any) {
	if im.Progress != nil {
		fmt.Fprintf(im.Progress, "\r"+format, args...)
	}
}

func (im *Importer) importFile(ctx context.Context, f file, cleaner *ingest.Cleaner, stores map[string]string, rep *ingest.Report) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r := ingest.NewReader(fh, f.kind, f.format)
	switch f.kind {
	case ingest.KindSubjects:
		return im.subjects(ctx, r, cleaner, stores, rep)
	case ingest.KindEvents:
		return im.events(ctx, r, cleaner, rep)
	case ingest.KindConsents:
		return im.consents(ctx, r, rep)
	case ingest.KindObjections:
		return im.objections(ctx, r, rep)
	}
	return nil
}

func reject(rep *ingest.Report, reason string) { rep.Rejected[reason]++ }

// badRow counts a row the reader refused (bad reports true) or returns the I/O error that ends the file.
func badRow(row ingest.Row, rep *ingest.Report) (bad bool, err error) {
	if row.Err == nil {
		return false, nil
	}
	var re *ingest.RowError
	if !errors.As(row.Err, &re) {
		return false, row.Err
	}
	reject(rep, re.Reason)
	return true, nil
}

// reasonOf turns a vault error into a stable rejection code.
func reasonOf(err error) string {
	var ve *vault.Error
	if errors.As(err, &ve) {
		return string(ve.Code)
	}
	return "internal"
}

// subjects imports subject records with several workers. Records that share a phone or email go to the
// same worker, in file order, so that identity resolution sees the earlier one before it matches the
// later one (two workers racing could otherwise create two subjects for one person).
func (im *Importer) subjects(ctx context.Context, r *ingest.Reader, cleaner *ingest.Cleaner, stores map[string]string, rep *ingest.Report) error {
	queues := make([]chan ingest.SubjectRow, im.Workers)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	done := 0
	for w := range queues {
		queues[w] = make(chan ingest.SubjectRow, 64)
		wg.Add(1)
		go func(jobs <-chan ingest.SubjectRow) {
			defer wg.Done()
			for row := range jobs {
				fields := make(map[string]*string, len(row.Fields))
				for k, v := range row.Fields {
					v := v
					fields[k] = &v
				}
				o, err := im.Vault.ImportSubject(ctx, im.access("account_management"), vault.NewSubject{ExternalID: row.ExternalID, Source: row.Source, Fields: fields})
				mu.Lock()
				switch code := vault.ErrorCode(err); {
				case err != nil && (code == vault.CodeInternal || code == vault.CodeUnavailable):
					if firstErr == nil {
						firstErr = err
					}
				case err != nil:
					reject(rep, reasonOf(err))
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
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		rep.LinesRead++
		if bad, err := badRow(row, rep); err != nil {
			stop()
			return err
		} else if bad {
			continue
		}
		s := row.Subject
		changed, rerr := cleaner.Subject(s)
		if rerr != nil {
			reject(rep, rerr.Reason)
			continue
		}
		if len(changed) > 0 {
			rep.Standardised++
		}
		if s.Fields["city"] == "" {
			if sid, ok := stores["external:"+s.Source+":"+s.ExternalID]; ok && cleaner.ImputeCity(s, sid) {
				rep.Imputed++
			}
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		queues[route(s, len(queues))] <- *s
	}
	stop()
	im.progress("subjects: %d\n", done)
	return firstErr
}

// route picks a worker by the record's phone (else email, else external id), so that records of one
// person are imported in order by one worker.
func route(s *ingest.SubjectRow, n int) int {
	key := s.Fields["phone"]
	if key == "" {
		key = s.Fields["email"]
	}
	if key == "" {
		key = s.Source + ":" + s.ExternalID
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func (im *Importer) consents(ctx context.Context, r *ingest.Reader, rep *ingest.Report) error {
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		rep.LinesRead++
		if bad, err := badRow(row, rep); err != nil {
			return err
		} else if bad {
			continue
		}
		c := row.Consent
		id, err := im.Vault.ResolveSubject(ctx, c.SubjectRef)
		if err != nil {
			reject(rep, "unknown_subject")
			continue
		}
		_, _, err = im.Vault.GrantConsent(ctx, im.access("account_management"), id, consent.Grant{Purpose: c.Purpose, Kind: consent.Kind(c.Kind),
			NoticeVersion: c.NoticeVersion, Method: c.Method, Evidence: c.Evidence, Recipient: c.Recipient, ExpiresAt: c.ExpiresAt})
		if err != nil {
			if c := vault.ErrorCode(err); c == vault.CodeInternal || c == vault.CodeUnavailable {
				return err
			}
			reject(rep, reasonOf(err))
			continue
		}
		rep.Accepted++
	}
	return nil
}

func (im *Importer) objections(ctx context.Context, r *ingest.Reader, rep *ingest.Report) error {
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		rep.LinesRead++
		if bad, err := badRow(row, rep); err != nil {
			return err
		} else if bad {
			continue
		}
		id, err := im.Vault.ResolveSubject(ctx, row.Objection.SubjectRef)
		if err != nil {
			reject(rep, "unknown_subject")
			continue
		}
		if _, err := im.Vault.RecordObjection(ctx, im.access("account_management"), id, row.Objection.Kind); err != nil {
			if c := vault.ErrorCode(err); c == vault.CodeInternal || c == vault.CodeUnavailable {
				return err
			}
			reject(rep, reasonOf(err))
			continue
		}
		rep.Accepted++
	}
	return nil
}

func (im *Importer) events(ctx context.Context, r *ingest.Reader, cleaner *ingest.Cleaner, rep *ingest.Report) error {
	var amounts ingest.AmountStats
	var bots ingest.BotDetector
	batches := map[string][]vault.EventInput{}
	total := 0
	start := time.Now()
	flush := func(purpose string) error {
		batch := batches[purpose]
		if len(batch) == 0 {
			return nil
		}
		delete(batches, purpose)
		res, err := im.Vault.IngestEvents(ctx, im.access(purpose), batch)
		if err != nil {
			return err
		}
		rep.Accepted += res.Accepted
		rep.Duplicates += res.Duplicates
		var retry []vault.EventInput
		for _, rj := range res.Rejected {
			if purpose == "personalization" && rj.Error == vault.ReasonConsentRequired {
				retry = append(retry, batch[rj.Index]) // behaviour may still be collected for analytics
				continue
			}
			reject(rep, rj.Error)
		}
		if len(retry) > 0 {
			res, err := im.Vault.IngestEvents(ctx, im.access("analytics"), retry)
			if err != nil {
				return err
			}
			rep.Accepted += res.Accepted
			rep.Duplicates += res.Duplicates
			for _, rj := range res.Rejected {
				reject(rep, rj.Error)
			}
		}
		total += len(batch)
		im.progress("events: %d (%.0f/s)", total, float64(total)/time.Since(start).Seconds())
		return nil
	}
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		rep.LinesRead++
		if bad, err := badRow(row, rep); err != nil {
			return err
		} else if bad {
			continue
		}
		e := row.Event
		if rerr := ingest.ValidateEvent(e); rerr != nil {
			reject(rep, rerr.Reason)
			continue
		}
		if changed := cleaner.Event(e); len(changed) > 0 {
			rep.Standardised++
		}
		cat, _ := ingest.Category(e.Type)
		if e.Type == "order" || e.Type == "pos_purchase" {
			if amt, ok := e.Attrs["amount"].(float64); ok {
				if amounts.Anomalous(amt) {
					e.Attrs["anomaly"] = "amount"
					rep.Anomalies++
				}
				amounts.Add(amt)
			}
		}
		if cat == "behavior" {
			bots.Observe(e.SubjectRef, e.TS, e.Type)
		}
		purpose := collectionPurpose[cat]
		batches[purpose] = append(batches[purpose], vault.EventInput{EventID: e.EventID, SubjectRef: e.SubjectRef, Type: e.Type, TS: e.TS, Source: e.Source, Attrs: e.Attrs})
		if len(batches[purpose]) >= im.BatchSize {
			if err := flush(purpose); err != nil {
				return err
			}
		}
	}
	for _, p := range []string{"order_fulfillment", "personalization"} {
		if err := flush(p); err != nil {
			return err
		}
	}
	rep.Anomalies += len(bots.Bots())
	im.progress("events: %d\n", total)
	return nil
}
