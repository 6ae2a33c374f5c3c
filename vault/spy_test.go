package vault_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// The spy test runs every exported operation of the enforcement point on a real SQLite store and key
// ring, with a Crypto and a Store that record, in order, each decryption and each audit entry made
// durable. It asserts two things for every operation:
//
//   - no Open precedes the durable entry that covers it: an entry of the same operation, durable before
//     the Open, about the opened subject (or a batch entry naming no subject); the one exception is a
//     decision-time open, which the entry appended after it must name in decision_inputs;
//   - every refusal left an entry: run as a caller it must refuse, the operation fails and a deny entry
//     became durable during it.
//
// The table must have a row for every exported method (reflection checks it), so a new operation
// without one fails here.

type spyEvent struct {
	open    bool
	subject string // open: the DEK's subject
	ad      string // open: what was opened
	ref     string // open: the subject's audit pseudonym when it was opened
	entry   audit.Entry
}

type spyLog struct {
	mu     sync.Mutex
	events []spyEvent
	ref    func(subject string) string
}

func (l *spyLog) add(e spyEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *spyLog) take() []spyEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

type spyCrypto struct {
	vault.Crypto
	log *spyLog
}

func (c spyCrypto) Open(d vault.DEK, ad string, sealed []byte) ([]byte, error) {
	c.log.add(spyEvent{open: true, subject: d.Subject, ad: ad, ref: c.log.ref(d.Subject)})
	return c.Crypto.Open(d, ad, sealed)
}

type spyStore struct {
	*sqlite.Store
	log *spyLog
}

func (s spyStore) Commit(ctx context.Context, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	var e audit.Entry
	seq, err := s.Store.Commit(ctx, change, func(cerr error) audit.Entry { e = entry(cerr); return e })
	if seq > 0 {
		e.Seq = seq
		s.log.add(spyEvent{entry: e})
	}
	return seq, err
}

func (s spyStore) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	var es []audit.Entry
	seq, err := s.Store.CommitMany(ctx, change, func(cerr error) []audit.Entry { es = entries(cerr); return es })
	if seq > 0 {
		for k, e := range es {
			e.Seq = seq + int64(k)
			s.log.add(spyEvent{entry: e})
		}
	}
	return seq, err
}

func (s spyStore) ReleaseWith(ctx context.Context, g vault.Guard, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	var e audit.Entry
	seq, err := s.Store.ReleaseWith(ctx, g, change, func(cerr error) audit.Entry { e = entry(cerr); return e })
	if seq > 0 {
		e.Seq = seq
		s.log.add(spyEvent{entry: e})
	}
	return seq, err
}

func (s spyStore) Release(ctx context.Context, g vault.Guard, e audit.Entry) (int64, error) {
	seq, err := s.Store.Release(ctx, g, e)
	if err == nil {
		e.Seq = seq
		s.log.add(spyEvent{entry: e})
	}
	return seq, err
}

// fixture is a vault with subjects, consents, events, tags, requests, a merge and a review.
type fixture struct {
	svc                 *vault.Service
	log                 *spyLog
	adult, child, other string
	leaver              string // erases themselves
	subjectAccess       vault.Access
	requestID, mergeID  string
	reviewID            string
}

var (
	marketer   = vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	analyst    = vault.Access{Caller: vault.Caller{Subject: "an", Roles: []policies.Role{"analyst"}}, Purpose: "analytics"}
	compliance = vault.Access{Caller: vault.Caller{Subject: "co", Roles: []policies.Role{"compliance_officer"}}, Purpose: "compliance_audit"}
	admin      = vault.Access{Caller: vault.Caller{Subject: "root", Roles: []policies.Role{"admin"}}}
	fulfil     = vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "order_fulfillment"}
	tagger     = vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, store, real := testConfig(t)
	log := &spyLog{}
	cfg.Store, cfg.Crypto = spyStore{Store: store, log: log}, spyCrypto{Crypto: real, log: log}
	cfg.KeyRing, cfg.KeyStore, cfg.ExclusiveStore, cfg.LookupBurst = real, store, true, 1<<20
	cfg.NameSimilarity = func(a, b string) float64 {
		if a == b {
			return 1
		}
		return 0
	}
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The pseudonym of a subject as entries name it, derived like the vault does from the stored salt (read
	// from the store's readers: an open may happen inside the writer's transaction).
	log.ref = func(subject string) string {
		rec, err := store.Subject(context.Background(), subject)
		if err != nil || len(rec.RefSalt) == 0 {
			return real.Pseudonym("subject-without-salt:" + subject)
		}
		return real.Pseudonym("subject:" + hex.EncodeToString(rec.RefSalt) + ":" + subject)
	}
	f := &fixture{svc: svc, log: log}
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.RecordPolicyInForce(ctx, admin))
	a, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{Source: "crm", ExternalID: "c-1", Fields: profile()})
	must(err)
	f.adult = a.ID
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("小明"), "birth_date": str("2018-05-01"), "phone": str("+8613900002222")}})
	must(err)
	f.child = c.ID
	o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{Source: "app", ExternalID: "a-1", Fields: map[string]*string{"email": str("wang.fang@example.cn"), "occupation": str("teacher")}})
	must(err)
	if !o.Merged {
		t.Fatalf("fixture merge: %+v", o)
	}
	r, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{Source: "pos", ExternalID: "p-1", Fields: map[string]*string{"phone": str("+8613800001234"), "name": str("王小红")}})
	must(err)
	f.other = r.ID
	l, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("离开"), "birth_date": str("1970-01-01")}})
	must(err)
	f.leaver = l.ID
	for _, p := range []policies.PurposeName{"marketing", "analytics", "personalization"} {
		_, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, f.adult, consent.Grant{Purpose: p, Kind: consent.General, NoticeVersion: "2026-01", Method: "web", Evidence: "form 7"})
		must(err)
	}
	now := time.Now().Add(-time.Hour)
	_, err = svc.Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{
		{EventID: "e1", SubjectRef: f.adult, Type: "order", TS: now, Source: "shop", Attrs: map[string]any{"amount": 99.5, "items": []string{"tea"}}},
		{EventID: "e2", SubjectRef: f.adult, Type: "order", TS: now.Add(time.Minute), Source: "shop", Attrs: map[string]any{"amount": 12.0, "items": []string{"cup"}}},
	})
	must(err)
	_, _, err = svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: f.adult, Purpose: "marketing", ConsentIDs: consentIDs(svc, f.adult, "marketing"),
		Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: "champions", Inputs: []string{"transactions"}, ExplanationZH: "常买", ExplanationEN: "buys often", Algorithm: "rfm-1"}}}})
	must(err)
	f.subjectAccess = vault.Access{Caller: vault.Caller{Subject: f.adult, Roles: []policies.Role{vault.RoleSubject}}}
	req, _, err := svc.Requests().MeCreateRequest(ctx, f.subjectAccess, "correction")
	must(err)
	f.requestID = req.ID
	_, _, err = svc.Requests().TransitionRequest(ctx, compliance, req.ID, "rejected", "nothing to correct")
	must(err)
	merges, err := svc.Stewardship().Merges(ctx, steward, "", 0)
	must(err)
	f.mergeID = merges.Rows[0].ID
	reviewPage, err := svc.Stewardship().Reviews(ctx, steward, "open", "", 0)
	must(err)
	reviews := reviewPage.Rows
	if len(reviews) == 0 {
		t.Fatal("fixture has no review")
	}
	f.reviewID = reviews[0].ID
	log.take()
	return f
}

// consentIDs lists the subject's current consents of purpose (none if they cannot be read).
func consentIDs(svc *vault.Service, id string, purpose policies.PurposeName) []string {
	cs, _ := svc.ConsentRecords().ListConsents(context.Background(), steward, id)
	var out []string
	for _, c := range cs.Current {
		if c.Purpose == purpose {
			out = append(out, c.ID)
		}
	}
	return out
}

// batchErr is the first error of a batch's results.
func batchErr(results []vault.ImportResult) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// consentErr is the first error of ImportConsents's answers.
func consentErr(results []vault.ConsentImported) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// resolvedErr is the first error of ResolveSubjects's answers.
func resolvedErr(results []vault.Resolved) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// op is one row: how to run the operation as it is meant to be used, and as a caller it must refuse.
type op struct {
	run    func(f *fixture) error
	refuse func(f *fixture) error
	// exempt says why the method needs neither (it touches no personal data and decides nothing).
	exempt string
}

func ops() map[string]op {
	ctx := context.Background()
	e1 := func(_ any, err error) error { return err }
	e2 := func(_, _ any, err error) error { return err }
	e3 := func(_, _, _ any, err error) error { return err }
	noData := "touches no personal data"
	return map[string]op{
		"Profiles.Read": {run: func(f *fixture) error {
			return e1(f.svc.Profiles().Read(ctx, marketer, f.adult, []string{"phone", "city", "birth_date"}))
		},
			refuse: func(f *fixture) error { return e1(f.svc.Profiles().Read(ctx, analyst, f.adult, nil)) }},
		"Profiles.Update": {run: func(f *fixture) error {
			return e1(f.svc.Profiles().Update(ctx, steward, f.adult, map[string]*string{"name": str("王芳芳")}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Profiles().Update(ctx, marketer, f.adult, map[string]*string{"city": str("x")}))
		}},
		"Profiles.Create": {run: func(f *fixture) error {
			return e1(f.svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("新人")}}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Profiles().Create(ctx, marketer, vault.NewSubject{Fields: map[string]*string{"name": str("x")}}))
		}},
		"Ingestion.ImportSubject": {run: func(f *fixture) error {
			return e1(f.svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{Source: "pos", ExternalID: "p-9", Fields: map[string]*string{"phone": str("+8613800001234"), "name": str("王芳芳")}}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Ingestion().ImportSubject(ctx, marketer, vault.NewSubject{Source: "pos", ExternalID: "p-8", Fields: map[string]*string{"phone": str("+8613800001234"), "name": str("王芳")}}))
		}},
		"Ingestion.ResealEvents": {run: func(f *fixture) error { return e1(f.svc.Ingestion().ResealEvents(ctx, admin, vault.ResealOptions{})) },
			refuse: func(f *fixture) error {
				return e1(f.svc.Ingestion().ResealEvents(ctx, marketer, vault.ResealOptions{}))
			}},
		// A batch: a family phone (the name opened to compare), a new record created in the batch's change,
		// and a duplicate; the marketer's batch is refused record by record.
		"Ingestion.ImportSubjects": {run: func(f *fixture) error {
			return batchErr(f.svc.Ingestion().ImportSubjects(ctx, steward, []vault.NewSubject{
				{Source: "pos", ExternalID: "p-20", Fields: map[string]*string{"phone": str("+8613800001234"), "name": str("李四")}},
				{Source: "pos", ExternalID: "p-21", Fields: map[string]*string{"phone": str("+8613800005678"), "name": str("张三"), "birth_date": str("1990-01-02")}},
				{Source: "crm", ExternalID: "c-1", Fields: profile()},
			}))
		}, refuse: func(f *fixture) error {
			return batchErr(f.svc.Ingestion().ImportSubjects(ctx, marketer, []vault.NewSubject{
				{Source: "pos", ExternalID: "p-22", Fields: map[string]*string{"phone": str("+8613800001234"), "name": str("王芳")}},
				{Source: "pos", ExternalID: "p-23", Fields: map[string]*string{"name": str("赵六")}},
			}))
		}},
		"Ingestion.ResolveSubjects": {run: func(f *fixture) error {
			return resolvedErr(f.svc.Ingestion().ResolveSubjects(ctx, steward, []string{"external:crm:c-1", f.adult, "external:crm:c-1"}))
		}, refuse: func(f *fixture) error {
			return resolvedErr(f.svc.Ingestion().ResolveSubjects(ctx, marketer, []string{"external:crm:c-1", f.adult}))
		}},
		"Ingestion.ResolveSubject": {run: func(f *fixture) error { return e1(f.svc.Ingestion().ResolveSubject(ctx, steward, "external:crm:c-1")) },
			refuse: func(f *fixture) error { return e1(f.svc.Ingestion().ResolveSubject(ctx, marketer, "external:crm:c-1")) }},
		"Profiles.Lookup": {run: func(f *fixture) error { return e1(f.svc.Profiles().Lookup(ctx, steward, "phone", "13800001234")) },
			refuse: func(f *fixture) error { return e1(f.svc.Profiles().Lookup(ctx, analyst, "phone", "13800001234")) }},
		"Profiles.Erase": {run: func(f *fixture) error { return e1(f.svc.Profiles().Erase(ctx, steward, f.other)) },
			refuse: func(f *fixture) error { return e1(f.svc.Profiles().Erase(ctx, marketer, f.child)) }},
		"ConsentRecords.ListConsents": {run: func(f *fixture) error { return e1(f.svc.ConsentRecords().ListConsents(ctx, steward, f.adult)) },
			refuse: func(f *fixture) error { return e1(f.svc.ConsentRecords().ListConsents(ctx, analyst, f.adult)) }},
		"ConsentRecords.GrantConsent": {run: func(f *fixture) error {
			return e2(f.svc.ConsentRecords().GrantConsent(ctx, steward, f.adult, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app", Evidence: "tap"}))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.ConsentRecords().GrantConsent(ctx, steward, f.child, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"}))
		}},
		"ConsentRecords.ImportConsent": {run: func(f *fixture) error {
			return e1(f.svc.ConsentRecords().ImportConsent(ctx, steward, f.adult, consent.Grant{Purpose: "analytics", Kind: consent.General, NoticeVersion: "2026-01", Method: "web", Evidence: "form 7"}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.ConsentRecords().ImportConsent(ctx, marketer, f.adult, consent.Grant{Purpose: "analytics", Kind: consent.General, NoticeVersion: "2026-01", Method: "web"}))
		}},
		// A batch: two subjects' new grants recorded in one change (the adult's birth date opened for the age
		// rule), an identical grant again (a duplicate), and the child's, which the age rule refuses.
		"ConsentRecords.ImportConsents": {run: func(f *fixture) error {
			grant := func(p policies.PurposeName, method string) consent.Grant {
				return consent.Grant{Purpose: p, Kind: consent.General, NoticeVersion: "2026-01", Method: method, Evidence: "form 8"}
			}
			res := f.svc.ConsentRecords().ImportConsents(ctx, steward, []vault.ConsentImport{
				{Subject: f.adult, Grant: grant("analytics", "batch")}, {Subject: f.other, Grant: grant("analytics", "batch")},
				{Subject: f.leaver, Grant: grant("marketing", "batch")}, {Subject: f.child, Grant: grant("marketing", "batch")},
			})
			for i, r := range res[:3] {
				if r.Err != nil {
					return fmt.Errorf("record %d: %w", i, r.Err)
				}
			}
			if vault.ErrorCode(res[3].Err) != vault.CodeGuardianConsentRequired {
				return fmt.Errorf("the child's grant: %v", res[3].Err)
			}
			return nil
		}, refuse: func(f *fixture) error {
			return consentErr(f.svc.ConsentRecords().ImportConsents(ctx, marketer, []vault.ConsentImport{
				{Subject: f.adult, Grant: consent.Grant{Purpose: "analytics", Kind: consent.General, NoticeVersion: "2026-01", Method: "web"}},
				{Subject: f.other, Grant: consent.Grant{Purpose: "analytics", Kind: consent.General, NoticeVersion: "2026-01", Method: "web"}},
			}))
		}},
		"ConsentRecords.WithdrawConsent": {run: func(f *fixture) error {
			return e2(f.svc.ConsentRecords().WithdrawConsent(ctx, steward, f.adult, "personalization"))
		},
			refuse: func(f *fixture) error {
				return e2(f.svc.ConsentRecords().WithdrawConsent(ctx, analyst, f.adult, "marketing"))
			}},
		"ConsentRecords.RecordObjection": {run: func(f *fixture) error {
			return e1(f.svc.ConsentRecords().RecordObjection(ctx, steward, f.child, "personalized_marketing"))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.ConsentRecords().RecordObjection(ctx, analyst, f.child, "personalized_marketing"))
			}},
		"ConsentRecords.ImportObjection": {run: func(f *fixture) error {
			return e1(f.svc.ConsentRecords().ImportObjection(ctx, steward, f.adult, "personalized_marketing"))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.ConsentRecords().ImportObjection(ctx, analyst, f.adult, "personalized_marketing"))
			}},
		"Ingestion.IngestEvents": {run: func(f *fixture) error {
			return e1(f.svc.Ingestion().IngestEvents(ctx, vault.Access{Caller: steward.Caller, Purpose: "personalization"}, []vault.EventInput{
				{EventID: "v1", SubjectRef: f.child, Type: "page_view", TS: time.Now().Add(-time.Minute), Source: "app"}}))
		}, refuse: func(f *fixture) error {
			// (A staff role without the category is refused per event, in the batch's entry: API.md.)
			return e1(f.svc.Ingestion().IngestEvents(ctx, vault.Access{Caller: f.subjectAccess.Caller, Purpose: "order_fulfillment"}, []vault.EventInput{
				{EventID: "o9", SubjectRef: f.adult, Type: "order", TS: time.Now().Add(-time.Minute), Source: "shop"}}))
		}},
		"Ingestion.SaveImportReport": {run: func(f *fixture) error {
			return e1(f.svc.Ingestion().SaveImportReport(ctx, steward, []string{"accepted: 1"}))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.Ingestion().SaveImportReport(ctx, marketer, []string{"accepted: 1"}))
			}},
		"Stewardship.Merges": {run: func(f *fixture) error { return e1(f.svc.Stewardship().Merges(ctx, steward, "", 0)) },
			refuse: func(f *fixture) error { return e1(f.svc.Stewardship().Merges(ctx, marketer, "", 0)) }},
		"Stewardship.Reviews": {run: func(f *fixture) error { return e1(f.svc.Stewardship().Reviews(ctx, steward, "open", "", 0)) },
			refuse: func(f *fixture) error { return e1(f.svc.Stewardship().Reviews(ctx, marketer, "open", "", 0)) }},
		"Stewardship.ImportReports": {run: func(f *fixture) error { return e2(f.svc.Stewardship().ImportReports(ctx, steward)) },
			refuse: func(f *fixture) error { return e2(f.svc.Stewardship().ImportReports(ctx, marketer)) }},
		"Stewardship.DecideReview": {run: func(f *fixture) error {
			return e1(f.svc.Stewardship().DecideReview(ctx, steward, f.reviewID, "distinct"))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.Stewardship().DecideReview(ctx, marketer, f.reviewID, "distinct"))
			}},
		"Stewardship.RevertMerge": {run: func(f *fixture) error { return e1(f.svc.Stewardship().RevertMerge(ctx, steward, f.mergeID)) },
			refuse: func(f *fixture) error { return e1(f.svc.Stewardship().RevertMerge(ctx, marketer, f.mergeID)) }},
		"DataSubjects.Me":       {run: func(f *fixture) error { return e1(f.svc.DataSubjects().Me(ctx, f.subjectAccess)) }, refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().Me(ctx, marketer)) }},
		"DataSubjects.MeExport": {run: func(f *fixture) error { return e1(f.svc.DataSubjects().MeExport(ctx, f.subjectAccess)) }, refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeExport(ctx, steward)) }},
		"DataSubjects.MeUpdate": {run: func(f *fixture) error {
			return e1(f.svc.DataSubjects().MeUpdate(ctx, f.subjectAccess, map[string]*string{"city": str("宁波")}))
		}, refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeUpdate(ctx, steward, nil)) }},
		"DataSubjects.MeErase": {run: func(f *fixture) error { return e1(f.svc.DataSubjects().MeErase(ctx, leaverAccess(f))) }, refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeErase(ctx, steward)) }},
		"Requests.MeRequests":  {run: func(f *fixture) error { return e2(f.svc.Requests().MeRequests(ctx, f.subjectAccess)) }, refuse: func(f *fixture) error { return e2(f.svc.Requests().MeRequests(ctx, compliance)) }},
		"DataSubjects.MeExportStream": {run: func(f *fixture) error {
			x, err := f.svc.DataSubjects().MeExportStream(ctx, f.subjectAccess)
			if err != nil {
				return err
			}
			defer x.Done()
			return x.EachEvent(func(vault.EventView) error { return nil })
		}, refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeExportStream(ctx, marketer)) }},
		"DataSubjects.MeAccessLog": {run: func(f *fixture) error { return e1(f.svc.DataSubjects().MeAccessLog(ctx, f.subjectAccess, "", 0)) },
			refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeAccessLog(ctx, compliance, "", 0)) }},
		"DataSubjects.MeExplanation": {run: func(f *fixture) error { return e3(f.svc.DataSubjects().MeExplanation(ctx, f.subjectAccess, "zh")) },
			refuse: func(f *fixture) error { return e3(f.svc.DataSubjects().MeExplanation(ctx, marketer, "zh")) }},
		"DataSubjects.MeWithdrawChannel": {run: func(f *fixture) error {
			return e1(f.svc.DataSubjects().MeWithdrawChannel(ctx, f.subjectAccess, "marketing", "email"))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.DataSubjects().MeWithdrawChannel(ctx, marketer, "marketing", "email"))
		}},
		"ConsentRecords.WithdrawChannel": {run: func(f *fixture) error {
			return e2(f.svc.ConsentRecords().WithdrawChannel(ctx, steward, f.adult, "marketing", "sms"))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.ConsentRecords().WithdrawChannel(ctx, analyst, f.adult, "marketing", "sms"))
		}},
		"DataSubjects.MeSetConsent": {run: func(f *fixture) error {
			return e1(f.svc.DataSubjects().MeSetConsent(ctx, f.subjectAccess, "analytics", false, "", ""))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.DataSubjects().MeSetConsent(ctx, childAccess(f), "marketing", true, "2026-01", ""))
			}},
		"DataSubjects.SetObjection": {run: func(f *fixture) error {
			return e1(f.svc.DataSubjects().SetObjection(ctx, f.subjectAccess, "personalized_marketing", true))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.DataSubjects().SetObjection(ctx, marketer, "personalized_marketing", true))
			}},
		"DataSubjects.MeRefuseTag": {run: func(f *fixture) error {
			return e1(f.svc.DataSubjects().MeRefuseTag(ctx, f.subjectAccess, "value.rfm_segment"))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.DataSubjects().MeRefuseTag(ctx, marketer, "value.rfm_segment"))
			}},
		"DataSubjects.MeAllowTag": {run: func(f *fixture) error {
			if _, err := f.svc.DataSubjects().MeRefuseTag(ctx, f.subjectAccess, "value.churn_risk"); err != nil {
				return err
			}
			return e1(f.svc.DataSubjects().MeAllowTag(ctx, f.subjectAccess, "value.churn_risk"))
		},
			refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeAllowTag(ctx, steward, "value.churn_risk")) }},
		"DataSubjects.MeLiftRestriction": {run: func(f *fixture) error {
			if _, _, err := f.svc.Requests().MeCreateRequest(ctx, f.subjectAccess, "restriction"); err != nil {
				return err
			}
			return e1(f.svc.DataSubjects().MeLiftRestriction(ctx, f.subjectAccess))
		},
			refuse: func(f *fixture) error { return e1(f.svc.DataSubjects().MeLiftRestriction(ctx, steward)) }},
		"Requests.RecordRelativeRequest": {run: func(f *fixture) error {
			return e2(f.svc.Requests().RecordRelativeRequest(ctx, vault.Access{Caller: compliance.Caller, Purpose: "compliance_audit"}, f.adult, "child", "death certificate no. 123"))
		},
			refuse: func(f *fixture) error {
				return e2(f.svc.Requests().RecordRelativeRequest(ctx, marketer, f.adult, "child", "certificate"))
			}},
		"Requests.MeCreateRequest": {run: func(f *fixture) error {
			return e2(f.svc.Requests().MeCreateRequest(ctx, f.subjectAccess, "explanation"))
		},
			refuse: func(f *fixture) error { return e2(f.svc.Requests().MeCreateRequest(ctx, steward, "explanation")) }},
		"Requests.MeWithdrawRequest": {run: func(f *fixture) error {
			r, _, err := f.svc.Requests().MeCreateRequest(ctx, f.subjectAccess, "restriction")
			if err != nil {
				return err
			}
			return e2(f.svc.Requests().MeWithdrawRequest(ctx, f.subjectAccess, r.ID))
		},
			refuse: func(f *fixture) error { return e2(f.svc.Requests().MeWithdrawRequest(ctx, steward, f.requestID)) }},
		"Requests.MeRelativeRequest": {run: func(f *fixture) error {
			return e2(f.svc.Requests().MeRelativeRequest(ctx, f.subjectAccess, "child", "death certificate no. 123"))
		},
			refuse: func(f *fixture) error {
				return e2(f.svc.Requests().MeRelativeRequest(ctx, steward, "child", "certificate"))
			}},
		"Requests.RequestQueue": {run: func(f *fixture) error { return e2(f.svc.Requests().RequestQueue(ctx, compliance, "", false)) },
			refuse: func(f *fixture) error { return e2(f.svc.Requests().RequestQueue(ctx, marketer, "", false)) }},
		"Requests.TransitionRequest": {run: func(f *fixture) error {
			r, _, err := f.svc.Requests().MeCreateRequest(ctx, f.subjectAccess, "correction")
			if err != nil {
				return err
			}
			return e2(f.svc.Requests().TransitionRequest(ctx, compliance, r.ID, "rejected", "already correct"))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.Requests().TransitionRequest(ctx, marketer, f.requestID, "completed", ""))
		}},
		"Tags.SubjectTags": {run: func(f *fixture) error { return e1(f.svc.Tags().SubjectTags(ctx, marketer, f.adult, "en")) },
			refuse: func(f *fixture) error {
				return e1(f.svc.Tags().SubjectTags(ctx, vault.Access{Caller: steward.Caller, Purpose: "marketing"}, f.adult, "en"))
			}},
		"Tags.TagInputs": {run: func(f *fixture) error {
			return e2(f.svc.Tags().TagInputs(ctx, tagger, f.svc.Tags().TagPurposes(), []string{f.adult, f.child}, func(vault.TagInput) error { return nil }))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.Tags().TagInputs(ctx, marketer, f.svc.Tags().TagPurposes(), []string{f.adult}, func(vault.TagInput) error { return nil }))
		}},
		"Tags.StoreTags": {run: func(f *fixture) error {
			return e2(f.svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: f.adult, Purpose: "analytics", ConsentIDs: consentIDs(f.svc, f.adult, "analytics"),
				Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: "loyal", Inputs: []string{"transactions"}, Algorithm: "rfm-1"}}}}))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.Tags().StoreTags(ctx, marketer, []vault.SubjectTags{{SubjectID: f.adult, Purpose: "marketing"}}))
		}},
		"Tags.AuthorizeTagCompute": {run: func(f *fixture) error { return e1(f.svc.Tags().AuthorizeTagCompute(ctx, tagger, "job:status")) },
			refuse: func(f *fixture) error { return e1(f.svc.Tags().AuthorizeTagCompute(ctx, marketer, "job:status")) }},
		"Tags.SaveTagModel": {run: func(f *fixture) error { return e1(f.svc.Tags().SaveTagModel(ctx, tagger, []byte(`{}`))) },
			refuse: func(f *fixture) error { return e1(f.svc.Tags().SaveTagModel(ctx, marketer, []byte(`{}`))) }},
		"Tags.TagModel": {run: func(f *fixture) error { return e1(f.svc.Tags().TagModel(ctx, tagger)) },
			refuse: func(f *fixture) error { return e1(f.svc.Tags().TagModel(ctx, marketer)) }},
		"Tags.DirtySubjects": {run: func(f *fixture) error { return e1(f.svc.Tags().DirtySubjects(ctx, tagger, 10)) },
			refuse: func(f *fixture) error { return e1(f.svc.Tags().DirtySubjects(ctx, analyst, 10)) }},
		"Tags.ActiveSubjectIDs": {run: func(f *fixture) error { return e1(f.svc.Tags().ActiveSubjectIDs(ctx, tagger, "", 10)) },
			refuse: func(f *fixture) error { return e1(f.svc.Tags().ActiveSubjectIDs(ctx, compliance, "", 10)) }},
		"Tags.Insights": {run: func(f *fixture) error { return e3(f.svc.Tags().Insights(ctx, analyst, "rfm")) },
			refuse: func(f *fixture) error {
				return e3(f.svc.Tags().Insights(ctx, vault.Access{Caller: steward.Caller, Purpose: "analytics"}, "rfm"))
			}},
		"Review.RecordIncident": {run: func(f *fixture) error {
			return e2(f.svc.Review().RecordIncident(ctx, compliance, vault.IncidentInput{Title: "misuse", DiscoveredAt: time.Now(), Since: time.Now().Add(-time.Hour),
				Until: time.Now().Add(time.Minute), Actor: "st", Notice: "an account was misused; we reset it"}))
		},
			refuse: func(f *fixture) error {
				return e2(f.svc.Review().RecordIncident(ctx, marketer, vault.IncidentInput{Title: "x", DiscoveredAt: time.Now(), Since: time.Now().Add(-time.Hour),
					Until: time.Now(), Actor: "st", Notice: "x"}))
			}},
		"Review.Incident": {run: func(f *fixture) error {
			inc, _, err := f.svc.Review().RecordIncident(ctx, compliance, vault.IncidentInput{Title: "misuse", DiscoveredAt: time.Now(), Since: time.Now().Add(-time.Hour),
				Until: time.Now().Add(time.Minute), Actor: "mk", Notice: "n"})
			if err != nil {
				return err
			}
			return e2(f.svc.Review().Incident(ctx, compliance, inc.ID))
		},
			refuse: func(f *fixture) error { return e2(f.svc.Review().Incident(ctx, marketer, "inc_x")) }},
		"Review.NotifyIncident": {run: func(f *fixture) error {
			inc, _, err := f.svc.Review().RecordIncident(ctx, compliance, vault.IncidentInput{Title: "misuse", DiscoveredAt: time.Now(), Notice: "n"})
			if err != nil {
				return err
			}
			return e2(f.svc.Review().NotifyIncident(ctx, compliance, inc.ID))
		},
			refuse: func(f *fixture) error { return e2(f.svc.Review().NotifyIncident(ctx, marketer, "inc_x")) }},
		"Review.Incidents": {run: func(f *fixture) error { return e2(f.svc.Review().Incidents(ctx, compliance)) },
			refuse: func(f *fixture) error { return e2(f.svc.Review().Incidents(ctx, marketer)) }},
		"DataSubjects.MeNotices": {run: func(f *fixture) error { return e2(f.svc.DataSubjects().MeNotices(ctx, f.subjectAccess)) },
			refuse: func(f *fixture) error { return e2(f.svc.DataSubjects().MeNotices(ctx, steward)) }},
		"Review.CrossBorderReport": {run: func(f *fixture) error { return e1(f.svc.Review().CrossBorderReport(ctx, compliance, 2026)) },
			refuse: func(f *fixture) error { return e1(f.svc.Review().CrossBorderReport(ctx, marketer, 2026)) }},
		// Access requests hold no personal data but subject ids (the justification is sealed); each is recorded.
		"AccessRequests.Request": {run: func(f *fixture) error { return e1(f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))) },
			refuse: func(f *fixture) error { return e1(f.svc.AccessRequests().Request(ctx, marketer, riskRequest(f))) }},
		"AccessRequests.List": {run: func(f *fixture) error { return e1(f.svc.AccessRequests().List(ctx, compliance, "", false, "", 0)) },
			refuse: func(f *fixture) error { return e1(f.svc.AccessRequests().List(ctx, f.subjectAccess, "", false, "", 0)) }},
		"AccessRequests.Decide": {run: func(f *fixture) error {
			r, err := f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))
			if err != nil {
				return err
			}
			return e1(f.svc.AccessRequests().Decide(ctx, compliance, r.ID, "approve", "", ""))
		}, refuse: func(f *fixture) error {
			r, err := f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))
			if err != nil {
				return err
			}
			return e1(f.svc.AccessRequests().Decide(ctx, csRisk, r.ID, "approve", "", ""))
		}},
		"AccessRequests.Revoke": {run: func(f *fixture) error {
			r, err := f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))
			if err != nil {
				return err
			}
			return e1(f.svc.AccessRequests().Revoke(ctx, csRisk, r.ID))
		}, refuse: func(f *fixture) error {
			r, err := f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))
			if err != nil {
				return err
			}
			return e1(f.svc.AccessRequests().Revoke(ctx, marketer, r.ID))
		}},
		"Ingestion.SubjectEvents": {run: func(f *fixture) error {
			return e1(f.svc.Ingestion().SubjectEvents(ctx, vault.Access{Caller: vault.Caller{Subject: "cs", Roles: []policies.Role{"customer_service"}}, Purpose: "customer_service"}, f.adult, vault.EventQuery{}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Ingestion().SubjectEvents(ctx, marketer, f.adult, vault.EventQuery{}))
		}},
		"Ingestion.GrantRows": {run: func(f *fixture) error {
			r, err := f.svc.AccessRequests().Request(ctx, csRisk, riskRequest(f))
			if err != nil {
				return err
			}
			ok, err := f.svc.AccessRequests().Decide(ctx, compliance, r.ID, "approve", "", "")
			if err != nil {
				return err
			}
			return e1(f.svc.Ingestion().GrantRows(ctx, csRisk, ok.GrantID, ""))
		}, refuse: func(f *fixture) error { return e1(f.svc.Ingestion().GrantRows(ctx, marketer, "grt_nope", "")) }},
		"Audiences.Build": {run: func(f *fixture) error {
			return e2(f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"}))
		}, refuse: func(f *fixture) error {
			return e2(f.svc.Audiences().Build(ctx, analyst, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"}))
		}},
		"Audiences.Members": {run: func(f *fixture) error {
			aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"})
			if err != nil {
				return err
			}
			return e1(f.svc.Audiences().Members(ctx, marketer, aud.ID, "", 10))
		}, refuse: func(f *fixture) error { return e1(f.svc.Audiences().Members(ctx, analyst, "aud_x", "", 10)) }},
		"Audiences.RecordOutcomes": {run: func(f *fixture) error {
			aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"})
			if err != nil {
				return err
			}
			page, err := f.svc.Audiences().Members(ctx, marketer, aud.ID, "", 10)
			if err != nil || len(page.Members) == 0 {
				return fmt.Errorf("members: %v %v", page, err)
			}
			yes := true
			return e1(f.svc.Audiences().RecordOutcomes(ctx, marketer, aud.ID, []vault.OutcomeUpdate{{Ref: page.Members[0].Ref, Converted: &yes}}))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Audiences().RecordOutcomes(ctx, analyst, "aud_x", []vault.OutcomeUpdate{{Ref: "x"}}))
		}},
		"Audiences.Report": {run: func(f *fixture) error {
			aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"})
			if err != nil {
				return err
			}
			return e1(f.svc.Audiences().Report(ctx, marketer, aud.ID))
		}, refuse: func(f *fixture) error { return e1(f.svc.Audiences().Report(ctx, analyst, "aud_x")) }},
		"Audiences.HoldoutRefs": {run: func(f *fixture) error {
			aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push", Holdout: 0.5})
			if err != nil {
				return err
			}
			_, _, _, err = f.svc.Audiences().HoldoutRefs(ctx, marketer, aud.ID, "", 10)
			return err
		}, refuse: func(f *fixture) error {
			_, _, _, err := f.svc.Audiences().HoldoutRefs(ctx, analyst, "aud_x", "", 10)
			return err
		}},
		"Audiences.List": {run: func(f *fixture) error { return e2(f.svc.Audiences().List(ctx, marketer)) },
			refuse: func(f *fixture) error { return e2(f.svc.Audiences().List(ctx, analyst)) }},
		"Audiences.Audience": {run: func(f *fixture) error {
			aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"})
			if err != nil {
				return err
			}
			_, _, _, err = f.svc.Audiences().Audience(ctx, marketer, aud.ID)
			return err
		}, refuse: func(f *fixture) error { _, _, _, err := f.svc.Audiences().Audience(ctx, analyst, "aud_x"); return err }},
		"Audiences.Plan": {run: func(f *fixture) error { return e1(f.svc.Audiences().Plan(ctx, marketer, 0.1)) },
			refuse: func(f *fixture) error { return e1(f.svc.Audiences().Plan(ctx, analyst, 0.1)) }},
		"Review.ActivityReport": {run: func(f *fixture) error {
			return e1(f.svc.Review().ActivityReport(ctx, compliance, time.Time{}, time.Time{}))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.Review().ActivityReport(ctx, marketer, time.Time{}, time.Time{}))
			}},
		"Review.ConsentRates": {run: func(f *fixture) error {
			return e1(f.svc.Review().ConsentRates(ctx, compliance, time.Time{}, time.Time{}))
		},
			refuse: func(f *fixture) error {
				return e1(f.svc.Review().ConsentRates(ctx, marketer, time.Time{}, time.Time{}))
			}},
		"Review.AuditEvents": {run: func(f *fixture) error {
			return e1(f.svc.Review().AuditEvents(ctx, compliance, vault.AuditQuery{SubjectID: f.adult}))
		},
			refuse: func(f *fixture) error { return e1(f.svc.Review().AuditEvents(ctx, marketer, vault.AuditQuery{})) }},
		"Review.AuditExport": {run: func(f *fixture) error {
			return e1(f.svc.Review().AuditExport(ctx, compliance, time.Time{}, time.Time{}, func(int64) {}, func(int64, []byte) error { return nil }))
		}, refuse: func(f *fixture) error {
			return e1(f.svc.Review().AuditExport(ctx, marketer, time.Time{}, time.Time{}, func(int64) {}, func(int64, []byte) error { return nil }))
		}},
		"Review.VerifyTrail":      {run: func(f *fixture) error { return e1(f.svc.Review().VerifyTrail(ctx, admin)) }, refuse: func(f *fixture) error { return e1(f.svc.Review().VerifyTrail(ctx, marketer)) }},
		"Review.LatestCheckpoint": {exempt: "returns a signed tree head (no personal data); its refusal is audited (TestEveryRefusalIsAudited)"},
		"Review.Proof":            {exempt: "returns hashes and an entry, which holds no personal data; refusal audited (TestEveryRefusalIsAudited)"},
		"ReloadPolicy": {run: func(f *fixture) error { return e1(f.svc.ReloadPolicy(ctx, admin, f.svc.Policy())) },
			refuse: func(f *fixture) error { return e1(f.svc.ReloadPolicy(ctx, marketer, f.svc.Policy())) }},
		"AuthorizeRole": {run: func(f *fixture) error {
			return f.svc.AuthorizeRole(ctx, admin, "policies", "read", vault.ActionPolicyRead)
		},
			refuse: func(f *fixture) error {
				return f.svc.AuthorizeRole(ctx, marketer, "policies", "read", vault.ActionPolicyRead)
			}},
		"Keys.RotateKeys": {run: func(f *fixture) error { return e1(f.svc.Keys().RotateKeys(ctx, admin, vault.RunOptions{})) },
			refuse: func(f *fixture) error { return e1(f.svc.Keys().RotateKeys(ctx, marketer, vault.RunOptions{})) }},
		"Review.SignedCheckpoint": {refuse: func(f *fixture) error { return e1(f.svc.Review().SignedCheckpoint(ctx, marketer)) }},
		"Review.HashTile":         {refuse: func(f *fixture) error { return e1(f.svc.Review().HashTile(ctx, marketer, 0, 0, 0)) }},
		"Review.Consistency":      {refuse: func(f *fixture) error { return e1(f.svc.Review().Consistency(ctx, marketer, 1, 2)) }},
		"Review.EntryBundle":      {refuse: func(f *fixture) error { return e2(f.svc.Review().EntryBundle(ctx, marketer, 0, 0)) }},
		"Keys.StartRotation":      {exempt: "the first half of RotateKeys (same row); rotation unwraps keys, it opens no data"},
		"Keys.PurgeKeys": {run: func(f *fixture) error { return e1(f.svc.Keys().PurgeKeys(ctx, admin, time.Now())) },
			refuse: func(f *fixture) error { return e1(f.svc.Keys().PurgeKeys(ctx, marketer, time.Now())) }},
		"Keys.KeyStatus": {run: func(f *fixture) error { return e1(f.svc.Keys().KeyStatus(ctx, admin)) },
			refuse: func(f *fixture) error { return e1(f.svc.Keys().KeyStatus(ctx, marketer)) }},
		"Keys.RotationStatus": {run: func(f *fixture) error {
			r, err := f.svc.Keys().RotateKeys(ctx, admin, vault.RunOptions{})
			if err != nil {
				return err
			}
			return e2(f.svc.Keys().RotationStatus(ctx, admin, r.JobID))
		}, refuse: func(f *fixture) error { return e2(f.svc.Keys().RotationStatus(ctx, marketer, "rot_x")) }},
		"Profiles.RunRetention": {run: func(f *fixture) error { return e1(f.svc.Profiles().RunRetention(ctx, admin)) }},
		"Profiles.ReapplyErasures": {run: func(f *fixture) error {
			return e1(f.svc.Profiles().ReapplyErasures(ctx, admin, []string{"no-such-ref"}))
		},
			refuse: func(f *fixture) error { return e1(f.svc.Profiles().ReapplyErasures(ctx, marketer, nil)) }},
		"Profiles.ExpireRetained": {run: func(f *fixture) error {
			return e1(f.svc.WithClock(func() time.Time { return time.Now().AddDate(0, 0, 400) }).Profiles().ExpireRetained(ctx, admin))
		}},
		"RefuseMissingPurpose": {refuse: func(f *fixture) error { return f.svc.RefuseMissingPurpose(ctx, marketer) }},
		"RecordPolicyInForce":  {exempt: "records the policy a process starts with (no personal data, no caller choice)"},
		"AdoptPolicy":          {exempt: "puts in force a policy version another node recorded and audited (no personal data, no caller)"},
		"NoticeVersions":       {exempt: "the public notice's versions and dates (no personal data, no token, like GET /v1/notice)"},
		"PolicyHistory": {run: func(f *fixture) error { return e1(f.svc.PolicyHistory(ctx, admin)) },
			refuse: func(f *fixture) error { return e1(f.svc.PolicyHistory(ctx, marketer)) }},
		"PolicyAt": {run: func(f *fixture) error { return e1(f.svc.PolicyAt(ctx, admin, time.Now())) },
			refuse: func(f *fixture) error { return e1(f.svc.PolicyAt(ctx, marketer, time.Now())) }},
		"RefuseInvalidRequest": {refuse: func(f *fixture) error {
			return f.svc.RefuseInvalidRequest(ctx, marketer, f.adult, vault.Errorf(vault.CodeInvalidArgument, "bad body"))
		}},
		"RefusePolicyReload": {refuse: func(f *fixture) error {
			return f.svc.RefusePolicyReload(ctx, admin, "policy files refused: policy.csv:3: bad CSV")
		}},
		"RevokeTokens": {run: func(f *fixture) error { return e1(f.svc.RevokeTokens(ctx, admin, vault.Revocation{TokenID: "jti-1"})) },
			refuse: func(f *fixture) error {
				return e1(f.svc.RevokeTokens(ctx, marketer, vault.Revocation{TokenID: "jti-1"}))
			}},
		"TokenRevoked":      {exempt: "a lookup in memory; opens nothing"},
		"LoadRevocations":   {exempt: "reads the revocation list at start; no personal data"},
		"RecordAuthFailure": {exempt: "an unauthenticated request has no caller; it only appends its entry"},
		"FlushAuthFailures": {exempt: "records folded authentication failures (no caller, no personal data)"},
		"Keys.CheckKeys":    {exempt: "unwraps each DEK and forgets it; opens no field, event or tag"},
		"Keys.KeyHealth":    {exempt: noData}, "Keys.LastKeyReport": {exempt: noData}, "Keys.PendingRotation": {exempt: noData},
		"Keys.WaitRotation": {exempt: noData}, "Profiles.WaitPurges": {exempt: noData}, "Policy": {exempt: noData},
		"WithClock":             {exempt: "returns a copy of the service with another clock"},
		"Tags.SetTagVocabulary": {exempt: "registers a check at start"}, "Tags.SetTagAttributes": {exempt: "names the event attributes tag inputs carry, at start"},
		"SignDocument": {exempt: "signs a digest the caller already holds"},
		"VerifierKey":  {exempt: "a public key"}, "Keys": {exempt: "returns the key management service (rows Keys.*)"},
		"AccessRequests": {exempt: "returns the service (rows AccessRequests.*)"},
		"Audiences":      {exempt: "returns the service (rows Audiences.*)"},
		"Stewardship":    {exempt: "returns the service (rows Stewardship.*)"}, "Requests": {exempt: "returns the service (rows Requests.*)"},
		"Review": {exempt: "returns the service (rows Review.*)"}, "Tags": {exempt: "returns the service (rows Tags.*)"},
		"ConsentRecords": {exempt: "returns the service (rows ConsentRecords.*)"}, "Profiles": {exempt: "returns the service (rows Profiles.*)"},
		"Ingestion": {exempt: "returns the service (rows Ingestion.*)"}, "DataSubjects": {exempt: "returns the service (rows DataSubjects.*)"}, "Tags.TagPurposes": {exempt: "names from the purposes catalog"},
	}
}

// csRisk is a customer-service agent asking for access for risk control (grants.json).
var csRisk = vault.Access{Caller: vault.Caller{Subject: "cs-7", Roles: []policies.Role{"customer_service"}}, Purpose: "risk_control"}

func riskRequest(f *fixture) vault.AccessRequestInput {
	return vault.AccessRequestInput{Fields: []string{"id_number"}, Subjects: []string{f.adult}, Justification: "fraud case 2026-118",
		ReasonCategory: "fraud_investigation", Duration: "2h"}
}

func childAccess(f *fixture) vault.Access {
	return vault.Access{Caller: vault.Caller{Subject: f.child, Roles: []policies.Role{vault.RoleSubject}}}
}

func leaverAccess(f *fixture) vault.Access {
	return vault.Access{Caller: vault.Caller{Subject: f.leaver, Roles: []policies.Role{vault.RoleSubject}}}
}

func TestEveryOperationOpensOnlyUnderADurableEntry(t *testing.T) {
	table := ops()
	var methods []string
	for i := range reflect.TypeFor[*vault.Service]().NumMethod() {
		methods = append(methods, reflect.TypeFor[*vault.Service]().Method(i).Name)
	}
	// Each domain service's methods, as "Service.Method" (Policy, shared by all, is the enforcement point's).
	for _, svc := range []struct {
		name string
		typ  reflect.Type
	}{
		{"Keys", reflect.TypeFor[*vault.Keys]()}, {"Stewardship", reflect.TypeFor[*vault.Stewardship]()},
		{"Requests", reflect.TypeFor[*vault.Requests]()}, {"Review", reflect.TypeFor[*vault.Review]()},
		{"Tags", reflect.TypeFor[*vault.Tags]()}, {"ConsentRecords", reflect.TypeFor[*vault.ConsentRecords]()},
		{"Profiles", reflect.TypeFor[*vault.Profiles]()}, {"Ingestion", reflect.TypeFor[*vault.Ingestion]()},
		{"DataSubjects", reflect.TypeFor[*vault.DataSubjects]()}, {"AccessRequests", reflect.TypeFor[*vault.AccessRequests]()},
		{"Audiences", reflect.TypeFor[*vault.Audiences]()},
	} {
		for i := range svc.typ.NumMethod() {
			if name := svc.typ.Method(i).Name; name != "Policy" {
				methods = append(methods, svc.name+"."+name)
			}
		}
	}
	for _, m := range methods {
		if _, ok := table[m]; !ok {
			t.Errorf("exported operation %s has no row in the spy table", m)
		}
	}
	for name := range table {
		if !slices.Contains(methods, name) {
			t.Errorf("row %s names no exported operation", name)
		}
	}
	sort.Strings(methods)
	f := newFixture(t)
	opened := 0
	for _, name := range methods {
		row, ok := table[name]
		if !ok || row.exempt != "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			f.svc.Profiles().WaitPurges()
			f.log.take()
			if row.run != nil {
				if err := row.run(f); err != nil {
					t.Fatalf("run: %v", err)
				}
			}
			f.svc.Profiles().WaitPurges()
			events := f.log.take()
			opened += checkOpens(t, events)
			if row.refuse == nil {
				return
			}
			err := row.refuse(f)
			events = f.log.take()
			if err == nil {
				t.Fatal("the caller it must refuse was served")
			}
			denied := false
			for _, e := range events {
				denied = denied || (!e.open && e.entry.Decision == audit.Deny)
			}
			if !denied {
				t.Errorf("refused (%v) without a durable deny entry", err)
			}
			if n := checkOpens(t, events); n > 0 && vault.ErrorCode(err) == vault.CodePermissionDenied {
				t.Errorf("a caller without permission had %d values opened", n)
			}
		})
	}
	if opened < 20 {
		t.Fatalf("only %d opens were checked: the spy does not see the vault's decryptions", opened)
	}
}

// checkOpens fails for any open in events not covered by an entry, and returns how many opens it saw.
func checkOpens(t *testing.T, events []spyEvent) int {
	t.Helper()
	n := 0
	for i, ev := range events {
		if !ev.open {
			continue
		}
		n++
		if coveredBefore(events[:i], ev) || namedAfter(events[i+1:], ev) {
			continue
		}
		t.Errorf("open of %q (subject %s) at step %d is covered by no durable entry before it, nor named by one after it:\n%s",
			ev.ad, ev.ref, i, describe(events))
	}
	return n
}

func coveredBefore(before []spyEvent, ev spyEvent) bool {
	for _, e := range before {
		if e.open {
			continue
		}
		if e.entry.Decision != audit.Deny && (e.entry.SubjectRef == ev.ref || (e.entry.SubjectRef == "" && batchActions[vault.Action(e.entry.Action)])) {
			return true
		}
	}
	return false
}

// batchActions name entries that release several subjects' data at once (their reasons count them).
var batchActions = map[vault.Action]bool{vault.ActionRequestRead: true}

func namedAfter(after []spyEvent, ev spyEvent) bool {
	for _, e := range after {
		// On the subject's own trail, so the read shows in their access log.
		if !e.open && e.entry.SubjectRef == ev.ref && slices.Contains(e.entry.DecisionInputs, ev.ad) {
			return true
		}
	}
	return false
}

func describe(events []spyEvent) string {
	s := ""
	for i, e := range events {
		if e.open {
			s += fmt.Sprintf("  %d open %s of %s\n", i, e.ad, e.ref)
		} else {
			s += fmt.Sprintf("  %d entry %d %s %s subject %s inputs %v\n", i, e.entry.Seq, e.entry.Action, e.entry.Decision, e.entry.SubjectRef, e.entry.DecisionInputs)
		}
	}
	return s
}

// TestAudienceDecisionsOpenOnlyUnderEntries: the audience paths that stop or leave someone out still log
// an entry for each subject whose data their decisions opened — a member left out of a members read (the
// age rule opened the birth date), and the pages a cancelled build had decided before it stopped.
func TestAudienceDecisionsOpenOnlyUnderEntries(t *testing.T) {
	ctx := context.Background()
	t.Run("member left out", func(t *testing.T) {
		f := newFixture(t)
		aud, _, err := f.svc.Audiences().Build(ctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push"})
		if err != nil || aud.Size != 1 {
			t.Fatalf("build: %+v %v", aud, err)
		}
		if _, _, err := f.svc.ConsentRecords().WithdrawConsent(ctx, steward, f.adult, "marketing"); err != nil {
			t.Fatal(err)
		}
		f.log.take()
		page, err := f.svc.Audiences().Members(ctx, marketer, aud.ID, "", 10)
		if err != nil || len(page.Members) != 0 {
			t.Fatalf("members read after the withdrawal: %+v %v", page, err)
		}
		if checkOpens(t, f.log.take()) == 0 {
			t.Fatal("the members read opened nothing: the age rule was not applied")
		}
	})
	t.Run("build cancelled", func(t *testing.T) {
		defer vault.SetPageSize(1)()
		f := newFixture(t)
		for range 20 {
			f.log.take()
			cctx, cancel := context.WithCancel(ctx)
			_, _, err := f.svc.Audiences().Build(cctx, marketer, vault.AudienceInput{Rule: "value.rfm_segment == 'champions'", Channel: "push",
				Progress: func(int) { cancel() }})
			cancel()
			if err == nil {
				t.Fatal("a build cancelled after its first page succeeded")
			}
			checkOpens(t, f.log.take())
		}
	})
}
