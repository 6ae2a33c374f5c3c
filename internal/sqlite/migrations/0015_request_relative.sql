-- A request filed by a deceased person's close relative (PIPL Art. 49): the relationship, and the evidence
-- sealed under the subject's key.
ALTER TABLE dsr_requests ADD COLUMN relationship TEXT NOT NULL DEFAULT '';
ALTER TABLE dsr_requests ADD COLUMN evidence BLOB;
