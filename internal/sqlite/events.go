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
	after := eventKey{}
	for {
		rows, err := s.stmtEvents.QueryContext(ctx, subjectID, after.ts, after.seq) // prepared: a tag run reads every subject's events
		if err != nil {
			return err
		}
		sc := eventScan{page: (*buf)[:0]}
		err = sc.scan(rows, subjectID)
		*buf = sc.page
		if err != nil {
			return err
		}
		page := sc.page
		full := len(page) == eventPage
		if full {
			// The page may end inside an instant whose other events come next: hold that instant back
			// (the next page starts with it) so that its events are put in id order together.
			if sc.lastStart == 0 {
				// One instant fills the whole page: read it by id, then go on after it.
				if err := s.eventsAt(ctx, subjectID, sc.last.ts, fn); err != nil {
					return err
				}
				after = eventKey{ts: sc.last.ts, seq: math.MaxInt64}
				continue
			}
			page, after = page[:sc.lastStart], sc.beforeLast
		}
		sc.sortInstants(len(page))
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
	for {
		rows, err := s.read.QueryContext(ctx, eventsAtQuery, subjectID, ts, afterID)
		if err != nil {
			return err
		}
		var sc eventScan
		if err := sc.scan(rows, subjectID); err != nil {
			return err
		}
		for _, e := range sc.page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(sc.page) < eventPage {
			return nil
		}
		afterID = sc.page[len(sc.page)-1].ID
	}
}

// eventScan is a page of a subject's events as read, with where its instants of several events are.
type eventScan struct {
	page       []vault.StoredEvent
	ties       [][2]int // [start, end) of each instant of several events, in order
	last       eventKey // the index key of the page's last event
	lastStart  int      // where the page's last instant starts
	beforeLast eventKey // the index key of the event before it
}

// scan reads rows (seq, id, type, category, ts, source, class, dek_version, attrs) into the page and
// closes them.
func (sc *eventScan) scan(rows *sql.Rows, subjectID string) error {
	defer rows.Close()
	var k eventKey
	for rows.Next() {
		e := vault.StoredEvent{SubjectID: subjectID}
		if err := rows.Scan(&k.seq, &e.ID, &e.Type, &e.Category, &k.ts, &e.Source, &e.Class, &e.DEKVersion, &e.Attrs); err != nil {
			return err
		}
		e.TS = parseTime(k.ts)
		i := len(sc.page)
		if i == 0 || k.ts != sc.last.ts {
			if i-sc.lastStart > 1 {
				sc.ties = append(sc.ties, [2]int{sc.lastStart, i})
			}
			sc.beforeLast, sc.lastStart = sc.last, i
		}
		sc.last = k
		sc.page = append(sc.page, e)
	}
	if len(sc.page)-sc.lastStart > 1 {
		sc.ties = append(sc.ties, [2]int{sc.lastStart, len(sc.page)})
	}
	return rows.Err()
}

// sortInstants puts the events of each instant among the page's first n — read in (ts, seq) order — in
// id order, so that they are in (ts, id) order. Most instants hold one event.
func (sc *eventScan) sortInstants(n int) {
	for _, t := range sc.ties {
		if t[1] > n {
			break
		}
		slices.SortFunc(sc.page[t[0]:t[1]], func(a, b vault.StoredEvent) int { return strings.Compare(a.ID, b.ID) })
	}
}
