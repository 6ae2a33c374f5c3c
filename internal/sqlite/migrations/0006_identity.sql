-- Identity resolution: automatic merges on verified identifiers (reversible: what the merge added is
-- listed) and the steward's review queue for weaker matches. No values, only ids and field names.
CREATE TABLE merges (
    id           TEXT PRIMARY KEY,
    subject_id   TEXT NOT NULL,
    source       TEXT NOT NULL,
    matched_on   TEXT NOT NULL,
    fields_added TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    reverted_at  TEXT
) WITHOUT ROWID;

CREATE TABLE merge_reviews (
    id         TEXT PRIMARY KEY,
    subject_a  TEXT NOT NULL,
    subject_b  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- A merged subject has an external id from each source: (subject, field) is no longer unique.
DROP INDEX blind_index_subject;
CREATE INDEX blind_index_subject ON blind_index (subject_id, field);
