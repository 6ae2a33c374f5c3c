package vault

import (
	"context"
	"slices"
	"strconv"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault/rule"
)

// ActionAudienceList records a read of the audiences list or of one audience (counts only).
const ActionAudienceList Action = "audience.list"

// List returns the audiences built for the declared purpose, the newest first (sizes and counts only).
func (s *Audiences) List(ctx context.Context, a Access) ([]AudienceRow, int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionAudienceList); err != nil {
		return nil, 0, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionAudienceList, "", nil)
	if err != nil {
		return nil, 0, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudiences, policies.ActWrite) {
		return nil, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read audiences for this purpose"))
	}
	rows, err := s.store.Audiences(ctx, 500)
	if err != nil {
		return nil, 0, internalErr("list audiences", err)
	}
	out := []AudienceRow{}
	for _, r := range rows {
		if r.Purpose == a.Purpose {
			out = append(out, r)
		}
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "audiences:"+strconv.Itoa(len(out))
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return nil, 0, internalErr("audit audience list", err)
	}
	return out, seq, nil
}

// Audience returns one audience with, for a tier of a campaign plan, its strategy row (nil otherwise).
func (s *Audiences) Audience(ctx context.Context, a Access, id string) (AudienceRow, *policies.Tier, int64, error) {
	row, e, err := s.audienceAccess(ctx, a, ActionAudienceList, id)
	if err != nil {
		return AudienceRow{}, nil, 0, err
	}
	var tier *policies.Tier
	for _, t := range s.Policy().Strategy() {
		if row.Name == planName(t, row.Channel) {
			tier = &t
		}
	}
	e.Decision, e.Status = audit.Allow, statusOK
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return AudienceRow{}, nil, 0, internalErr("audit audience read", err)
	}
	return row, tier, seq, nil
}

// ActionCampaignPlan records a campaign plan: one audience per tier of the strategy table.
const ActionCampaignPlan Action = "campaign.plan"

// planPrefix starts the name of every audience of a campaign plan's tier, and no other audience's.
const planPrefix = "plan:"

// planName names the audience of a tier's channel: plan:<tier>, or plan:<tier>:<channel> for a tier of
// several channels.
func planName(t policies.Tier, channel string) string {
	if len(t.Channels) > 1 {
		return planPrefix + t.Name + ":" + channel
	}
	return planPrefix + t.Name
}

// PlanTier is one tier of a campaign plan on one of its channels: the strategy row and the audience built
// for it (a tier of several channels has one PlanTier for each).
type PlanTier struct {
	Tier     string
	Channel  string
	Content  map[string]string
	Audience AudienceRow
}

// CampaignPlan is the tiered plan for the whole consenting population: each reachable person in the first
// tier (strategy.json order) whose rule matches; Excluded counts those nobody may reach (the same reasons as
// an audience, before any tier); Unmatched those reachable that no tier's rule matches.
type CampaignPlan struct {
	Tiers     []PlanTier
	Excluded  map[string]int
	Unmatched int
	AuditSeq  int64 // the plan's own entry
}

// Plan builds one audience per tier of the strategy table over the whole population in one pass, with the
// same rules as Build (holdout share for every tier); the tiers' audiences are stored in one commit.
func (s *Audiences) Plan(ctx context.Context, a Access, holdout float64) (CampaignPlan, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionCampaignPlan)
	if err != nil {
		return CampaignPlan{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionCampaignPlan, "", nil)
	if err != nil {
		return CampaignPlan{}, err
	}
	e.Categories = []string{"tags", "contact"}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudiences, policies.ActWrite) {
		return CampaignPlan{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not build audiences for this purpose"))
	}
	if holdout < 0 || holdout > 0.5 {
		return CampaignPlan{}, s.refuseInvalid(ctx, a, ActionCampaignPlan, "", Errorf(CodeInvalidArgument, "holdout must be between 0 and 0.5"))
	}
	tiers := pol.Strategy()
	for _, t := range tiers {
		if err := s.checkVocabulary(t.Rule, purpose.Name); err != nil {
			return CampaignPlan{}, s.refuseInvalid(ctx, a, ActionCampaignPlan, "", Errorf(CodeInvalidArgument, "strategy tier %s: %s", t.Name, ErrorMessage(err)))
		}
	}
	now := s.now()
	plan := CampaignPlan{Excluded: map[string]int{}}
	slots := make([][]int, len(tiers)) // by tier: its PlanTiers, one per channel, in order of preference
	for ti, t := range tiers {
		for _, ch := range t.Channels {
			row := AudienceRow{ID: newID("aud_"), Name: planName(t, ch), Rule: rule.String(t.Rule), Channel: ch, Purpose: a.Purpose, Holdout: holdout,
				Excluded: map[string]int{ExcludedChannel: 0, ExcludedNoContact: 0}, CreatedBy: a.Caller.Subject, CreatedAt: now.UTC()}
			slots[ti] = append(slots[ti], len(plan.Tiers))
			plan.Tiers = append(plan.Tiers, PlanTier{Tier: t.Name, Channel: ch, Content: t.Content, Audience: row})
		}
	}
	members := make([][]AudienceMember, len(plan.Tiers))
	selectEntry := s.newEntry(ctx, a, pol, ActionAudienceSelect, "")
	selectEntry.Categories, selectEntry.Status = []string{"tags"}, statusOK // shared by every entry, never changed
	// The reasons an entry can give, written once.
	notSelected := map[string]string{"no_tier": "campaign_plan not_selected:no_tier"}
	for _, r := range exclusionReasons {
		notSelected[r] = "campaign_plan not_selected:" + r
	}
	selected := make([]map[bool]string, len(plan.Tiers))
	for i, t := range plan.Tiers {
		prefix := "audience:" + t.Audience.ID + " tier:" + t.Tier + " group:"
		selected[i] = map[bool]string{false: prefix + "treated", true: prefix + "holdout"}
	}
	// Each subject's birth date and the contact fields of the tiers' channels; its tags of the keys any
	// tier's rule names.
	rules, channels := make([]rule.Compiled, len(tiers)), []string{}
	reads := pageReads{purpose: a.Purpose}
	for i, t := range tiers {
		rules[i] = rule.Compile(t.Rule)
		channels = append(channels, t.Channels...)
		for _, k := range rules[i].Keys {
			if !slices.Contains(reads.keys, k) {
				reads.keys = append(reads.keys, k)
			}
		}
	}
	reads.fields = decisionFields(channels...)
	type decided struct {
		members   [][]AudienceMember // by PlanTier
		excluded  []map[string]int   // by PlanTier
		entries   []audit.Entry
		before    map[string]int // excluded before any tier
		unmatched int
	}
	decide := func(p subjectPage) decided {
		out := decided{members: make([][]AudienceMember, len(plan.Tiers)), excluded: make([]map[string]int, len(plan.Tiers)), before: map[string]int{},
			entries: make([]audit.Entry, 0, len(p.recs))}
		for i := range plan.Tiers {
			out.excluded[i] = map[string]int{}
		}
		for _, rec := range p.recs {
			sid := rec.ID
			se := s.entryFor(selectEntry, rec)
			refuse := func(reason string) {
				if len(se.DecisionInputs) > 0 {
					se.Decision, se.Reason = audit.Deny, notSelected[reason]
					if se.Reason == "" { // a reason not written out above
						se.Reason = "campaign_plan not_selected:" + reason
					}
					out.entries = append(out.entries, se)
				}
			}
			// What does not depend on the tier's channel is decided once (the birth date opened once).
			if reason := s.excludedAny(&se, purpose, rec, now); reason != "" {
				out.before[reason]++
				refuse(reason)
				continue
			}
			values := s.gate.decisionTags(&se, rec, p.tags[sid])
			get := func(k string) ([]string, bool) { v, ok := values[k]; return v, ok }
			tier := -1
			for i, r := range rules {
				if match, missing := r.Eval(get); match && !missing {
					tier = i
					break
				}
			}
			if tier < 0 {
				out.unmatched++
				refuse("no_tier")
				continue
			}
			// The first of the tier's channels the person can be reached on; if none, the first channel's reason.
			slot, reason := -1, ""
			for _, j := range slots[tier] {
				r := excludedOn(purpose, rec, plan.Tiers[j].Channel, now)
				if r == "" {
					slot = j
					break
				}
				if reason == "" {
					reason = r
				}
			}
			if slot < 0 {
				out.excluded[slots[tier][0]][reason]++
				refuse(reason)
				continue
			}
			pt := &plan.Tiers[slot] // read only: the workers share it
			ref := s.gate.pseudonym("audience:" + pt.Audience.ID + ":" + sid)
			m := AudienceMember{SubjectID: sid, Ref: ref, Holdout: inHoldout(ref, holdout)}
			out.members[slot] = append(out.members[slot], m)
			se.Decision, se.Reason = audit.Allow, selected[slot][m.Holdout]
			out.entries = append(out.entries, se)
		}
		return out
	}
	err = scanLogged(ctx, s, reads, decide, func(p decided) []audit.Entry { return p.entries }, func(p decided, _ int) {
		for reason, n := range p.before {
			plan.Excluded[reason] += n
		}
		plan.Unmatched += p.unmatched
		for i := range plan.Tiers {
			members[i] = append(members[i], p.members[i]...)
			for reason, n := range p.excluded[i] {
				plan.Tiers[i].Audience.Excluded[reason] += n
			}
		}
	})
	if err != nil {
		return CampaignPlan{}, err
	}
	for i := range plan.Tiers {
		for _, m := range members[i] {
			if m.Holdout {
				plan.Tiers[i].Audience.HoldoutSize++
			} else {
				plan.Tiers[i].Audience.Size++
			}
		}
	}
	e.Decision, e.Status = audit.Allow, statusCreated
	e.Reason = "campaign_plan tiers:" + strconv.Itoa(len(tiers)) + " excluded:" + excludedText(plan.Excluded) + " unmatched:" + strconv.Itoa(plan.Unmatched)
	plan.AuditSeq, err = s.seq.CommitMany(ctx, func(tx Tx) error {
		for i, t := range plan.Tiers {
			if err := tx.PutAudience(t.Audience, members[i]); err != nil {
				return err
			}
		}
		return nil
	}, func(cerr error) []audit.Entry { return []audit.Entry{buildEntry(e, cerr)} })
	if err != nil {
		return CampaignPlan{}, internalErr("record campaign plan", err)
	}
	return plan, nil
}
