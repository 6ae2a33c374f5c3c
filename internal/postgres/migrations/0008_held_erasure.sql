-- An erasure under a legal hold answers its repeats the same way (API.md): the key classes it destroyed are
-- kept with the hold, and so is the subject's reference salt (ref_salt), so that the receipt names the same
-- subject_ref; both go when the hold ends and the held data are shredded. Holds recorded before this have
-- neither: their repeats name what they can.
ALTER TABLE subjects ADD COLUMN shredded text;
