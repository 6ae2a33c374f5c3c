-- The audit trail's entries, tiles and checkpoints move to the segment log beside the database
-- (internal/seglog); audit_log, audit_tree and audit_checkpoints stay, read-only, as the source of that
-- one-time move. What the database keeps of the trail:

-- The review index, derived from the log: the columns reviews filter on, checked against the entry on
-- every read and by verify.
CREATE TABLE audit_index (
    seq         INTEGER PRIMARY KEY,
    ts          TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject_ref TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    purpose     TEXT NOT NULL DEFAULT '',
    decision    TEXT NOT NULL
);
CREATE INDEX audit_index_subject ON audit_index (subject_ref, seq) WHERE subject_ref <> '';
CREATE INDEX audit_index_actor ON audit_index (actor, seq) WHERE actor <> '';

-- Free text kept beside entries (justifications), sealed; the entry holds only its hash.
CREATE TABLE audit_note (
    seq    INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
);
INSERT INTO audit_note (seq, sealed) SELECT seq, sealed FROM audit_notes;

-- The write-ahead intents whose changes committed: one id (the first seq of the group commit) per group.
CREATE TABLE audit_intents (
    id INTEGER PRIMARY KEY
);

-- How far recovery has looked for intents that never committed.
CREATE TABLE audit_recovery (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    through INTEGER NOT NULL
);
