-- Tags are personal data: the value and its explanation are sealed under the subject's DEK; only what
-- gating and deletion need stays in clear (key, level, the purpose it was computed under, its input
-- categories and the consent records it relied on).
CREATE TABLE tags (
    subject_id  TEXT    NOT NULL REFERENCES subjects (id),
    purpose     TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    inputs      TEXT    NOT NULL,
    consent_ids TEXT    NOT NULL,
    computed_at TEXT    NOT NULL,
    dek_version INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    PRIMARY KEY (subject_id, purpose, key)
) WITHOUT ROWID;

-- Frozen population models of the last full run (aggregates over consenting subjects, no per-person data).
CREATE TABLE tag_models (
    id         TEXT PRIMARY KEY,
    fitted_at  TEXT NOT NULL,
    model      BLOB NOT NULL
) WITHOUT ROWID;
