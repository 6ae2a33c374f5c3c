-- Campaign outcomes per audience member (#19), keyed by the member ref, for the uplift report.
CREATE TABLE audience_outcomes (
    audience_id TEXT NOT NULL,
    ref         TEXT NOT NULL,
    converted   INTEGER NOT NULL CHECK (converted IN (0, 1)),
    order_value REAL NOT NULL DEFAULT 0,
    retained_30 INTEGER,
    retained_60 INTEGER,
    retained_90 INTEGER,
    PRIMARY KEY (audience_id, ref),
    FOREIGN KEY (audience_id, ref) REFERENCES audience_members (audience_id, ref)
) WITHOUT ROWID;
