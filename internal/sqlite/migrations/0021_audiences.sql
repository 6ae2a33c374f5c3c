-- Audiences (#19): a built audience (rule, channel, holdout, sizes and exclusion counts as JSON) and its
-- members, each keyed by a ref that is a keyed hash of audience and subject (the key outside the vault).
CREATE TABLE audiences (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    data       BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE audience_members (
    audience_id TEXT NOT NULL REFERENCES audiences (id),
    ref         TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    holdout     INTEGER NOT NULL CHECK (holdout IN (0, 1)),
    PRIMARY KEY (audience_id, ref)
) WITHOUT ROWID;
