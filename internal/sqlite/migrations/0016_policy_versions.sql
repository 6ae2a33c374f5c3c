-- Every policy version that was ever in force, and from when: the processing record as of any past date
-- (PIPL Art. 55-56 keep records three years; the catalog is the record of processing).
CREATE TABLE policy_versions (
    hash  TEXT PRIMARY KEY,
    files BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE policy_in_force (
    since TEXT NOT NULL,
    hash  TEXT NOT NULL REFERENCES policy_versions (hash)
);
CREATE INDEX policy_in_force_since ON policy_in_force (since);
