-- The purpose each event was collected under, so that withdrawing that purpose's consent deletes what was
-- collected only under it. Events collected before this column existed have none ('').
ALTER TABLE events ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
CREATE INDEX events_subject_purpose ON events (subject_id, purpose);
