package sqlite

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strings"

	"github.com/profilevault/profilevault/vault"
)

// eventPage is how many events one query of Events reads.
const eventPage = 1000

// A subject's events are read in the order of the subject index, events_subject (subject_id, ts) — whose
// entries end with the row's seq — so that SQLite walks the index and sorts nothing: ordering by (ts, id)
// directly made it copy every page into a temporary B-tree and sort it, about a third of the cost of a
// tag run's event reads. Events then puts the events of one instant in id order itself, so the order is
// still (ts, id).
const (
	// eventsQuery reads a page of a subject's events after a (ts, seq) cursor, in index order.
	eventsQuery = `SELECT seq, id, type, category, ts, source, class, dek_version, attrs FROM events
	WHERE subject_id = ?1 AND (ts, seq) > (?2, ?3) ORDER BY ts, seq LIMIT 1000`
	// eventsAtQuery reads a page of a subject's events of one instant after an id cursor, in id order
	// (only for an instant that fills a whole page of eventsQuery).
	eventsAtQuery = `SELECT seq, id, type, category, ts, source, class, dek_version, attrs FROM events
	WHERE subject_id = ?1 AND ts = ?2 AND id > ?3 ORDER BY id LIMIT 1000`
)

// eventKey is where an event read by Events stands in the subject index.
type eventKey struct {
	ts  string
	seq int64
}

// Events implements vault.Store: oldest first, events of one instant by id, in pages so memory stays
// bounded for subjects with many events. fn runs between queries, never while a page is being read.
func (s *Store) Events(ctx context.Context, subjectID string, fn func(vault.StoredEvent) error) error {
	buf, _ := s.eventPages.Get().(*[]vault.StoredEvent)
	if buf == nil {
		buf = new([]vault.StoredEvent)
	}
	defer func() {
		clear(*buf) // keep no event alive through the pool
		*buf = (*buf)[:0]
		s.eventPages.Put(buf)
	}()
	var keys []eventKey
	after := eventKey{}
	for {
		page, k, err := readEvents(ctx, s.stmtEvents, (*buf)[:0], keys[:0], subjectID, after.ts, after.seq)
		*buf, keys = page, k
		if err != nil {
			return err
		}
		full := len(page) == eventPage
		n := len(page)
		if full {
			// The page may end inside an instant whose other events come next: hold that instant back
			// (the next page starts with it) so that its events are put in id order together.
			last := keys[n-1].ts
			for n > 0 && keys[n-1].ts == last {
				n--
			}
			if n == 0 {
				// One instant fills the whole page: read it by id, then go on after it.
				if err := s.eventsAt(ctx, subjectID, last, fn); err != nil {
					return err
				}
				after = eventKey{ts: last, seq: math.MaxInt64}
				continue
			}
			after = keys[n-1]
		}
		page = page[:n]
		sortInstants(page, keys[:n])
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if !full {
			return nil
		}
	}
}

// eventsAt streams a subject's events at the instant ts (as stored) to fn, by id.
func (s *Store) eventsAt(ctx context.Context, subjectID, ts string, fn func(vault.StoredEvent) error) error {
	afterID := ""
	var page []vault.StoredEvent
	var keys []eventKey
	for {
		rows, err := s.read.QueryContext(ctx, eventsAtQuery, subjectID, ts, afterID)
		if err != nil {
			return err
		}
		page, keys, err = scanEvents(rows, page[:0], keys[:0], subjectID)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < eventPage {
			return nil
		}
		afterID = page[len(page)-1].ID
	}
}

// readEvents runs the prepared page query st and appends its events to page and their index keys to keys.
func readEvents(ctx context.Context, st *sql.Stmt, page []vault.StoredEvent, keys []eventKey, subjectID string, args ...any) ([]vault.StoredEvent, []eventKey, error) {
	rows, err := st.QueryContext(ctx, append([]any{subjectID}, args...)...) // prepared: a tag run reads every subject's events
	if err != nil {
		return page, keys, err
	}
	return scanEvents(rows, page, keys, subjectID)
}

// scanEvents reads rows (seq, id, type, category, ts, source, class, dek_version, attrs) and closes them.
func scanEvents(rows *sql.Rows, page []vault.StoredEvent, keys []eventKey, subjectID string) ([]vault.StoredEvent, []eventKey, error) {
	defer rows.Close()
	for rows.Next() {
		e := vault.StoredEvent{SubjectID: subjectID}
		var k eventKey
		if err := rows.Scan(&k.seq, &e.ID, &e.Type, &e.Category, &k.ts, &e.Source, &e.Class, &e.DEKVersion, &e.Attrs); err != nil {
			return page, keys, err
		}
		e.TS = parseTime(k.ts)
		page, keys = append(page, e), append(keys, k)
	}
	return page, keys, rows.Err()
}

// sortInstants puts the events of each instant of page — read in (ts, seq) order, keys[i] page[i]'s — in
// id order, so that page is in (ts, id) order. Most instants hold one event.
func sortInstants(page []vault.StoredEvent, keys []eventKey) {
	for i := 0; i < len(page); {
		j := i + 1
		for j < len(page) && keys[j].ts == keys[i].ts {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(page[i:j], func(a, b vault.StoredEvent) int { return strings.Compare(a.ID, b.ID) })
		}
		i = j
	}
}
