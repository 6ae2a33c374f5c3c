-- Merkle tree of the audit trail: tlog stored hashes (leaf hashes and completed subtrees) by tlog's index.
CREATE TABLE audit_tree (
    idx  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Signed checkpoints (C2SP signed notes of size and root).
CREATE TABLE audit_checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Free text kept beside entries (justifications), sealed; the entry holds only its hash.
CREATE TABLE audit_notes (
    seq    INTEGER PRIMARY KEY REFERENCES audit_log (seq),
    sealed BLOB NOT NULL
);

CREATE INDEX audit_log_actor ON audit_log (actor, seq) WHERE actor <> '';

-- Per-subject salt of the audit pseudonym: destroyed at erasure so old entries become unlinkable.
ALTER TABLE subjects ADD COLUMN ref_salt BLOB;
UPDATE subjects SET ref_salt = randomblob(16) WHERE state = 'active';
