package vault_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// accessFixture is a vault with two subjects that have an id number, and a clock the test moves.
type accessFixture struct {
	svc *vault.Service
	now *atomic.Pointer[time.Time]
	in  string // the subject a request names
	out string // a subject it does not name
}

func newAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	cfg, _, _ := testConfig(t)
	now := &atomic.Pointer[time.Time]{}
	start := time.Now().UTC()
	now.Store(&start)
	cfg.Now = func() time.Time { return *now.Load() }
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &accessFixture{svc: svc, now: now}
	for _, p := range []*string{&f.in, &f.out} {
		c, err := svc.Profiles().Create(context.Background(), steward, vault.NewSubject{Fields: map[string]*string{
			"name": str("王五"), "birth_date": str("1980-02-02"), "id_number": str("11010119800202123X")}})
		if err != nil {
			t.Fatal(err)
		}
		*p = c.ID
	}
	return f
}

func (f *accessFixture) advance(d time.Duration) {
	t := f.now.Load().Add(d)
	f.now.Store(&t)
}

var (
	csAgent = vault.Access{Caller: vault.Caller{Subject: "cs-7", Roles: []policies.Role{"customer_service"}, Team: "hz"}, Purpose: "risk_control"}
	officer = vault.Access{Caller: vault.Caller{Subject: "co-1", Roles: []policies.Role{"compliance_officer"}}, Purpose: "compliance_audit"}
)

func (f *accessFixture) request(t *testing.T, maxReads int) vault.AccessRequestView {
	t.Helper()
	r, err := f.svc.AccessRequests().Request(context.Background(), csAgent, vault.AccessRequestInput{Fields: []string{"id_number"},
		Subjects: []string{f.in}, Justification: "chargeback dispute 2026-118", ReasonCategory: "fraud_investigation", Duration: "2h", MaxReads: maxReads})
	if err != nil || r.State != vault.AccessPending {
		t.Fatalf("request: %+v %v", r, err)
	}
	return r
}

func (f *accessFixture) read(a vault.Access, id string) (vault.View, error) {
	return f.svc.Profiles().Read(context.Background(), a, id, []string{"id_number"})
}

func reasonOf(err error) string {
	if e, ok := err.(*vault.Error); ok {
		return e.Reason
	}
	return ""
}

func TestAccessRequestFlow(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	if _, err := f.read(csAgent, f.in); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("before any grant, customer_service has no policy for risk_control: %v", err)
	}
	// What may be asked is policy, not the role's baseline.
	for name, in := range map[string]vault.AccessRequestInput{
		"a field grants.json does not list": {Fields: []string{"bank_account"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "dispute", Duration: "1h"},
		"a category":                        {Categories: []string{"contact"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "dispute", Duration: "1h"},
	} {
		if _, err := f.svc.AccessRequests().Request(ctx, csAgent, in); vault.ErrorCode(err) != vault.CodePermissionDenied {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string]vault.AccessRequestInput{
		"longer than 4h":   {Fields: []string{"id_number"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "dispute", Duration: "5h"},
		"no justification": {Fields: []string{"id_number"}, Subjects: []string{f.in}, ReasonCategory: "dispute", Duration: "1h"},
		"no subjects":      {Fields: []string{"id_number"}, Justification: "x", ReasonCategory: "dispute", Duration: "1h"},
		"unknown reason":   {Fields: []string{"id_number"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "curiosity", Duration: "1h"},
		"bad duration":     {Fields: []string{"id_number"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "dispute", Duration: "soon"},
		// Stored in whole seconds: 500ms was accepted, echoed, stored as 0s and approved dead on arrival.
		"under a minute": {Fields: []string{"id_number"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "dispute", Duration: "500ms"},
	} {
		if _, err := f.svc.AccessRequests().Request(ctx, csAgent, in); vault.ErrorCode(err) != vault.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := f.svc.AccessRequests().Request(ctx, vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"},
		vault.AccessRequestInput{Categories: []string{"contact"}, Subjects: []string{f.in}, Justification: "x", ReasonCategory: "other", Duration: "1h"}); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("marketing may request nothing: %v", err)
	}

	r := f.request(t, 0)
	// Four eyes: the requester never approves, even holding the approver role too.
	both := vault.Access{Caller: vault.Caller{Subject: "cs-7", Roles: []policies.Role{"customer_service", "compliance_officer"}}, Purpose: "compliance_audit"}
	if _, err := f.svc.AccessRequests().Decide(ctx, both, r.ID, "approve", "", ""); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("self-approval: %v", err)
	}
	other := vault.Access{Caller: vault.Caller{Subject: "cs-8", Roles: []policies.Role{"customer_service"}}, Purpose: "risk_control"}
	if _, err := f.svc.AccessRequests().Decide(ctx, other, r.ID, "approve", "", ""); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("approval by a role that is not an approver: %v", err)
	}
	if _, err := f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "", "3h"); vault.ErrorCode(err) != vault.CodeInvalidArgument {
		t.Fatalf("an approval may shorten, not lengthen: %v", err)
	}
	ok, err := f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "case checked", "1h")
	if err != nil || ok.State != vault.AccessApproved || ok.GrantID == "" || !ok.ExpiresAt.Equal(f.now.Load().Add(time.Hour)) {
		t.Fatalf("approve: %+v %v", ok, err)
	}
	if ok.Justification != "chargeback dispute 2026-118" {
		t.Fatalf("the approver reads the justification: %q", ok.Justification)
	}
	if _, err := f.svc.AccessRequests().Decide(ctx, officer, r.ID, "deny", "", ""); vault.ErrorCode(err) != vault.CodeConflict {
		t.Fatalf("deciding twice: %v", err)
	}

	// Reads under the grant: the field, in full, for its subject, purpose and requester only.
	withGrant := csAgent
	withGrant.Grant = ok.GrantID
	v, err := f.read(withGrant, f.in)
	if err != nil || v.Fields["id_number"] != "11010119800202123X" {
		t.Fatalf("read under the grant: %+v %v", v, err)
	}
	if _, err := f.read(withGrant, f.out); vault.ErrorCode(err) != vault.CodePermissionDenied || reasonOf(err) != vault.ReasonOutsideGrant {
		t.Fatalf("a subject outside the grant: %v", err)
	}
	stranger := other
	stranger.Grant = ok.GrantID
	if _, err := f.read(stranger, f.in); reasonOf(err) != vault.ReasonOutsideGrant {
		t.Fatalf("someone else's grant: %v", err)
	}
	// At the boundary the grant has expired: checked at read time, recorded once.
	f.advance(time.Hour)
	if _, err := f.read(withGrant, f.in); reasonOf(err) != vault.ReasonGrantExpired {
		t.Fatalf("at expiry: %v", err)
	}
	page, err := f.svc.AccessRequests().List(ctx, csAgent, "", true, "", 0)
	list := page.Requests
	if err != nil || len(list) != 1 || list[0].State != vault.AccessExpired {
		t.Fatalf("mine after expiry: %+v %v", list, err)
	}
}

// Every transition of the state machine, legal and not.
func TestAccessRequestStateMachine(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	// in returns a request brought to state.
	in := func(state string) string {
		r := f.request(t, 1)
		var err error
		switch state {
		case vault.AccessApproved:
			_, err = f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "", "")
		case vault.AccessDenied:
			_, err = f.svc.AccessRequests().Decide(ctx, officer, r.ID, "deny", "no", "")
		case vault.AccessRevoked:
			_, err = f.svc.AccessRequests().Revoke(ctx, csAgent, r.ID)
		case vault.AccessExhausted:
			var ok vault.AccessRequestView
			if ok, err = f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "", ""); err == nil {
				a := csAgent
				a.Grant = ok.GrantID
				_, err = f.read(a, f.in)
			}
		}
		if err != nil {
			t.Fatalf("bring to %s: %v", state, err)
		}
		return r.ID
	}
	ops := map[string]func(id string) error{
		"approve": func(id string) error {
			_, err := f.svc.AccessRequests().Decide(ctx, officer, id, "approve", "", "")
			return err
		},
		"deny": func(id string) error {
			_, err := f.svc.AccessRequests().Decide(ctx, officer, id, "deny", "", "")
			return err
		},
		"revoke": func(id string) error { _, err := f.svc.AccessRequests().Revoke(ctx, officer, id); return err },
	}
	for _, tc := range []struct {
		state, op string
		ok        bool
	}{
		{vault.AccessPending, "approve", true}, {vault.AccessPending, "deny", true}, {vault.AccessPending, "revoke", true},
		{vault.AccessApproved, "approve", false}, {vault.AccessApproved, "deny", false}, {vault.AccessApproved, "revoke", true},
		{vault.AccessDenied, "approve", false}, {vault.AccessDenied, "deny", false}, {vault.AccessDenied, "revoke", false},
		{vault.AccessRevoked, "approve", false}, {vault.AccessRevoked, "deny", false}, {vault.AccessRevoked, "revoke", false},
		{vault.AccessExhausted, "approve", false}, {vault.AccessExhausted, "deny", false}, {vault.AccessExhausted, "revoke", false},
	} {
		err := ops[tc.op](in(tc.state))
		if tc.ok && err != nil || !tc.ok && vault.ErrorCode(err) != vault.CodeConflict {
			t.Errorf("%s from %s: %v (legal: %v)", tc.op, tc.state, err, tc.ok)
		}
	}
	// Expired: from approved by time alone.
	id := in(vault.AccessApproved)
	f.advance(3 * time.Hour)
	for op, fn := range ops {
		if err := fn(id); vault.ErrorCode(err) != vault.CodeConflict {
			t.Errorf("%s from expired: %v", op, err)
		}
	}
}

// max_reads holds under concurrent reads: never one read more than allowed; a revoked grant stops the very
// next read.
func TestGrantReadsUnderConcurrency(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	r := f.request(t, 3)
	ok, err := f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "", "")
	if err != nil {
		t.Fatal(err)
	}
	a := csAgent
	a.Grant = ok.GrantID
	var granted, expired atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := f.read(a, f.in)
			switch {
			case err == nil:
				granted.Add(1)
			case reasonOf(err) == vault.ReasonGrantExpired:
				expired.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 3 || expired.Load() != 17 {
		t.Fatalf("20 concurrent reads under max_reads 3: %d released, %d refused", granted.Load(), expired.Load())
	}
	page, _ := f.svc.AccessRequests().List(ctx, officer, vault.AccessExhausted, false, "", 0)
	list := page.Requests
	if len(list) != 1 || list[0].Reads != 3 {
		t.Fatalf("exhausted: %+v", list)
	}

	r2 := f.request(t, 0)
	ok2, _ := f.svc.AccessRequests().Decide(ctx, officer, r2.ID, "approve", "", "")
	a.Grant = ok2.GrantID
	if _, err := f.read(a, f.in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AccessRequests().Revoke(ctx, csAgent, r2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.read(a, f.in); reasonOf(err) != vault.ReasonGrantExpired {
		t.Fatalf("after revocation: %v", err)
	}
}

// Exports run one at a time per subject and a few at once overall; a refused one is a 429 with the time
// to wait, and recorded.
func TestExportSlots(t *testing.T) {
	ctx := context.Background()
	cfg, _, _ := testConfig(t)
	cfg.MaxConcurrentExports = 2
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var me []vault.Access
	for range 3 {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("甲"), "birth_date": str("1980-01-01")}})
		if err != nil {
			t.Fatal(err)
		}
		me = append(me, vault.Access{Caller: vault.Caller{Subject: c.ID, Roles: []policies.Role{vault.RoleSubject}}})
	}
	first, err := svc.DataSubjects().MeExportStream(ctx, me[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.DataSubjects().MeExportStream(ctx, me[0])
	if e, ok := err.(*vault.Error); !ok || e.Code != vault.CodeRateLimited || e.RetryAfter <= 0 || e.AuditSeq == 0 {
		t.Fatalf("a second export of the same subject while the first runs: %v", err)
	}
	second, err := svc.DataSubjects().MeExportStream(ctx, me[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DataSubjects().MeExportStream(ctx, me[2]); vault.ErrorCode(err) != vault.CodeRateLimited {
		t.Fatalf("a third export over a limit of two: %v", err)
	}
	first.Done()
	first.Done() // twice is harmless
	third, err := svc.DataSubjects().MeExportStream(ctx, me[2])
	if err != nil {
		t.Fatalf("after one ends: %v", err)
	}
	second.Done()
	third.Done()
	if _, err := svc.DataSubjects().MeExport(ctx, me[0]); err != nil {
		t.Fatalf("a loaded export frees its slot itself: %v", err)
	}
	if _, err := svc.DataSubjects().MeExport(ctx, me[0]); err != nil {
		t.Fatalf("twice in a row: %v", err)
	}
}

// What may be asked is policy: a grants.json reloaded without the entry that allowed an approved grant ends
// its use at the next read (it read on until it expired; only an explicit deny rule stopped it).
func TestAGrantEndsWithItsEntryInGrantsJSON(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	r := f.request(t, 0)
	ok, err := f.svc.AccessRequests().Decide(ctx, officer, r.ID, "approve", "", "")
	if err != nil {
		t.Fatal(err)
	}
	withGrant := csAgent
	withGrant.Grant = ok.GrantID
	if v, err := f.read(withGrant, f.in); err != nil || v.Fields["id_number"] == "" {
		t.Fatalf("a read under the grant: %+v %v", v, err)
	}
	reloadEdited(t, f.svc, t.TempDir(), "grants.json", `"role": "customer_service"`, `"role": "data_steward"`)
	if _, err := f.read(withGrant, f.in); reasonOf(err) != vault.ReasonGrantExpired {
		t.Fatalf("a read under a grant grants.json no longer allows: %v", err)
	}
}
