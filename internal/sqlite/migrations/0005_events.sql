-- Events (behaviour, transactions, interactions). Only what indexing needs stays in clear: id, subject,
-- type, category, time and source. The attributes (amounts, items, review and chat text) are sealed under
-- the subject's DEK of the event's retention class, so erasing the subject shreds them with the key.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    subject_id  TEXT    NOT NULL REFERENCES subjects (id),
    type        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    ts          TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    class       TEXT    NOT NULL,
    dek_version INTEGER NOT NULL,
    attrs       BLOB    NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_subject ON events (subject_id, ts);

-- Data-quality reports of imports (counts only, no values).
CREATE TABLE import_reports (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    report     TEXT NOT NULL
) WITHOUT ROWID;
