-- Reverting a merge needs the blind token of the external id the merge linked (never the id itself), and
-- a steward's review decision is kept with when it was made.
ALTER TABLE merges ADD COLUMN external_token BLOB;
ALTER TABLE merges ADD COLUMN restored_subject_id TEXT;
ALTER TABLE merge_reviews ADD COLUMN decided_at TEXT;
