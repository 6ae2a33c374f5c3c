-- TRUNCATE is not a row DELETE: the row triggers of 0001 let it empty the log's entries and checkpoints,
-- and a node then started a new trail at sequence number 1. Statement triggers refuse it too.
CREATE TRIGGER audit_log_entries_no_truncate BEFORE TRUNCATE ON audit_log_entries
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_checkpoints_no_truncate BEFORE TRUNCATE ON audit_log_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
