-- Events in arrival order. The old table was keyed by the source's event id, so every insert landed at a
-- random place in a table of large rows and a bulk import rewrote most of its pages on each commit. Rows
-- are now appended under an integer key; only the narrow unique index on the event id (idempotency) and the
-- subject index take the scattered inserts.
CREATE TABLE events_append (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL,
    subject_id  TEXT    NOT NULL REFERENCES subjects (id),
    type        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    ts          TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    class       TEXT    NOT NULL,
    dek_version INTEGER NOT NULL,
    attrs       BLOB    NOT NULL
);
INSERT INTO events_append (id, subject_id, type, category, ts, source, class, dek_version, attrs)
    SELECT id, subject_id, type, category, ts, source, class, dek_version, attrs FROM events ORDER BY ts, id;
DROP TABLE events;
ALTER TABLE events_append RENAME TO events;
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_subject ON events (subject_id, ts);
