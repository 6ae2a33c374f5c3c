-- Access requests (#18): staff ask for more than their role's baseline for a bounded case; an approved
-- request is a grant. The scope, subjects, decision and read count are kept as JSON in data; the
-- justification inside it is sealed (its hash is in the access.request audit entry).
CREATE TABLE access_requests (
    id           TEXT PRIMARY KEY,
    grant_id     TEXT UNIQUE,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'revoked', 'exhausted')),
    requested_by TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    data         BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_requests_created ON access_requests (created_at);
