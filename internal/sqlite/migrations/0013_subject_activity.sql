-- The newest event of each type per subject: the clocks of retention (PIPL Art. 19) run from the last
-- activity a purpose relies on, and the record a decision reads carries them.
CREATE TABLE subject_activity (
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    type       TEXT NOT NULL,
    last_at    TEXT NOT NULL,
    PRIMARY KEY (subject_id, type)
) WITHOUT ROWID;
INSERT INTO subject_activity (subject_id, type, last_at)
    SELECT subject_id, type, max(ts) FROM events GROUP BY subject_id, type;
