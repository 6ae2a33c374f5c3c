package vault_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// person is one subject of the audience test with the state that decides whether they may be reached.
type person struct {
	id                      string
	consent, sms, objection bool
	minor, noPhone, noTag   bool
	segment, phone          string
}

// eligible is the test's own statement of the rule (an oracle written apart from the vault's code).
func (p person) eligible() (bool, string) {
	switch {
	case p.objection:
		return false, vault.ExcludedObjection
	case p.minor:
		return false, vault.ExcludedMinor
	case !p.consent:
		return false, vault.ExcludedNoConsent
	case !p.sms:
		return false, vault.ExcludedChannel
	case p.noPhone:
		return false, vault.ExcludedNoContact
	case p.noTag:
		return false, vault.ExcludedMissingTags
	}
	return p.segment == "at_risk" || p.segment == "cant_lose", ""
}

// expected is what the oracle says an audience over people comes to: the exclusions by reason and the
// number of members.
func expected(people []person) (map[string]int, int) {
	want, members := map[string]int{}, 0
	for _, p := range people {
		ok, reason := p.eligible()
		if reason != "" {
			want[reason]++
		}
		if ok {
			members++
		}
	}
	return want, members
}

// seedPeople creates n subjects with random consent, channel, objection, age, contact and tag states.
func seedPeople(t *testing.T, svc *vault.Service, rng *rand.Rand, n int) []person {
	t.Helper()
	ctx := context.Background()
	tagger := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
	segments := []string{"at_risk", "cant_lose", "champions", "loyal"}
	var people []person
	for i := range n {
		p := person{consent: rng.IntN(4) > 0, sms: rng.IntN(4) > 0, objection: rng.IntN(8) == 0, minor: rng.IntN(8) == 0,
			noPhone: rng.IntN(8) == 0, noTag: rng.IntN(8) == 0, segment: segments[rng.IntN(len(segments))]}
		birth := "1985-03-03"
		if p.minor {
			birth = time.Now().AddDate(-10, 0, 0).Format(time.DateOnly)
		}
		fields := map[string]*string{"name": str(fmt.Sprint("客户", i)), "birth_date": str(birth)}
		p.phone = fmt.Sprintf("+86138%08d", i)
		if !p.noPhone {
			fields["phone"] = str(p.phone)
		}
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		p.id = c.ID
		if p.consent {
			kind := consent.General
			if p.minor {
				kind = consent.Guardian // a guardian's consent: minors are still never marketed to
			}
			if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, p.id, consent.Grant{Purpose: "marketing", Kind: kind, NoticeVersion: "2026-01", Method: "app"}); err != nil {
				t.Fatal(err)
			}
			if !p.sms {
				if _, _, err := svc.ConsentRecords().WithdrawChannel(ctx, steward, p.id, "marketing", "sms"); err != nil {
					t.Fatal(err)
				}
			}
			if !p.noTag && !p.minor {
				if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: p.id, Purpose: "marketing", ConsentIDs: consentIDs(svc, p.id, "marketing"),
					Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: p.segment, Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if p.objection {
			if _, err := svc.ConsentRecords().RecordObjection(ctx, steward, p.id, "personalized_marketing"); err != nil {
				t.Fatal(err)
			}
		}
		people = append(people, p)
	}
	return people
}

// For random consent, channel, objection, age, contact and tag states, the members are exactly the
// eligible people matching the rule, each excluded person is counted under their reason, no excluded
// person is ever readable through the members read, and a withdrawal after the build removes the person
// from the next members read.
func TestAudienceSelectsOnlyWhoMayBeReached(t *testing.T) {
	ctx := context.Background()
	cfg, _, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	people := seedPeople(t, svc, rand.New(rand.NewPCG(7, 11)), 60)
	aud, _, err := svc.Audiences().Build(ctx, mk, vault.AudienceInput{Name: "win back", Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms", Holdout: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	want, wantMembers := expected(people)
	for reason, n := range want {
		if aud.Excluded[reason] != n {
			t.Errorf("excluded %s: %d, want %d (all: %v)", reason, aud.Excluded[reason], n, aud.Excluded)
		}
	}
	if aud.Size+aud.HoldoutSize != wantMembers || aud.Size == 0 { // the holdout of 14 at 0.2 may be empty: the key is random per run
		t.Fatalf("members: %d treated + %d holdout, want %d in all", aud.Size, aud.HoldoutSize, wantMembers)
	}
	// The members read hands out treated members only, with the phone masked; never anyone excluded.
	read := func() map[string]bool {
		page, err := svc.Audiences().Members(ctx, mk, aud.ID, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range page.Members {
			if len(m.Address) != 11 || m.Address[3:7] != "****" {
				t.Fatalf("address %q is not masked", m.Address)
			}
			got[m.Address] = true
		}
		return got
	}
	got := read()
	if len(got) != aud.Size {
		t.Fatalf("members read %d, treated %d", len(got), aud.Size)
	}
	// Withdrawing sms after the build removes the person from the next read.
	masked := func(p person) string { return "138****" + p.phone[len(p.phone)-4:] }
	var gone person
	for _, p := range people {
		if ok, _ := p.eligible(); ok && got[masked(p)] {
			gone = p
			break
		}
	}
	if _, _, err := svc.ConsentRecords().WithdrawChannel(ctx, steward, gone.id, "marketing", "sms"); err != nil {
		t.Fatal(err)
	}
	after := read()
	if after[masked(gone)] || len(after) != len(got)-1 {
		t.Fatalf("after withdrawing sms: %d members (before %d), the withdrawn one still there: %v", len(after), len(got), after[masked(gone)])
	}
	for _, p := range people {
		if ok, _ := p.eligible(); !ok && !p.noPhone && got[masked(p)] {
			t.Fatalf("an excluded person was read as a member: %+v", p)
		}
	}
	// Bad rules are refused with the position.
	_, _, err = svc.Audiences().Build(ctx, mk, vault.AudienceInput{Rule: "value.rfm_segment in 'x'", Channel: "sms"})
	if e, ok := err.(*vault.Error); !ok || e.Code != vault.CodeInvalidArgument || e.Position == nil || *e.Position != 21 {
		t.Fatalf("a bad rule: %v", err)
	}
	if _, _, err := svc.Audiences().Build(ctx, vault.Access{Caller: vault.Caller{Subject: "an", Roles: []policies.Role{"analyst"}}, Purpose: "marketing"},
		vault.AudienceInput{Rule: "value.rfm_segment == 'loyal'", Channel: "sms"}); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("an analyst building an audience: %v", err)
	}
}

// Decided a few subjects at a time on parallel workers, an audience has exactly the members and
// exclusions the oracle says and one audience.select entry per candidate whose data was opened — and an
// objection raised while the build is under way, before the page of its subject is read, keeps that
// person out: no page is decided on a record read before it. (A withdrawal is dated: one recorded after
// the build's decision time leaves the build as it was; the next members read drops the person.)
func TestAudienceBatchesDecideEverySubject(t *testing.T) {
	defer vault.SetPageSize(3)()
	ctx := context.Background()
	cfg, store, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	people := seedPeople(t, svc, rand.New(rand.NewPCG(3, 5)), 90)
	// The eligible person of the last page (subjects are decided in id order) objects once the first
	// page is decided: 30 pages of 3, of which the workers can have read only a few ahead.
	last := -1
	for i, p := range people {
		if ok, _ := p.eligible(); ok && (last < 0 || p.id > people[last].id) {
			last = i
		}
	}
	objected := false
	aud, _, err := svc.Audiences().Build(ctx, mk, vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms",
		Progress: func(int) {
			if !objected {
				objected = true
				if _, err := svc.ConsentRecords().RecordObjection(ctx, steward, people[last].id, "personalized_marketing"); err != nil {
					t.Error(err)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	people[last].objection = true
	want, wantMembers := expected(people)
	for _, reason := range []string{vault.ExcludedNoConsent, vault.ExcludedChannel, vault.ExcludedNoContact, vault.ExcludedObjection, vault.ExcludedMinor, vault.ExcludedMissingTags} {
		if aud.Excluded[reason] != want[reason] {
			t.Errorf("excluded %s: %d, want %d (all: %v)", reason, aud.Excluded[reason], want[reason], aud.Excluded)
		}
	}
	if aud.Size != wantMembers || aud.HoldoutSize != 0 {
		t.Fatalf("members: %d treated + %d holdout, want %d", aud.Size, aud.HoldoutSize, wantMembers)
	}
	page, err := svc.Audiences().Members(ctx, mk, aud.ID, "", 1000)
	if err != nil || len(page.Members) != wantMembers {
		t.Fatalf("members read: %d, want %d (%v)", len(page.Members), wantMembers, err)
	}
	// Everyone but those objecting (decided before anything is opened) had their birth date opened: each
	// has an entry, allowed exactly for the members.
	entries, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionAudienceSelect), MinSeq: page.AuditSeq, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	allowed, denied := 0, 0
	for _, e := range entries {
		switch {
		case !strings.HasPrefix(e.Reason, "audience:"+aud.ID+" "):
			t.Fatalf("entry of another audience: %q", e.Reason)
		case e.Decision == audit.Allow:
			allowed++
		default:
			denied++
		}
	}
	if allowed != wantMembers || allowed+denied != len(people)-want[vault.ExcludedObjection] {
		t.Fatalf("audience.select entries: %d allowed, %d denied; want %d allowed of %d", allowed, denied, wantMembers, len(people)-want[vault.ExcludedObjection])
	}
}

// Outcomes by member ref for both groups, and the report's counts and differences.
func TestAudienceOutcomesAndReport(t *testing.T) {
	ctx := context.Background()
	cfg, _, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tagger := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	for i := range 80 {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("客户"), "birth_date": str("1985-03-03"), "phone": str(fmt.Sprintf("+86138%08d", i))}})
		if err != nil {
			t.Fatal(err)
		}
		g, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: c.ID, Purpose: "marketing", ConsentIDs: []string{g.ID},
			Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: "at_risk", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	aud, _, err := svc.Audiences().Build(ctx, mk, vault.AudienceInput{Rule: "value.rfm_segment == 'at_risk'", Channel: "sms", Holdout: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	page, err := svc.Audiences().Members(ctx, mk, aud.ID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	hold, _, _, err := svc.Audiences().HoldoutRefs(ctx, mk, aud.ID, "", 1000)
	if err != nil || len(page.Members) != aud.Size || len(hold) != aud.HoldoutSize || aud.Size+aud.HoldoutSize != 80 {
		t.Fatalf("treated %d/%d, holdout %d/%d: %v", len(page.Members), aud.Size, len(hold), aud.HoldoutSize, err)
	}
	yes, no := true, false
	// The orders first (converters only: the rest of each group did not convert), the retention later —
	// the second upload keeps the first's conversions.
	var orders, retention []vault.OutcomeUpdate
	conv := 0
	for i, m := range page.Members { // treated: every second converts, all retained at 30 days
		if i%2 == 0 {
			value := 100 + float64(i)
			orders, conv = append(orders, vault.OutcomeUpdate{Ref: m.Ref, Converted: &yes, OrderValue: &value}), conv+1
		}
		retention = append(retention, vault.OutcomeUpdate{Ref: m.Ref, Retained30: &yes})
	}
	for _, r := range hold { // holdout: nobody converts, none retained
		retention = append(retention, vault.OutcomeUpdate{Ref: r, Retained30: &no})
	}
	for _, batch := range [][]vault.OutcomeUpdate{orders, retention} {
		if _, err := svc.Audiences().RecordOutcomes(ctx, mk, aud.ID, batch); err != nil {
			t.Fatal(err)
		}
	}
	five := 5.0
	for name, bad := range map[string][]vault.OutcomeUpdate{
		"a ref outside the audience":          {{Ref: "ps_not_a_member", Converted: &yes}},
		"an order value without a conversion": {{Ref: hold[0], OrderValue: &five}},
		"an outcome that says nothing":        {{Ref: hold[0]}},
		"one member twice":                    {{Ref: hold[0], Converted: &no}, {Ref: hold[0], Retained60: &no}},
	} {
		if _, err := svc.Audiences().RecordOutcomes(ctx, mk, aud.ID, bad); vault.ErrorCode(err) != vault.CodeInvalidArgument {
			t.Fatalf("%s: %v", name, err)
		}
	}
	rep, err := svc.Audiences().Report(ctx, mk, aud.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := float64(conv) / float64(aud.Size)
	if rep.Treated.Members != aud.Size || rep.Holdout.Members != aud.HoldoutSize || rep.Treated.Converted != conv ||
		rep.Conversion.Estimate != wantDiff || !rep.Conversion.Significant() || rep.Retention[0].Estimate != 1 || rep.Retention[1].Significant() {
		t.Fatalf("report: %+v", rep)
	}
}

// The campaign plan puts each reachable person in the first tier of strategy.json whose rule matches,
// on that tier's channel.
func TestCampaignPlanTiers(t *testing.T) {
	ctx := context.Background()
	cfg, _, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tagger := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	add := func(i int, consentOn bool, tags map[string]string, withdrawn ...string) {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("客户"), "birth_date": str("1985-03-03"), "phone": str(fmt.Sprintf("+86138%08d", i))}})
		if err != nil {
			t.Fatal(err)
		}
		if !consentOn {
			return
		}
		defer func() {
			for _, ch := range withdrawn {
				if _, _, err := svc.ConsentRecords().WithdrawChannel(ctx, steward, c.ID, "marketing", ch); err != nil {
					t.Fatal(err)
				}
			}
		}()
		g, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"})
		if err != nil {
			t.Fatal(err)
		}
		var tv []vault.TagValue
		for k, v := range tags {
			tv = append(tv, vault.TagValue{Key: k, Level: strings.SplitN(k, ".", 2)[0], Value: v, Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"})
		}
		if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: c.ID, Purpose: "marketing", ConsentIDs: []string{g.ID}, Tags: tv}}); err != nil {
			t.Fatal(err)
		}
	}
	add(1, true, map[string]string{"value.churn_risk": "high", "behavior.price_sensitivity": "price_sensitive"}) // churn first
	add(2, true, map[string]string{"value.churn_risk": "low", "behavior.price_sensitivity": "price_sensitive"})  // price_sensitive, push
	add(3, true, map[string]string{"value.churn_risk": "low", "behavior.price_sensitivity": "neutral"})          // no tier
	add(4, false, nil)                                                                                           // no consent
	// price_sensitive reaches "any consented" channel (TAGS.md): push first, and on the next one for a person
	// who withdrew push.
	add(5, true, map[string]string{"value.churn_risk": "low", "behavior.price_sensitivity": "price_sensitive"}, "push")
	// High value reaches business users only (TAGS.md: "high-value business users"), by WeCom first; the same
	// value without the business occupation group, or without an occupation group at all, is another tier's.
	highValue := map[string]string{"value.churn_risk": "low", "value.rfm_segment": "champions", "value.ltv_12m": "2400"}
	with := func(k, v string) map[string]string { m := maps.Clone(highValue); m[k] = v; return m }
	add(6, true, with("basic.occupation_group", "business"))
	add(7, true, with("basic.occupation_group", "professional")) // no tier
	add(8, true, highValue)                                      // no tier
	plan, err := svc.Audiences().Plan(ctx, mk, 0)
	if err != nil {
		t.Fatal(err)
	}
	sizes, byChannel := map[string]int{}, map[string]int{}
	for _, tr := range plan.Tiers {
		sizes[tr.Tier] += tr.Audience.Size
		if tr.Tier == "high_value" {
			byChannel["high_value:"+tr.Channel] = tr.Audience.Size
		}
		if tr.Tier == "price_sensitive" {
			byChannel[tr.Channel] = tr.Audience.Size
			if tr.Audience.Name != "plan:price_sensitive:"+tr.Channel {
				t.Errorf("audience %q of the price_sensitive tier on %s", tr.Audience.Name, tr.Channel)
			}
		}
	}
	if sizes["churn_winback"] != 1 || sizes["price_sensitive"] != 2 || sizes["high_value"] != 1 || byChannel["high_value:wecom"] != 1 ||
		plan.Unmatched != 3 || plan.Excluded[vault.ExcludedNoConsent] != 1 {
		t.Fatalf("plan: sizes %v unmatched %d excluded %v", sizes, plan.Unmatched, plan.Excluded)
	}
	if byChannel["push"] != 1 || byChannel["sms"] != 1 || len(byChannel) != 7 {
		t.Fatalf("price_sensitive by channel: %v, want one on push and the one who withdrew push on sms", byChannel)
	}
}

// noAudienceStore fails every change that stores an audience, and counts the group commits without a change.
type noAudienceStore struct {
	vault.Store
	logged *atomic.Int64
}

type noAudienceTx struct{ vault.Tx }

func (noAudienceTx) PutAudience(vault.AudienceRow, []vault.AudienceMember) error {
	return errors.New("disk on fire")
}

func (s noAudienceStore) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	if change == nil {
		s.logged.Add(1)
		return s.Store.CommitMany(ctx, nil, entries)
	}
	return s.Store.CommitMany(ctx, func(tx vault.Tx) error { return change(noAudienceTx{tx}) }, entries)
}

// TestSelectionsAreLoggedEvenWhenTheAudienceIsNot: a build's audience.select entries record data its
// decisions opened, so they are logged — in groups of bounded size, ahead of the change — whatever becomes
// of the audience; when storing it fails, the build's own entry says so after them, and nothing is stored.
func TestSelectionsAreLoggedEvenWhenTheAudienceIsNot(t *testing.T) {
	defer vault.SetPageSize(3)()
	defer vault.SetSelectionGroup(4)()
	ctx := context.Background()
	cfg, store, _ := testConfig(t)
	var logged atomic.Int64
	cfg.Store = noAudienceStore{Store: store, logged: &logged}
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	people := seedPeople(t, svc, rand.New(rand.NewPCG(7, 9)), 30)
	before := logged.Load()
	if _, _, err := svc.Audiences().Build(ctx, mk, vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms"}); err == nil {
		t.Fatal("the build succeeded though its audience could not be stored")
	}
	want, _ := expected(people)
	opened := len(people) - want[vault.ExcludedObjection]
	selections, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionAudienceSelect), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(selections) != opened {
		t.Fatalf("%d audience.select entries, want one for each of the %d candidates whose data was opened", len(selections), opened)
	}
	if groups := logged.Load() - before; groups < int64((opened+3)/4) {
		t.Errorf("the %d selections went in %d group commits, want groups of at most 4", opened, groups)
	}
	builds, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionAudienceBuild), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != 1 || builds[0].Decision != audit.Deny || builds[0].Seq < selections[0].Seq {
		t.Fatalf("build entries: %+v; want one refusal after the selections", builds)
	}
	if list, _, err := svc.Audiences().List(ctx, mk); err != nil || len(list) != 0 {
		t.Fatalf("audiences stored: %v %v", list, err)
	}
}

// failingStore fails the read of every page after the first readsOK pages of page subjects (by position,
// whichever order the workers read them in), or every group commit of selections after the first logsOK.
type failingStore struct {
	vault.Store
	readsOK, logsOK int64
	page            int
	logs            *atomic.Int64
}

func (s failingStore) SubjectRange(ctx context.Context, after, through string, fields []string) ([]vault.SubjectRecord, error) {
	first, err := s.Store.SubjectIDs(ctx, "", int(s.readsOK)*s.page)
	if err != nil {
		return nil, err
	}
	if n := len(first); n > 0 && through > first[n-1] {
		return nil, errors.New("disk on fire")
	}
	return s.Store.SubjectRange(ctx, after, through, fields)
}

func (s failingStore) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	if change == nil && s.logs.Add(1) > s.logsOK {
		return 0, vault.ErrUnavailable
	}
	return s.Store.CommitMany(ctx, change, entries)
}

// TestSelectionsOfAFailedBuild: a build whose page read fails still logs the entries of every subject it
// decided before (their data was opened) and stores no audience; one whose selections cannot be logged
// stops and stores no audience either.
func TestSelectionsOfAFailedBuild(t *testing.T) {
	defer vault.SetPageSize(3)()
	defer vault.SetSelectionGroup(4)()
	ctx := context.Background()
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	in := vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms"}
	t.Run("read fails", func(t *testing.T) {
		cfg, store, _ := testConfig(t)
		var logs atomic.Int64
		cfg.Store = failingStore{Store: store, readsOK: 4, logsOK: 1 << 30, page: 3, logs: &logs}
		svc, err := vault.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		people := seedPeople(t, svc, rand.New(rand.NewPCG(5, 8)), 30)
		decided := 0 // subjects merged, in id order, before the failure
		failed := in
		failed.Progress = func(done int) { decided = done }
		if _, _, err := svc.Audiences().Build(ctx, mk, failed); err == nil {
			t.Fatal("the build succeeded though a page could not be read")
		}
		if decided < 2*3 {
			t.Fatalf("%d subjects decided before the failure; the first two pages were read", decided)
		}
		// The subjects of the pages decided before the failure, in id order, whose data was opened.
		ids := make([]string, 0, len(people))
		objecting := map[string]bool{}
		for _, p := range people {
			ids = append(ids, p.id)
			objecting[p.id] = p.objection
		}
		slices.Sort(ids)
		want := 0
		for _, id := range ids[:decided] {
			if !objecting[id] {
				want++
			}
		}
		selections, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionAudienceSelect), Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(selections) != want {
			t.Fatalf("%d audience.select entries, want one for each of the %d subjects decided before the failure whose data was opened", len(selections), want)
		}
		if list, _, err := svc.Audiences().List(ctx, mk); err != nil || len(list) != 0 {
			t.Fatalf("audiences stored: %v %v", list, err)
		}
	})
	t.Run("log fails", func(t *testing.T) {
		cfg, store, _ := testConfig(t)
		var logs atomic.Int64
		cfg.Store = failingStore{Store: store, readsOK: 1 << 30, logsOK: 1, page: 3, logs: &logs}
		svc, err := vault.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		seedPeople(t, svc, rand.New(rand.NewPCG(5, 8)), 30)
		logs.Store(0)
		if _, _, err := svc.Audiences().Build(ctx, mk, in); err == nil {
			t.Fatal("the build succeeded though its selections could not be logged")
		}
		if list, _, err := svc.Audiences().List(ctx, mk); err != nil || len(list) != 0 {
			t.Fatalf("audiences stored: %v %v", list, err)
		}
		builds, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionAudienceBuild), Limit: 10})
		if err != nil || len(builds) != 0 {
			t.Fatalf("build entries %+v, %v: the build stopped before its own entry", builds, err)
		}
	})
}
