-- Subjects: only what indexing needs stays in clear (id, state, times, source system name).
CREATE TABLE subjects (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('active', 'erased')),
    source     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    erased_at  TEXT
) WITHOUT ROWID;

-- One DEK per subject and retention class, wrapped under a KEK version. Destroying these rows is what makes
-- a subject's data unreadable (crypto-shredding).
CREATE TABLE deks (
    subject_id  TEXT    NOT NULL REFERENCES subjects (id),
    class       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped     BLOB    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (subject_id, class, version)
) WITHOUT ROWID;
CREATE INDEX deks_kek ON deks (kek_version);

-- Sealed field values: AES-256-GCM under the subject's DEK, bound to subject, field and DEK version.
CREATE TABLE fields (
    subject_id  TEXT    NOT NULL REFERENCES subjects (id),
    name        TEXT    NOT NULL,
    class       TEXT    NOT NULL,
    dek_version INTEGER NOT NULL,
    value       BLOB    NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (subject_id, name)
) WITHOUT ROWID;

-- Blind index: keyed HMAC tokens of normalised values, never the values.
CREATE TABLE blind_index (
    field      TEXT NOT NULL,
    token      BLOB NOT NULL,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    PRIMARY KEY (field, token, subject_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX blind_index_subject ON blind_index (subject_id, field);

-- The audit trail: canonical entry bytes chained by SHA-256. Columns beside the entry are copies of its
-- fields for filtering; the entry is the record.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject_ref TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL DEFAULT '',
    purpose    TEXT NOT NULL DEFAULT '',
    decision   TEXT NOT NULL,
    entry      BLOB NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_ref, seq) WHERE subject_ref <> '';
