package vault_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// seedMixed creates n subjects in every state an audience decision tells apart: adults, minors and
// unknown ages; phones and emails or neither; marketing consent or none, narrowed to some channels or with
// one withdrawn; any subset of the strategy's tag keys (one list-valued), some tags of personalization
// that a marketing rule must never see; objections, restrictions and erasures. It returns how many it
// erased.
func seedMixed(t *testing.T, svc *vault.Service, store *sqlite.Store, rng *rand.Rand, n int) int {
	t.Helper()
	ctx := context.Background()
	tagger := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	erased := 0
	for i := range n {
		fields := map[string]*string{"name": str(fmt.Sprint("客户", i))}
		minor, unknownAge := false, false
		switch r := rng.IntN(10); {
		case r == 0:
			minor = true
			fields["birth_date"] = str(time.Now().AddDate(-12, 0, 0).Format(time.DateOnly))
		case r == 1: // no birth date: the age is unknown, and no consent may be recorded
			unknownAge = true
		default:
			fields["birth_date"] = str(fmt.Sprintf("19%02d-0%d-1%d", 50+rng.IntN(50), 1+rng.IntN(9), rng.IntN(10)))
		}
		if rng.IntN(8) > 0 {
			fields["phone"] = str(fmt.Sprintf("+86139%08d", i))
		}
		if rng.IntN(5) > 1 {
			fields["email"] = str(fmt.Sprintf("c%d@example.cn", i))
		}
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		id := c.ID
		if !unknownAge && rng.IntN(5) > 0 {
			g := consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"}
			if minor {
				g.Kind = consent.Guardian
			}
			if rng.IntN(4) == 0 {
				g.Channels = []string{pick("sms", "email", "push"), pick("wecom", "short_video", "push")}
			}
			granted, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, id, g)
			if err != nil {
				t.Fatal(err)
			}
			if !minor {
				var tv []vault.TagValue
				add := func(key, value string) {
					tv = append(tv, vault.TagValue{Key: key, Level: strings.SplitN(key, ".", 2)[0], Value: value, Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"})
				}
				for _, kv := range [][]string{ // key, values (a slice: the draws stay in one order)
					{"value.rfm_segment", "at_risk", "cant_lose", "champions", "loyal"},
					{"value.churn_risk", "high", "low"},
					{"value.lifecycle_stage", "new", "active", "loyal", "dormant", "churned"},
					{"behavior.price_sensitivity", "price_sensitive", "quality_seeking", "neutral"},
					{"interest.top_categories", "shoes,bags", "books", "bags,toys,books"},
					{"basic.age_band", "18-24", "25-34", "45-59", "60+"},
					{"basic.city_tier", "1", "3", "4+"},
					{"behavior.channel", "online", "offline", "omnichannel"},
					{"value.ltv_12m", "200", "1500"},
					{"behavior.cart_abandon_rate", "0.2", "0.7"},
				} {
					if rng.IntN(6) > 0 {
						add(kv[0], kv[1+rng.IntN(len(kv)-1)])
					}
				}
				if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: id, Purpose: "marketing", ConsentIDs: []string{granted.ID}, Tags: tv}}); err != nil {
					t.Fatal(err)
				}
			}
			switch rng.IntN(8) {
			case 0:
				if _, _, err := svc.ConsentRecords().WithdrawChannel(ctx, steward, id, "marketing", "sms"); err != nil && vault.ErrorCode(err) != vault.CodeNotFound {
					t.Fatal(err) // not found: a consent narrowed to other channels
				}
			case 1:
				if _, _, err := svc.ConsentRecords().WithdrawChannel(ctx, steward, id, "marketing", "email"); err != nil && vault.ErrorCode(err) != vault.CodeNotFound {
					t.Fatal(err) // not found: a consent narrowed to other channels
				}
			case 2: // the whole consent: its tags go with it
				if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, id, "marketing"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !minor && !unknownAge && rng.IntN(3) == 0 {
			// Tags of another purpose, which would put the subject in the audiences below.
			g, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, id, consent.Grant{Purpose: "personalization", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: id, Purpose: "personalization", ConsentIDs: []string{g.ID},
				Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: "at_risk", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
				t.Fatal(err)
			}
		}
		switch rng.IntN(12) {
		case 0:
			if _, err := svc.ConsentRecords().RecordObjection(ctx, steward, id, "personalized_marketing"); err != nil {
				t.Fatal(err)
			}
		case 1: // a restriction (PIPL Art. 44), as its request's completion records it
			if _, err := store.Commit(ctx, func(tx vault.Tx) error {
				_, err := tx.SetObjection(id, vault.RestrictionKind, true, time.Now())
				return err
			},
				func(error) audit.Entry { return audit.Entry{Action: "restriction.add", Decision: audit.Allow} }); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := svc.Profiles().Erase(ctx, steward, id); err != nil {
				t.Fatal(err)
			}
			erased++
		}
	}
	return erased
}

// storedMembers reads every member of an audience from the store, by subject id.
func storedMembers(t *testing.T, store *sqlite.Store, id string) map[string]vault.AudienceMember {
	t.Helper()
	out := map[string]vault.AudienceMember{}
	for after := ""; ; {
		page, err := store.AudienceMembers(context.Background(), id, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, m := range page {
			out[m.SubjectID] = m
		}
		after = page[len(page)-1].Ref
	}
}

// loggedDecisions reads the audience.select entries after seq whose reason starts with prefix, as the
// serial reference writes its decisions, by subject pseudonym.
func loggedDecisions(t *testing.T, store *sqlite.Store, after int64, match func(reason string) bool) map[string]vault.SerialDecision {
	t.Helper()
	out := map[string]vault.SerialDecision{}
	entries, err := store.Query(context.Background(), audit.Filter{Action: string(vault.ActionAudienceSelect), Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Seq <= after || !match(e.Reason) {
			continue
		}
		if _, dup := out[e.SubjectRef]; dup {
			t.Fatalf("two audience.select entries for one subject: %q", e.Reason)
		}
		d := e.Reason[strings.LastIndex(e.Reason, ":")+1:] // not_selected:REASON, group:GROUP
		if e.Decision == audit.Allow {
			d = "allow:" + d
		}
		out[e.SubjectRef] = d
	}
	return out
}

// sameMembers fails unless got and want hold the same subjects with the same refs and groups.
func sameMembers(t *testing.T, what string, got, want map[string]vault.AudienceMember) {
	t.Helper()
	if !maps.Equal(got, want) {
		for id, m := range want {
			if got[id] != m {
				t.Errorf("%s: %s is %+v, the serial reference says %+v", what, id, got[id], m)
			}
		}
		for id, m := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("%s: %s is %+v, not a member by the serial reference", what, id, m)
			}
		}
		t.FailNow()
	}
}

// sameCounts fails unless got and want count the same (a reason absent from one counts 0).
func sameCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	for _, k := range slices.Concat(slices.Collect(maps.Keys(got)), slices.Collect(maps.Keys(want))) {
		if got[k] != want[k] {
			t.Fatalf("%s: %s %d, the serial reference says %d (got %v, want %v)", what, k, got[k], want[k], got, want)
		}
	}
}

// TestAudienceBuildMatchesSerialDecisions: an audience built a page at a time on parallel workers, with
// whatever the batch reads leave out, comes to exactly what deciding every subject on its own from its
// whole record and every stored tag comes to — the same members with the same refs and groups, the same
// exclusions, and one audience.select entry per subject whose data was opened with the same decision —
// over a seeded population in every state the decision tells apart, pages of 7 subjects, three channels,
// a list-valued tag, and the campaign plan over all of the strategy's tiers.
func TestAudienceBuildMatchesSerialDecisions(t *testing.T) {
	defer vault.SetPageSize(7)()
	defer vault.SetParallelMin(2)()
	ctx := context.Background()
	cfg, store, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	if erased := seedMixed(t, svc, store, rand.New(rand.NewPCG(19, 2026)), 240); erased == 0 {
		t.Fatal("the seed erased nobody")
	}
	for _, in := range []vault.AudienceInput{
		{Rule: "(value.rfm_segment in ['at_risk', 'cant_lose'] or value.churn_risk == 'high') and value.lifecycle_stage != 'new'", Channel: "sms", Holdout: 0.3},
		{Rule: "interest.top_categories in ['bags'] and not value.rfm_segment == 'loyal'", Channel: "email", Holdout: 0.5},
		{Rule: "value.ltv_12m >= 1000 or behavior.price_sensitivity not in ['neutral']", Channel: "push"},
	} {
		t.Run(in.Channel, func(t *testing.T) {
			head, err := store.Query(ctx, audit.Filter{Limit: 1})
			if err != nil || len(head) != 1 {
				t.Fatal(head, err)
			}
			aud, _, err := svc.Audiences().Build(ctx, mk, in)
			if err != nil {
				t.Fatal(err)
			}
			members, excluded, decisions, err := vault.SerialBuild(ctx, svc, "marketing", aud)
			if err != nil {
				t.Fatal(err)
			}
			sameMembers(t, "members", storedMembers(t, store, aud.ID), members)
			sameCounts(t, "excluded", aud.Excluded, excluded)
			holdout := 0
			for _, m := range members {
				if m.Holdout {
					holdout++
				}
			}
			if aud.Size != len(members)-holdout || aud.HoldoutSize != holdout {
				t.Fatalf("sizes %d + %d holdout, the serial reference says %d + %d", aud.Size, aud.HoldoutSize, len(members)-holdout, holdout)
			}
			logged := loggedDecisions(t, store, head[0].Seq, func(r string) bool { return strings.HasPrefix(r, "audience:"+aud.ID+" ") })
			if !maps.Equal(logged, decisions) {
				t.Fatalf("audience.select decisions (%d) differ from the serial reference's (%d):\n%v\n%v", len(logged), len(decisions), logged, decisions)
			}
			// The population reaches every branch of the decision.
			for _, reason := range []string{vault.ExcludedNoConsent, vault.ExcludedChannel, vault.ExcludedObjection, vault.ExcludedMinor,
				vault.ExcludedRestricted, vault.ExcludedMissingTags} {
				if excluded[reason] == 0 {
					t.Errorf("nobody excluded as %s", reason)
				}
			}
			if in.Channel != "push" && excluded[vault.ExcludedNoContact] == 0 {
				t.Errorf("nobody excluded as %s", vault.ExcludedNoContact)
			}
			if len(members) == 0 || in.Holdout > 0 && (holdout == 0 || holdout == len(members)) {
				t.Errorf("%d members, %d held out", len(members), holdout)
			}
			// The members read (pages of 7, decided on parallel workers) hands out the treated members in
			// ref order, each with the channel's address masked, and nobody else.
			var want []string
			for _, m := range members {
				if !m.Holdout {
					want = append(want, m.Ref)
				}
			}
			slices.Sort(want)
			var got []string
			for cursor := ""; ; {
				page, err := svc.Audiences().Members(ctx, mk, aud.ID, cursor, 7)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page.Members {
					got = append(got, m.Ref)
					switch in.Channel {
					case "sms":
						if len(m.Address) != 11 || m.Address[:7] != "139****" {
							t.Fatalf("sms address %q", m.Address)
						}
					case "email":
						if !strings.HasSuffix(m.Address, "***@example.cn") {
							t.Fatalf("email address %q", m.Address)
						}
					default:
						if m.Address != "" {
							t.Fatalf("an address %q for %s", m.Address, in.Channel)
						}
					}
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("members read %d, want the %d treated in ref order", len(got), len(want))
			}
		})
	}
	t.Run("plan", func(t *testing.T) {
		head, err := store.Query(ctx, audit.Filter{Limit: 1})
		if err != nil || len(head) != 1 {
			t.Fatal(head, err)
		}
		plan, err := svc.Audiences().Plan(ctx, mk, 0.2)
		if err != nil {
			t.Fatal(err)
		}
		members, before, byTier, unmatched, decisions, err := vault.SerialPlan(ctx, svc, "marketing", plan)
		if err != nil {
			t.Fatal(err)
		}
		sameCounts(t, "excluded before any tier", plan.Excluded, before)
		if plan.Unmatched != unmatched || unmatched == 0 {
			t.Fatalf("unmatched %d, the serial reference says %d", plan.Unmatched, unmatched)
		}
		matched := 0
		for i, tier := range plan.Tiers {
			sameMembers(t, tier.Tier, storedMembers(t, store, tier.Audience.ID), members[i])
			sameCounts(t, tier.Tier+" excluded", tier.Audience.Excluded, byTier[i])
			matched += len(members[i])
		}
		if matched == 0 {
			t.Fatal("no tier has members")
		}
		ids := map[string]bool{}
		for _, tier := range plan.Tiers {
			ids[tier.Audience.ID] = true
		}
		logged := loggedDecisions(t, store, head[0].Seq, func(r string) bool {
			id, _, _ := strings.Cut(strings.TrimPrefix(r, "audience:"), " ")
			return strings.HasPrefix(r, "campaign_plan ") || ids[id]
		})
		if !maps.Equal(logged, decisions) {
			t.Fatalf("the plan's audience.select decisions (%d) differ from the serial reference's (%d):\n%v\n%v", len(logged), len(decisions), logged, decisions)
		}
	})
}
