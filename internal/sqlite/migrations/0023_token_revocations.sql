-- Token revocations (#20): a token by its jti, or a subject's tokens issued before a time. Kept for as long
-- as tokens could be valid; checked on every request from memory, read at start.
CREATE TABLE token_revocations (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL DEFAULT '',
    subject  TEXT NOT NULL DEFAULT '',
    before   TEXT NOT NULL DEFAULT '',
    at       TEXT NOT NULL,
    by       TEXT NOT NULL
);
