-- Key rotation (issue 13). retired_keks lists the KEK versions that no DEK may be wrapped under any more:
-- a version is inserted in the same write transaction that counted its DEKs and found none, and the
-- triggers below refuse any later DEK row under it, so a retired version can never be referenced again.
CREATE TABLE retired_keks (
    version    INTEGER PRIMARY KEY,
    retired_at TEXT    NOT NULL
);

CREATE TRIGGER deks_insert_retired_kek BEFORE INSERT ON deks
WHEN EXISTS (SELECT 1 FROM retired_keks WHERE version = NEW.kek_version)
BEGIN
    SELECT RAISE(ABORT, 'DEK wrapped under a retired KEK version');
END;

CREATE TRIGGER deks_update_retired_kek BEFORE UPDATE OF kek_version ON deks
WHEN EXISTS (SELECT 1 FROM retired_keks WHERE version = NEW.kek_version)
BEGIN
    SELECT RAISE(ABORT, 'DEK wrapped under a retired KEK version');
END;

-- One row per rotation: its lease (holder, lease_until, renewed with every batch) and its progress, so a
-- second rotation is refused while one runs and an interrupted one is resumed.
CREATE TABLE key_rotations (
    id          TEXT    PRIMARY KEY,
    kek_version INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    holder      TEXT    NOT NULL,
    lease_until TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL DEFAULT '',
    total       INTEGER NOT NULL DEFAULT 0,
    rewrapped   INTEGER NOT NULL DEFAULT 0,
    retired     TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX key_rotations_started ON key_rotations (started_at);
