package sqlite

import (
	"context"

	"github.com/profilevault/profilevault/vault"
)

// eventsQuery reads a page of a subject's events after a (ts, id) cursor.
const eventsQuery = `SELECT id, type, category, ts, source, class, dek_version, attrs FROM events
	WHERE subject_id = ? AND (ts, id) > (?, ?) ORDER BY ts, id LIMIT 1000`

// Events implements vault.Store, in pages so memory stays bounded for subjects with many events.
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
	after, afterID := "", ""
	for {
		rows, err := s.stmtEvents.QueryContext(ctx, subjectID, after, afterID) // prepared: a tag run reads every subject's events
		if err != nil {
			return err
		}
		page := (*buf)[:0]
		for rows.Next() {
			e := vault.StoredEvent{SubjectID: subjectID}
			var ts string
			if err := rows.Scan(&e.ID, &e.Type, &e.Category, &ts, &e.Source, &e.Class, &e.DEKVersion, &e.Attrs); err != nil {
				rows.Close()
				return err
			}
			e.TS = parseTime(ts)
			after, afterID = ts, e.ID
			page = append(page, e)
		}
		*buf = page
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
	}
}
