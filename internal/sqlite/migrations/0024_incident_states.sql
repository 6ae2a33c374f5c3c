-- Incidents are recorded open with their scope and notified in a second step (API.md: POST
-- /v1/incidents/{id}/notify): a title, the state, when it was notified; the subjects in the scope wait as
-- 'pending' notices until then. Incidents recorded before this had their notices queued at once.
ALTER TABLE incidents ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN state TEXT NOT NULL DEFAULT 'notified';
ALTER TABLE incidents ADD COLUMN notified_at TEXT NOT NULL DEFAULT '';
UPDATE incidents SET notified_at = created_at;
