// Package storetest is the conformance suite of the vault's storers (vault.Sequencer, vault.ProfileStore,
// vault.EventStore, vault.TagStore and the other domains' storers and Tx views): one set of tests, storer by
// storer, written against the vault's interfaces only, that every store adapter (internal/sqlite,
// internal/postgres) runs. It owns no adapter; a test of one engine's own mechanics stays with that adapter.
package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// Entries reads the audit trail the sequencer appends to (a subset of audit.LogReader).
type Entries interface {
	// Size is the number of durable entries.
	Size() int64
	// Entry is the canonical entry numbered seq (1-based).
	Entry(seq int64) ([]byte, error)
}

// Adapter is one freshly opened, empty store under test: the sequencer with the reads it serves, the
// trail it appends to, and the storers of the other domains.
type Adapter struct {
	Store       vault.Store
	Log         Entries
	Identity    vault.IdentityStore
	Requests    vault.RequestStore
	Access      vault.AccessStore
	Audiences   vault.AudienceStore
	Revocations vault.RevocationStore
	Keys        vault.KeyStore
	Policies    vault.PolicyStore
	Incidents   vault.IncidentStore
	Notes       Notes
	Trail       audit.Store
}

// Open opens an empty store for t, closed when t ends.
type Open func(t testing.TB) Adapter

// Run runs every storer's part of the suite.
func Run(t *testing.T, open Open) {
	for name, run := range map[string]func(*testing.T, Open){
		"Sequencer":   RunSequencer,
		"Profiles":    RunProfiles,
		"Consents":    RunConsents,
		"Events":      RunEvents,
		"EventOrder":  RunEventOrder,
		"Tags":        RunTags,
		"Requests":    RunRequests,
		"Identity":    RunIdentity,
		"Keys":        RunKeys,
		"Access":      RunAccess,
		"Audiences":   RunAudiences,
		"Revocations": RunRevocations,
		"Policies":    RunPolicies,
		"Incidents":   RunIncidents,
		"Notes":       RunNotes,
		"Trail":       RunTrail,
	} {
		t.Run(name, func(t *testing.T) { run(t, open) })
	}
}

// at is the suite's clock: whole microseconds in UTC, which every engine keeps exactly.
var at = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// entry returns an entry func recording whether the change failed.
func entry(action string) func(error) audit.Entry {
	return func(err error) audit.Entry {
		e := audit.Entry{TS: time.Now().UTC(), Action: action, Decision: audit.Allow, Status: 200}
		if err != nil {
			e.Decision, e.Status = audit.Deny, 500
		}
		return e
	}
}

// commit runs change through the sequencer and fails t if it or its entry fails.
func commit(t testing.TB, a Adapter, change func(vault.Tx) error) int64 {
	t.Helper()
	seq, err := a.Store.Commit(t.Context(), change, entry("test.change"))
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	return seq
}

// logged decodes the entry numbered seq.
func logged(t testing.TB, a Adapter, seq int64) audit.Entry {
	t.Helper()
	canon, err := a.Log.Entry(seq)
	if err != nil {
		t.Fatalf("entry %d: %v", seq, err)
	}
	var e audit.Entry
	if err := json.Unmarshal(canon, &e); err != nil {
		t.Fatalf("entry %d: %v", seq, err)
	}
	return e
}

// verifyChain checks that the whole trail is numbered and chained and returns its size.
func verifyChain(t testing.TB, a Adapter) int64 {
	t.Helper()
	prev, size := audit.GenesisHash, a.Log.Size()
	for seq := int64(1); seq <= size; seq++ {
		canon, err := a.Log.Entry(seq)
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil || e.Seq != seq || e.PrevHash != prev {
			t.Fatalf("seq %d: not numbered and chained after its predecessor (%v)", seq, err)
		}
		prev = audit.ChainHash(canon)
	}
	return size
}

// createSubject creates an active subject with a general DEK (version 1) and a name field.
func createSubject(tx vault.Tx, id string) error {
	if err := tx.CreateSubject(id, "crm", []byte("salt-"+id), at); err != nil {
		return err
	}
	if err := tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 1, KEKVersion: 1, Wrapped: []byte("w-" + id)}); err != nil {
		return err
	}
	return tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("n-" + id), UpdatedAt: at})
}

// create commits createSubject for each id, in one change.
func create(t testing.TB, a Adapter, ids ...string) {
	t.Helper()
	commit(t, a, func(tx vault.Tx) error {
		for _, id := range ids {
			if err := createSubject(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}
