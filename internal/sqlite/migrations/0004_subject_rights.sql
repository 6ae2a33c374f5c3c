-- Objections of data subjects (PIPL Art. 24): e.g. personalized_marketing.
CREATE TABLE objections (
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (subject_id, kind)
) WITHOUT ROWID;

-- Data-subject requests (PIPL Art. 50). Free text (a rejection reason) is sealed under the subject's DEK.
CREATE TABLE dsr_requests (
    id           TEXT PRIMARY KEY,
    subject_id   TEXT NOT NULL,
    type         TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    reason       BLOB,
    note         TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX dsr_requests_subject ON dsr_requests (subject_id, created_at);
CREATE INDEX dsr_requests_state ON dsr_requests (state, due_at);
