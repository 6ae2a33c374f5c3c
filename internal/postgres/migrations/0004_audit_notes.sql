-- Free text kept beside entries (justifications), sealed; the entry holds only its hash (audit.Entry.Note).
-- Written in the transaction that appends the entry, so a note is durable exactly when its entry is.
CREATE TABLE audit_log_notes (
	seq    bigint PRIMARY KEY REFERENCES audit_log_entries (seq),
	sealed bytea NOT NULL
);
