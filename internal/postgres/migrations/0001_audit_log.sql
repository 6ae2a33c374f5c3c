-- The audit log (audit.LogStorage) in the database: entries numbered and chained by the appending
-- transaction, which holds the head row's lock; hash tiles, entry bundles and signed checkpoints written by
-- the integrator. Entries and checkpoints are never updated or deleted (triggers below).
CREATE TABLE audit_log_head (
	id   boolean PRIMARY KEY DEFAULT true CHECK (id),
	size bigint NOT NULL,
	head text NOT NULL
);
INSERT INTO audit_log_head (size, head) VALUES (0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log_entries (
	seq       bigint PRIMARY KEY CHECK (seq > 0),
	canonical bytea NOT NULL
);

CREATE TABLE audit_log_tiles (
	path text PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE audit_log_checkpoints (
	size bigint PRIMARY KEY,
	note bytea NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_entries_append_only BEFORE UPDATE OR DELETE ON audit_log_entries
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_log_checkpoints
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
