-- Legal holds (E-Commerce Law Art. 31): an erased subject whose transaction records must be kept keeps only
-- those records and their key until hold_until; the retention job shreds them then.
ALTER TABLE subjects ADD COLUMN hold_until TEXT;
CREATE INDEX subjects_hold ON subjects (hold_until) WHERE hold_until IS NOT NULL;
