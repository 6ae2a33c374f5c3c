-- Personal information incidents (PIPL Art. 57): the scope derived from the trail, and the notifications
-- queued to each affected subject and to the regulator.
CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    discovered_at TEXT NOT NULL,
    since         TEXT NOT NULL,
    until         TEXT NOT NULL,
    actor         TEXT NOT NULL,
    affected      INTEGER NOT NULL,
    categories    TEXT NOT NULL,
    description   BLOB NOT NULL,
    regulator     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE incident_notices (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    subject_id  TEXT NOT NULL,
    state       TEXT NOT NULL,
    PRIMARY KEY (incident_id, subject_id)
) WITHOUT ROWID;
CREATE INDEX incident_notices_subject ON incident_notices (subject_id);
