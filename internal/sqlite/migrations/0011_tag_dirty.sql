-- Subjects whose tag inputs (fields, consents, objections, events) changed since their tags were last
-- computed: incremental recomputation works through this list. marked_seq is the first audit sequence
-- number of the group commit that changed the subject, so a release whose own audit entry came later has
-- seen the change.
CREATE TABLE tag_dirty (
    subject_id TEXT PRIMARY KEY,
    marked_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tag_dirty_seq ON tag_dirty (marked_seq);
