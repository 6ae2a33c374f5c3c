-- The vault's storers (vault.Tx and the domains' read storers). Every per-subject table leads with
-- subject_id, so that a distributed PostgreSQL can shard by subject. Times are timestamptz (microseconds).
CREATE TABLE subjects (
	subject_id text PRIMARY KEY,
	state      text NOT NULL CHECK (state IN ('active', 'erased')),
	source     text NOT NULL DEFAULT '',
	ref_salt   bytea,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	erased_at  timestamptz,
	hold_until timestamptz,
	-- generation counts the committed changes to the subject: a release decided under an older one is
	-- superseded (vault.Guard), whichever node committed the change.
	generation bigint NOT NULL DEFAULT 1
);
CREATE INDEX subjects_active ON subjects (subject_id) WHERE state = 'active';
CREATE INDEX subjects_hold ON subjects (hold_until) WHERE hold_until IS NOT NULL;

CREATE TABLE retired_keks (
	version    bigint PRIMARY KEY,
	retired_at timestamptz NOT NULL
);

CREATE TABLE deks (
	subject_id  text   NOT NULL REFERENCES subjects (subject_id),
	class       text   NOT NULL,
	version     bigint NOT NULL,
	kek_version bigint NOT NULL,
	wrapped     bytea  NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (subject_id, class, version)
);
CREATE INDEX deks_kek ON deks (kek_version, subject_id, class, version);

CREATE FUNCTION deks_refuse_retired_kek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM retired_keks WHERE version = NEW.kek_version) THEN
		RAISE EXCEPTION 'DEK wrapped under a retired KEK version';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER deks_retired_kek BEFORE INSERT OR UPDATE OF kek_version ON deks
	FOR EACH ROW EXECUTE FUNCTION deks_refuse_retired_kek();

CREATE TABLE fields (
	subject_id  text   NOT NULL REFERENCES subjects (subject_id),
	name        text   NOT NULL,
	class       text   NOT NULL,
	dek_version bigint NOT NULL,
	value       bytea  NOT NULL,
	updated_at  timestamptz NOT NULL,
	PRIMARY KEY (subject_id, name)
);

CREATE TABLE blind_index (
	subject_id text  NOT NULL REFERENCES subjects (subject_id),
	field      text  NOT NULL,
	token      bytea NOT NULL,
	PRIMARY KEY (subject_id, field, token)
);
CREATE INDEX blind_index_token ON blind_index (field, token);

CREATE TABLE consent_events (
	subject_id text NOT NULL REFERENCES subjects (subject_id),
	id         text NOT NULL,
	purpose    text NOT NULL,
	action     text NOT NULL CHECK (action IN ('grant', 'withdraw')),
	at         timestamptz NOT NULL,
	data       bytea NOT NULL, -- the consent.Event as JSON (evidence sealed)
	PRIMARY KEY (subject_id, id)
);

CREATE TABLE objections (
	subject_id text NOT NULL REFERENCES subjects (subject_id),
	kind       text NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (subject_id, kind)
);

CREATE TABLE subject_activity (
	subject_id text NOT NULL REFERENCES subjects (subject_id),
	type       text NOT NULL,
	last_at    timestamptz NOT NULL,
	PRIMARY KEY (subject_id, type)
);

-- Events: a unique key on event_id alone cannot span shards (or partitions), so ids are deduplicated in
-- their own table.
CREATE TABLE event_ids (
	id         text PRIMARY KEY,
	subject_id text NOT NULL
);
CREATE TABLE events (
	subject_id  text   NOT NULL REFERENCES subjects (subject_id),
	id          text   NOT NULL,
	type        text   NOT NULL,
	category    text   NOT NULL,
	ts          timestamptz NOT NULL,
	source      text   NOT NULL,
	class       text   NOT NULL,
	dek_version bigint NOT NULL,
	purpose     text   NOT NULL DEFAULT '',
	attrs       bytea  NOT NULL,
	PRIMARY KEY (subject_id, id)
);
CREATE INDEX events_subject_ts ON events (subject_id, ts, id);

-- Tags are not a time series: unpartitioned.
CREATE TABLE tags (
	subject_id  text   NOT NULL REFERENCES subjects (subject_id),
	purpose     text   NOT NULL,
	key         text   NOT NULL,
	level       text   NOT NULL,
	inputs      text[] NOT NULL,
	consent_ids text[] NOT NULL,
	computed_at timestamptz NOT NULL,
	dek_version bigint NOT NULL,
	sealed      bytea  NOT NULL,
	PRIMARY KEY (subject_id, purpose, key)
);
CREATE TABLE tag_dirty (
	subject_id text PRIMARY KEY,
	marked_seq bigint NOT NULL
);
CREATE INDEX tag_dirty_seq ON tag_dirty (marked_seq, subject_id);
CREATE TABLE tag_models (
	id        text PRIMARY KEY,
	fitted_at timestamptz NOT NULL,
	model     bytea NOT NULL
);

CREATE TABLE dsr_requests (
	subject_id   text NOT NULL,
	id           text PRIMARY KEY,
	type         text NOT NULL,
	state        text NOT NULL,
	created_at   timestamptz NOT NULL,
	due_at       timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	reason       bytea,
	note         text NOT NULL DEFAULT '',
	relationship text NOT NULL DEFAULT '',
	evidence     bytea
);
CREATE INDEX dsr_requests_subject ON dsr_requests (subject_id, created_at);
CREATE INDEX dsr_requests_created ON dsr_requests (created_at);

CREATE TABLE merges (
	id                  text PRIMARY KEY,
	subject_id          text NOT NULL,
	source              text NOT NULL,
	matched_on          text NOT NULL,
	fields_added        text[] NOT NULL,
	created_at          timestamptz NOT NULL,
	reverted_at         timestamptz,
	restored_subject_id text NOT NULL DEFAULT '',
	external_token      bytea
);
CREATE INDEX merges_created ON merges (created_at);
CREATE TABLE merge_reviews (
	id         text PRIMARY KEY,
	subject_a  text NOT NULL,
	subject_b  text NOT NULL,
	reason     text NOT NULL,
	state      text NOT NULL DEFAULT 'open',
	created_at timestamptz NOT NULL,
	decided_at timestamptz
);
CREATE INDEX merge_reviews_state ON merge_reviews (state, created_at);
CREATE TABLE import_reports (
	id         text PRIMARY KEY,
	created_at timestamptz NOT NULL,
	report     text NOT NULL
);

CREATE TABLE key_rotations (
	id          text PRIMARY KEY,
	kek_version bigint NOT NULL,
	state       text NOT NULL,
	holder      text NOT NULL,
	lease_until timestamptz NOT NULL,
	started_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	finished_at timestamptz,
	total       bigint NOT NULL DEFAULT 0,
	rewrapped   bigint NOT NULL DEFAULT 0,
	retired     bigint[] NOT NULL DEFAULT '{}',
	error       text NOT NULL DEFAULT ''
);
CREATE INDEX key_rotations_started ON key_rotations (started_at, id);

CREATE TABLE policy_versions (
	hash  text PRIMARY KEY,
	files bytea NOT NULL
);
CREATE TABLE policy_in_force (
	n     bigserial PRIMARY KEY,
	since timestamptz NOT NULL,
	hash  text NOT NULL REFERENCES policy_versions (hash)
);

CREATE TABLE incidents (
	id            text PRIMARY KEY,
	created_at    timestamptz NOT NULL,
	discovered_at timestamptz NOT NULL,
	since         timestamptz NOT NULL,
	until         timestamptz NOT NULL,
	actor         text NOT NULL,
	affected      bigint NOT NULL,
	categories    text[] NOT NULL,
	notice        bytea NOT NULL,
	regulator     text NOT NULL
);
CREATE TABLE incident_notices (
	subject_id  text NOT NULL,
	incident_id text NOT NULL REFERENCES incidents (id),
	state       text NOT NULL,
	PRIMARY KEY (subject_id, incident_id)
);
CREATE INDEX incident_notices_incident ON incident_notices (incident_id);

CREATE TABLE access_requests (
	id           text PRIMARY KEY,
	grant_id     text UNIQUE,
	state        text NOT NULL,
	requested_by text NOT NULL,
	created_at   timestamptz NOT NULL,
	data         jsonb NOT NULL -- the vault.AccessRequestRow
);
CREATE INDEX access_requests_created ON access_requests (created_at, id);

CREATE TABLE audiences (
	id         text PRIMARY KEY,
	created_at timestamptz NOT NULL,
	data       jsonb NOT NULL -- the vault.AudienceRow
);
CREATE TABLE audience_members (
	audience_id text NOT NULL REFERENCES audiences (id),
	ref         text NOT NULL,
	subject_id  text NOT NULL,
	holdout     boolean NOT NULL,
	PRIMARY KEY (audience_id, ref)
);
CREATE TABLE audience_outcomes (
	audience_id text NOT NULL,
	ref         text NOT NULL,
	converted   boolean NOT NULL,
	order_value double precision NOT NULL DEFAULT 0,
	retained_30 boolean,
	retained_60 boolean,
	retained_90 boolean,
	PRIMARY KEY (audience_id, ref),
	FOREIGN KEY (audience_id, ref) REFERENCES audience_members (audience_id, ref)
);

CREATE TABLE token_revocations (
	n        bigserial PRIMARY KEY,
	token_id text NOT NULL DEFAULT '',
	subject  text NOT NULL DEFAULT '',
	before   timestamptz,
	at       timestamptz NOT NULL,
	by       text NOT NULL
);
