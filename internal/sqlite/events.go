package sqlite

import (
	"context"

	"github.com/profilevault/profilevault/vault"
)

// Events implements vault.Store, in pages so memory stays bounded for subjects with many events.
func (s *Store) Events(ctx context.Context, subjectID string, fn func(vault.StoredEvent) error) error {
	after, afterID := "", ""
	for {
		rows, err := s.read.QueryContext(ctx, `SELECT id, type, category, ts, source, class, dek_version, attrs FROM events
			WHERE subject_id = ? AND (ts, id) > (?, ?) ORDER BY ts, id LIMIT 1000`, subjectID, after, afterID)
		if err != nil {
			return err
		}
		var page []vault.StoredEvent
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
