-- Consent history: append-only events (grants and withdrawals), never updated. The event is kept as JSON;
-- its evidence is sealed under the subject's DEK by the vault before it gets here.
CREATE TABLE consent_events (
    id         TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    purpose    TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
    at         TEXT NOT NULL,
    data       BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX consent_events_subject ON consent_events (subject_id, at);
