-- What the nodes sharing this database must agree on, by a fingerprint that reveals no key: the key ring
-- (a keyed check value), the audit checkpoint verifier key and the JWT signing key's id. The first node
-- records them; a node whose keys differ refuses to start (it would write DEKs, checkpoints or tokens the
-- others cannot read).
CREATE TABLE node_keys (
	name        text PRIMARY KEY,
	fingerprint text NOT NULL
);
