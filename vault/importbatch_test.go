package vault_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// TestImportSubjectsAsOneAtATime imports the same records into two vaults holding the same subjects: as
// one batch (ImportSubjects) and one record at a time (ImportSubject). Each record must come out the same —
// created, duplicate, merged (into the same subject), queued for review, refused — with the same rows and
// the same audit entries. The batch holds records that match each other (an external id twice, an email,
// a phone with a similar name, a family phone, a near-identical name with the birth date), a refusal, and
// a merge that gives its target name keys a later record of the batch matches.
func TestImportSubjectsAsOneAtATime(t *testing.T) {
	type vaultUnderTest struct {
		svc    *vault.Service
		store  *sqlite.Store
		crypto *keys.VaultCrypto
		label  map[string]string // subject id → the record that created it
	}
	existing := []vault.NewSubject{
		{ExternalID: "c-1", Source: "crm", Fields: map[string]*string{"name": str("王芳"), "phone": str("+8613800001234"), "email": str("wang@example.cn"), "birth_date": str("1990-04-01")}},
		// No birth date: a merge that adds one gives it name keys.
		{ExternalID: "c-2", Source: "crm", Fields: map[string]*string{"name": str("李娜"), "email": str("li.na@example.cn")}},
	}
	batch := []vault.NewSubject{
		{ExternalID: "n-0", Source: "app", Fields: map[string]*string{"name": str("陈静"), "city": str("杭州")}},
		{ExternalID: "c-1", Source: "crm", Fields: map[string]*string{"name": str("王芳")}},                                             // duplicate of an existing subject
		{ExternalID: "n-2", Source: "app", Fields: map[string]*string{"email": str("WANG@example.cn"), "occupation": str("teacher")}}, // merged on the email
		{ExternalID: "n-3", Source: "pos", Fields: map[string]*string{"name": str("张伟"), "phone": str("+8613900009999"), "email": str("zw@example.cn"), "birth_date": str("1985-01-01")}},
		{ExternalID: "n-4", Source: "app", Fields: map[string]*string{"email": str("zw@example.cn"), "city": str("上海")}},                       // merged into n-3 (same batch)
		{ExternalID: "n-5", Source: "crm", Fields: map[string]*string{"phone": str("13900009999"), "name": str("张 伟"), "gender": str("male")}}, // merged into n-3 on the phone
		{ExternalID: "n-6", Source: "crm", Fields: map[string]*string{"phone": str("13900009999"), "name": str("赵强")}},                         // family phone: review
		{ExternalID: "n-7", Source: "app", Fields: map[string]*string{"name": str("张伟伟"), "birth_date": str("1985-01-01")}},                    // near-identical name: review
		{ExternalID: "n-3", Source: "pos", Fields: map[string]*string{"name": str("张伟")}},                                                      // duplicate of n-3 (same batch)
		{ExternalID: "n-9", Source: "app", Fields: map[string]*string{"phone": str("not a phone")}},                                            // refused
		{ExternalID: "n-10", Source: "app", Fields: map[string]*string{"email": str("li.na@example.cn"), "birth_date": str("1988-08-08")}},     // merged: 李娜 gets name keys
		{ExternalID: "n-11", Source: "pos", Fields: map[string]*string{"name": str("李娜"), "birth_date": str("1988-08-08")}},                    // review against 李娜, after n-10
		{ExternalID: "n-12", Source: "pos", Fields: map[string]*string{"name": str("孙悦"), "phone": str("+8613700007777")}},
		{ExternalID: "n-13", Source: "pos", Fields: map[string]*string{"name": str("周杰"), "email": str("zj@example.cn"), "birth_date": str("1979-02-03")}},
	}
	setUp := func() vaultUnderTest {
		cfg, store, crypto := testConfig(t)
		cfg.LookupsPerSecond, cfg.LookupBurst = 1000, 1<<30
		svc, err := vault.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		v := vaultUnderTest{svc: svc, store: store, crypto: crypto, label: map[string]string{}}
		for i, in := range existing {
			o, err := svc.Ingestion().ImportSubject(t.Context(), steward, in)
			if err != nil || !o.Created {
				t.Fatalf("existing %d: %+v %v", i, o, err)
			}
			v.label[o.ID] = fmt.Sprintf("existing-%d", i)
		}
		return v
	}
	describe := func(v vaultUnderTest, i int, r vault.ImportResult) string {
		o := r.Outcome
		if o.Created {
			v.label[o.ID] = fmt.Sprintf("record-%d", i)
		}
		code := ""
		if r.Err != nil {
			code = string(vault.ErrorCode(r.Err))
		}
		return fmt.Sprintf("%s created=%v duplicate=%v merged=%v review=%v on=%q err=%s", v.label[o.ID], o.Created, o.Duplicate, o.Merged, o.Review, o.MatchedOn, code)
	}
	entries := func(v vaultUnderTest) []string { return trailSummary(t, v.store, v.crypto, v.label) }

	batched, single := setUp(), setUp()
	var got, want []string
	for i, r := range batched.svc.Ingestion().ImportSubjects(t.Context(), steward, batch) {
		got = append(got, describe(batched, i, r))
	}
	for i, in := range batch {
		o, err := single.svc.Ingestion().ImportSubject(t.Context(), steward, in)
		want = append(want, describe(single, i, vault.ImportResult{Outcome: o, Err: err}))
	}
	if !slices.Equal(got, want) {
		t.Errorf("outcomes differ\nbatch:\n  %s\none at a time:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The batch exercised what it means to: every kind of outcome.
	for _, kind := range []string{"record-0 created=true", "existing-0 created=false duplicate=true", "existing-0 created=false duplicate=false merged=true",
		"record-3 created=false duplicate=false merged=true", "review=true", "record-3 created=false duplicate=true", "err=invalid_argument",
		"existing-1 created=false duplicate=false merged=true"} {
		if !slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, kind) }) {
			t.Errorf("no record came out %q: %v", kind, want)
		}
	}
	if !strings.Contains(want[11], "review=true") {
		t.Errorf("the record after the merge that gave 李娜 a birth date was not queued for review: %s", want[11])
	}
	for _, table := range []string{"subjects", "deks", "fields", "blind_index"} {
		b, err1 := batched.store.CountRows(t.Context(), table)
		s, err2 := single.store.CountRows(t.Context(), table)
		if err1 != nil || err2 != nil || b != s {
			t.Errorf("%s: %d rows after the batch, %d one at a time (%v %v)", table, b, s, err1, err2)
		}
	}
	if b, s := entries(batched), entries(single); !slices.Equal(b, s) {
		t.Errorf("audit entries differ\nbatch:\n  %s\none at a time:\n  %s", strings.Join(b, "\n  "), strings.Join(s, "\n  "))
	}
}

// ResolveSubjects answers every reference as ResolveSubject does: vault ids and external ids of active
// subjects, an erased subject, unknown and malformed references, repeats; and refuses, with an entry per
// reference, a caller who may not resolve subjects.
func TestResolveSubjectsAsResolveSubject(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	var ids []string
	for i, ext := range []string{"c-1", "c-2", "c:3"} {
		o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: ext, Source: "crm", Fields: map[string]*string{"name": str(fmt.Sprintf("客户%d", i))}})
		if err != nil || !o.Created {
			t.Fatal(o, err)
		}
		ids = append(ids, o.ID)
	}
	if _, err := svc.Profiles().Erase(ctx, steward, ids[1]); err != nil {
		t.Fatal(err)
	}
	refs := []string{"external:crm:c-1", ids[0], "external:crm:c-2", ids[1], "external:crm:c:3", "external:crm:c-9", "external:crm", "external:crm:",
		"external:", "sub_nobody", "", "external:crm:c-1", ids[2], "external:app:c-1"}
	got := svc.Ingestion().ResolveSubjects(ctx, steward, refs)
	for i, ref := range refs {
		id, err := svc.Ingestion().ResolveSubject(ctx, steward, ref)
		if got[i].ID != id || fmt.Sprint(got[i].Err) != fmt.Sprint(err) {
			t.Errorf("%q: ResolveSubjects %q %v; ResolveSubject %q %v", ref, got[i].ID, got[i].Err, id, err)
		}
	}
	if got[0].ID != ids[0] || got[4].ID != ids[2] || got[11].ID != ids[0] {
		t.Errorf("known references not resolved: %+v", got)
	}
	svc.Profiles().WaitPurges() // the erasure's purge has its entry
	before := store.Size()
	marketer := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	for _, r := range svc.Ingestion().ResolveSubjects(ctx, marketer, refs[:3]) {
		if vault.ErrorCode(r.Err) != vault.CodePermissionDenied || r.ID != "" {
			t.Fatalf("a marketer resolved a subject: %+v", r)
		}
	}
	if n := store.Size() - before; n != 3 {
		t.Errorf("%d entries for 3 refused references", n)
	}
}

// trailSummary describes the trail without sequence numbers, times, ids and hashes — action, decision,
// status, reason (merge and review ids cut), fields, decision inputs and whose subject (by its label in
// labels, a subject id → name) — sorted, so that two vaults' trails of the same work compare equal.
func trailSummary(t *testing.T, store *sqlite.Store, crypto *keys.VaultCrypto, labels map[string]string) []string {
	t.Helper()
	refs := map[string]string{}
	for id, label := range labels {
		rec, err := store.Subject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		refs[crypto.Pseudonym("subject:"+hex.EncodeToString(rec.RefSalt)+":"+id)] = label
		refs[crypto.Pseudonym("subject-without-salt:"+id)] = label
	}
	var out []string
	for seq := int64(1); seq <= store.Size(); seq++ {
		canon, err := store.Leaf(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			t.Fatal(err)
		}
		var reason []string
		for _, part := range strings.Fields(e.Reason) {
			if k, _, ok := strings.Cut(part, ":"); ok && (k == "merge" || k == "review") {
				part = k
			}
			reason = append(reason, part)
		}
		who := refs[e.SubjectRef]
		if e.SubjectRef != "" && who == "" {
			who = "unknown"
		}
		out = append(out, fmt.Sprintf("%s %s %d %q %v %v %v %v %d %s", e.Action, e.Decision, e.Status, strings.Join(reason, " "), e.FieldsRequested, e.FieldsGranted, e.FieldsWithheld, e.DecisionInputs, len(e.ConsentIDs), who))
	}
	slices.Sort(out)
	return out
}
