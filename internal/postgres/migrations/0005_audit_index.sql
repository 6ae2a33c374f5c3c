-- The review index: the columns reviews filter on, derived from each entry (audit.IndexOf) and written in
-- the transaction that appends it, so it never lags the log. Every read checks an entry against the row
-- that selected it, and verify checks every row. ts is the entry's time to the microsecond (the partition
-- key), ts_ns the nanoseconds below it.
--
-- Partitioned by month (UTC) so that old months detach cheaply; the partitions of the current and next
-- months are created ahead (at start and by the integrator's lease holder), and a default partition takes
-- rows of any other month. A unique key cannot span partitions: the key is (seq, ts), and verify reports a
-- duplicated seq as tampering.
CREATE TABLE audit_index (
	seq         bigint NOT NULL,
	ts          timestamptz NOT NULL,
	ts_ns       smallint NOT NULL DEFAULT 0 CHECK (ts_ns BETWEEN 0 AND 999),
	action      text NOT NULL,
	subject_ref text NOT NULL DEFAULT '',
	actor       text NOT NULL DEFAULT '',
	purpose     text NOT NULL DEFAULT '',
	decision    text NOT NULL,
	grant_id    text NOT NULL DEFAULT '',
	PRIMARY KEY (seq, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX audit_index_subject ON audit_index (subject_ref, seq) WHERE subject_ref <> '';
CREATE INDEX audit_index_actor ON audit_index (actor, seq) WHERE actor <> '';
CREATE INDEX audit_index_grant ON audit_index (grant_id, seq) WHERE grant_id <> '';
CREATE TABLE audit_index_default PARTITION OF audit_index DEFAULT;
-- Rows of the entries appended before this migration are derived in the same transaction (backfillIndex).
