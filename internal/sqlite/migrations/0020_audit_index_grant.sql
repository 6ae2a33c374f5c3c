-- The review index names the access grant a read relied on (GET /v1/audit/events?grant=ID); verify checks
-- the column against the entry like the others. Entries before access requests carry no grant.
ALTER TABLE audit_index ADD COLUMN grant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_index_grant ON audit_index (grant_id, seq) WHERE grant_id <> '';
