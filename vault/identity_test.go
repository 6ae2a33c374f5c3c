package vault_test

import (
	"slices"
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func TestImportResolvesIdentity(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	base, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "c-1", Source: "crm",
		Fields: map[string]*string{"name": str("王芳"), "phone": str("+8613800001234"), "email": str("wang@example.cn"), "birth_date": str("1990-04-01")}})
	if err != nil || !base.Created {
		t.Fatalf("first import: %+v %v", base, err)
	}
	if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, base.ID, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   vault.NewSubject
		want func(vault.ImportOutcome) bool
	}{
		{"same source record again", vault.NewSubject{ExternalID: "c-1", Source: "crm", Fields: map[string]*string{"name": str("王芳")}},
			func(o vault.ImportOutcome) bool { return o.Duplicate && o.ID == base.ID }},
		{"same email from the app", vault.NewSubject{ExternalID: "a-9", Source: "app", Fields: map[string]*string{"email": str("WANG@example.cn"), "city": str("杭州")}},
			func(o vault.ImportOutcome) bool { return o.Merged && o.ID == base.ID && o.MatchedOn == "email" }},
		{"same phone and name at the till", vault.NewSubject{ExternalID: "p-3", Source: "pos", Fields: map[string]*string{"phone": str("138 0000 1234"), "name": str("王 芳"), "occupation": str("teacher")}},
			func(o vault.ImportOutcome) bool { return o.Merged && o.ID == base.ID && o.MatchedOn == "phone" }},
		{"family phone, another name", vault.NewSubject{ExternalID: "p-4", Source: "pos", Fields: map[string]*string{"phone": str("13800001234"), "name": str("王小明")}},
			func(o vault.ImportOutcome) bool { return o.Created && o.Review && o.ID != base.ID }},
		// A child shares the parent's phone and a similar name (王芳芳: 0.91 against 王芳), but not the birth
		// date: two people, never merged (the child's consents would land on the parent, around the
		// guardian rule).
		{"family phone, similar name, another birth date", vault.NewSubject{ExternalID: "p-5", Source: "pos",
			Fields: map[string]*string{"phone": str("13800001234"), "name": str("王芳芳"), "birth_date": str("2016-05-01")}},
			func(o vault.ImportOutcome) bool { return o.Created && o.Review && o.ID != base.ID }},
		// A shared email with another name, birth date or id number says another person, too.
		{"same email, another person", vault.NewSubject{ExternalID: "a-7", Source: "app",
			Fields: map[string]*string{"email": str("wang@example.cn"), "name": str("张伟"), "birth_date": str("1985-05-05")}},
			func(o vault.ImportOutcome) bool { return o.Created && o.Review && o.ID != base.ID }},
	} {
		o, err := svc.Ingestion().ImportSubject(ctx, steward, tc.in)
		if err != nil || !tc.want(o) {
			t.Fatalf("%s: %+v %v", tc.name, o, err)
		}
	}
	// The family-phone import opened the existing subject's name to compare it: that read is on the
	// existing subject's own access log.
	self := vault.Access{Caller: vault.Caller{Subject: base.ID, Roles: []policies.Role{vault.RoleSubject}}}
	page, err := svc.DataSubjects().MeAccessLog(ctx, self, "", 1000)
	log := page.Entries
	if err != nil || !slices.ContainsFunc(log, func(e vault.AccessLogEntry) bool { return e.Action == string(vault.ActionMergeReview) }) {
		t.Fatalf("the compared name's owner does not see the comparison: %+v %v", log, err)
	}
	// The merges filled missing fields and never overwrote; the app's external id now finds the subject.
	v, err := svc.Profiles().Read(ctx, agent, base.ID, []string{"name", "city"})
	if err != nil || v.Fields["name"] != "王芳" || v.Fields["city"] != "杭州" {
		t.Fatalf("after merges: %+v %v", v, err)
	}
	if id, err := svc.Ingestion().ResolveSubject(ctx, steward, "external:app:a-9"); err != nil || id != base.ID {
		t.Fatalf("external id after merge: %q %v", id, err)
	}
	if n, _ := store.CountRows(ctx, "subjects"); n != 4 {
		t.Fatalf("%d subjects, want 4 (one merged person, three others sharing an identifier)", n)
	}
	// A merge never carries a consent across: the family member has none.
	fam, _ := svc.Ingestion().ResolveSubject(ctx, steward, "external:pos:p-4")
	rec, _ := store.Subject(ctx, fam)
	if len(rec.Consents) != 0 {
		t.Fatal("consent carried to another subject")
	}
}

func TestNearIdenticalNameGoesToReview(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	first, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "c-1", Source: "crm",
		Fields: map[string]*string{"name": str("欧阳娜娜"), "birth_date": str("1990-05-01"), "city": str("杭州")}})
	if err != nil || !first.Created {
		t.Fatalf("first: %+v %v", first, err)
	}
	for _, tc := range []struct {
		name, display, birth string
		review               bool
	}{
		{"spacing only", "欧阳 娜娜", "1990-05-01", true},
		{"one character dropped", "欧阳娜", "1990-05-01", true},
		{"one character typed wrong", "欧阳那娜", "1990-05-01", true},
		{"same name, other birth date", "欧阳娜娜", "1991-05-01", false},
		{"different name", "李娜", "1990-05-01", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "x-" + tc.name, Source: "pos",
				Fields: map[string]*string{"name": str(tc.display), "birth_date": str(tc.birth)}})
			if err != nil || !o.Created || o.Merged {
				t.Fatalf("%+v %v (a name never merges on its own)", o, err)
			}
			if o.Review != tc.review {
				t.Fatalf("review %v, want %v", o.Review, tc.review)
			}
		})
	}
	// A correction of the name moves the subject's name keys with it.
	if _, err := svc.Profiles().Update(ctx, steward, first.ID, map[string]*string{"name": str("张伟明")}); err != nil {
		t.Fatal(err)
	}
	o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "y-1", Source: "pos",
		Fields: map[string]*string{"name": str("张伟朋"), "birth_date": str("1990-05-01")}})
	if err != nil || !o.Review {
		t.Fatalf("after the correction: %+v %v", o, err)
	}
	reviews, err := store.Reviews(ctx, "open", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reviews {
		if r.Reason != "similar_name_same_birth_date" {
			t.Fatalf("review reason %q", r.Reason)
		}
	}
}

// An erased person's source record is not imported again — alone or in a batch — so a re-import of the
// same files never brings them back (their consents and behaviour then find no subject either).
func TestAnErasedPersonIsNotImportedAgain(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	rec := vault.NewSubject{ExternalID: "T2", Source: "crm", Fields: map[string]*string{"name": str("王芳"), "phone": str("+8613800009999")}}
	o, err := svc.Ingestion().ImportSubject(ctx, steward, rec)
	if err != nil || !o.Created {
		t.Fatalf("import: %+v %v", o, err)
	}
	if _, err := svc.Profiles().Erase(ctx, steward, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Ingestion().ImportSubject(ctx, steward, rec); vault.ErrorReason(err) != "erased_subject" {
		t.Fatalf("a re-import of the erased person's record: %v", err)
	}
	other := vault.NewSubject{ExternalID: "T3", Source: "crm", Fields: map[string]*string{"name": str("李雷")}}
	res := svc.Ingestion().ImportSubjects(ctx, steward, []vault.NewSubject{rec, other})
	if vault.ErrorReason(res[0].Err) != "erased_subject" || res[1].Err != nil || !res[1].Outcome.Created {
		t.Fatalf("a batch: %+v %+v", res[0], res[1])
	}
	if n, _ := store.CountRows(ctx, "subjects"); n != 2 {
		t.Fatalf("%d subject rows, want the erased one and T3", n)
	}
}

// A resident id number is one person's: a record holding one a subject holds is merged into it whatever its
// phone and email say — one at a time and in a batch — unless its birth date or name says another person (a
// mistyped number), which is created and queued. Before, the id number only kept records apart: the same
// person from the till with a new phone became a second subject holding the same id number.
func TestIDNumberMergesOnItsOwn(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	base, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "c-1", Source: "crm",
		Fields: map[string]*string{"name": str("李雷"), "id_number": str("11010519900307101x"), "birth_date": str("1990-03-07"), "phone": str("13800001111")}})
	if err != nil || !base.Created {
		t.Fatalf("first import: %+v %v", base, err)
	}
	o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "p-1", Source: "pos",
		Fields: map[string]*string{"name": str("李 雷"), "id_number": str("11010519900307101X"), "phone": str("13900002222"), "city": str("北京")}})
	if err != nil || !o.Merged || o.ID != base.ID || o.MatchedOn != "id_number" {
		t.Fatalf("same id number, another phone: %+v %v", o, err)
	}
	res := svc.Ingestion().ImportSubjects(ctx, steward, []vault.NewSubject{
		{ExternalID: "a-1", Source: "app", Fields: map[string]*string{"id_number": str("11010519900307101X"), "email": str("li@example.cn")}},
		{ExternalID: "a-2", Source: "app", Fields: map[string]*string{"name": str("韩梅梅"), "phone": str("13700003333")}},
	})
	if res[0].Err != nil || !res[0].Outcome.Merged || res[0].Outcome.ID != base.ID || res[1].Err != nil || !res[1].Outcome.Created {
		t.Fatalf("a batch: %+v", res)
	}
	o, err = svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "p-2", Source: "pos",
		Fields: map[string]*string{"name": str("王五"), "id_number": str("11010519900307101X")}})
	if err != nil || !o.Created || !o.Review || o.ID == base.ID {
		t.Fatalf("same id number, another name: %+v %v", o, err)
	}
	if n, _ := store.CountRows(ctx, "subjects"); n != 3 {
		t.Fatalf("%d subjects, want 3 (李雷, 韩梅梅, and the record queued against 李雷)", n)
	}
	v, err := svc.Profiles().Read(ctx, agent, base.ID, []string{"phone", "city", "email"})
	if err != nil || v.Fields["phone"] != "+8613800001111" || v.Fields["city"] != "北京" || v.Fields["email"] != "li@example.cn" {
		t.Fatalf("after the merges: %+v %v", v, err)
	}
}
