-- The integrator's lease: one node at a time integrates tiles and signs checkpoints; another takes over
-- once the lease has expired (its holder died or stopped renewing). Appends need no lease.
CREATE TABLE audit_log_lease (
	id         boolean PRIMARY KEY DEFAULT true CHECK (id),
	holder     text NOT NULL,
	expires_at timestamptz NOT NULL
);
INSERT INTO audit_log_lease (holder, expires_at) VALUES ('', '-infinity');
