package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault/rule"
)

// SetPageSize makes batch decisions read n subjects at a time until restore is called, so that a test can
// cross many page boundaries with few subjects.
func SetPageSize(n int) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}

// SetJSONAttrs stores the attributes of the events collected as JSON, as before the binary encoding, until
// restore is called.
func SetJSONAttrs() (restore func()) {
	old := encodeEventAttrs
	encodeEventAttrs = func(m map[string]any) ([]byte, error) { return json.Marshal(m) }
	return func() { encodeEventAttrs = old }
}

// IsBinaryAttrs reports whether opened attributes are in the binary encoding.
func IsBinaryAttrs(plain []byte) bool { return len(plain) > 0 && plain[0] == attrsBinary }

// SetSelectionGroup logs decision entries n to a group commit until restore is called.
func SetSelectionGroup(n int) (restore func()) {
	old := selectionGroup
	selectionGroup = n
	return func() { selectionGroup = old }
}

// SetParallelMin splits work over the cores from n items on until restore is called, so that a test can
// run the parallel paths with few subjects.
func SetParallelMin(n int) (restore func()) {
	old := parallelMin
	parallelMin = n
	return func() { parallelMin = old }
}

// SerialDecision is how the serial reference decided one subject: "allow:treated", "allow:holdout", or
// the reason it was left out ("no_match" when the rule did not match, "no_tier" when no tier's did).
type SerialDecision = string

// SerialBuild decides every active subject one at a time, the plainest way — the whole record (Subject),
// every stored tag of the purpose, the rule evaluated as parsed, the exclusions (excluded) on the
// audience's channel at once — for an audience with row's id, rule, channel and holdout. It returns the
// members by subject id, the exclusion counts, and the decision of each subject whose data was opened (so
// Build logged an entry for it) by the subject's audit pseudonym.
func SerialBuild(ctx context.Context, s *Service, purposeName policies.PurposeName, row AudienceRow) (map[string]AudienceMember, map[string]int, map[string]SerialDecision, error) {
	purpose, ok := s.Policy().Purposes().Purpose(purposeName)
	if !ok {
		return nil, nil, nil, fmt.Errorf("no purpose %s", purposeName)
	}
	tree, err := rule.Parse(row.Rule)
	if err != nil {
		return nil, nil, nil, err
	}
	now := s.now()
	members, excluded, decisions := map[string]AudienceMember{}, map[string]int{}, map[string]SerialDecision{}
	err = serialScan(ctx, s, func(rec SubjectRecord) error {
		var e audit.Entry
		decide := noteDecision(s, decisions, &e, rec)
		reason, values, err := serialValues(ctx, s, &e, purpose, rec, row.Channel, now)
		if err != nil {
			return err
		}
		if reason != "" {
			excluded[reason]++
			decide(reason)
			return nil
		}
		match, missing := rule.Eval(tree, func(k string) ([]string, bool) { v, ok := values[k]; return v, ok })
		switch {
		case missing:
			excluded[ExcludedMissingTags]++
			decide(ExcludedMissingTags)
		case !match:
			decide("no_match")
		default:
			ref := s.gate.pseudonym("audience:" + row.ID + ":" + rec.ID)
			m := AudienceMember{SubjectID: rec.ID, Ref: ref, Holdout: inHoldout(ref, row.Holdout)}
			members[rec.ID] = m
			decide("allow:" + group(m))
		}
		return nil
	})
	return members, excluded, decisions, err
}

// SerialPlan is SerialBuild for a campaign plan already made: each active subject decided on its own
// before any tier, then in the first tier whose rule matches on that tier's channel. It returns the
// members by tier and subject id, the exclusions before any tier and by tier, the unmatched, and the
// decisions by audit pseudonym.
func SerialPlan(ctx context.Context, s *Service, purposeName policies.PurposeName, plan CampaignPlan) ([]map[string]AudienceMember, map[string]int, []map[string]int, int, map[string]SerialDecision, error) {
	purpose, ok := s.Policy().Purposes().Purpose(purposeName)
	if !ok {
		return nil, nil, nil, 0, nil, fmt.Errorf("no purpose %s", purposeName)
	}
	tiers := s.Policy().Strategy()
	now := s.now()
	// By PlanTier: a tier of several channels has one for each, in its order of preference.
	members, byTier := make([]map[string]AudienceMember, len(plan.Tiers)), make([]map[string]int, len(plan.Tiers))
	for i := range plan.Tiers {
		members[i], byTier[i] = map[string]AudienceMember{}, map[string]int{}
	}
	before, unmatched, decisions := map[string]int{}, 0, map[string]SerialDecision{}
	err := serialScan(ctx, s, func(rec SubjectRecord) error {
		var e audit.Entry
		decide := noteDecision(s, decisions, &e, rec)
		reason, values, err := serialValues(ctx, s, &e, purpose, rec, "", now)
		if err != nil {
			return err
		}
		if reason != "" {
			before[reason]++
			decide(reason)
			return nil
		}
		tier := -1
		for i, t := range tiers {
			if match, missing := rule.Eval(t.Rule, func(k string) ([]string, bool) { v, ok := values[k]; return v, ok }); match && !missing {
				tier = i
				break
			}
		}
		if tier < 0 {
			unmatched++
			decide("no_tier")
			return nil
		}
		// The first of the tier's channels the subject can be reached on; none: the first channel's reason.
		slot, first, reason := -1, -1, ""
		for j, pt := range plan.Tiers {
			if pt.Tier != tiers[tier].Name {
				continue
			}
			r := s.audiences.excluded(&e, purpose, rec, pt.Channel, now)
			if first < 0 {
				first, reason = j, r
			}
			if r == "" {
				slot = j
				break
			}
		}
		if slot < 0 {
			byTier[first][reason]++
			decide(reason)
			return nil
		}
		ref := s.gate.pseudonym("audience:" + plan.Tiers[slot].Audience.ID + ":" + rec.ID)
		m := AudienceMember{SubjectID: rec.ID, Ref: ref, Holdout: inHoldout(ref, plan.Tiers[slot].Audience.Holdout)}
		members[slot][rec.ID] = m
		decide("allow:" + group(m))
		return nil
	})
	return members, before, byTier, unmatched, decisions, err
}

func group(m AudienceMember) string {
	if m.Holdout {
		return "holdout"
	}
	return "treated"
}

// serialValues is the start of a serial decision on rec: why it may not be in an audience on channel (""
// for the checks that do not depend on the channel) or, if it may, its stored tags of purpose opened to
// decide on; e names what was opened.
func serialValues(ctx context.Context, s *Service, e *audit.Entry, purpose policies.Purpose, rec SubjectRecord, channel string, now time.Time) (excluded string, values map[string][]string, err error) {
	if reason := s.audiences.excluded(e, purpose, rec, channel, now); reason != "" {
		return reason, nil, nil
	}
	stored, err := s.tags.storedTags(ctx, rec, purpose.Name)
	if err != nil {
		return "", nil, err
	}
	return "", s.gate.decisionTags(e, rec, stored), nil
}

// noteDecision returns the function that notes a decision on rec in decisions, by the subject's audit
// pseudonym, if e names data the decision opened (Build logs an entry only then).
func noteDecision(s *Service, decisions map[string]SerialDecision, e *audit.Entry, rec SubjectRecord) func(SerialDecision) {
	return func(d SerialDecision) {
		if len(e.DecisionInputs) > 0 {
			decisions[recordRef(s.gate, rec)] = d
		}
	}
}

// serialScan calls fn with the record of every active subject, one read each.
func serialScan(ctx context.Context, s *Service, fn func(SubjectRecord) error) error {
	for after := ""; ; {
		ids, err := s.profiles.activeIDs(ctx, after, 100)
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, id := range ids {
			rec, err := s.records.Subject(ctx, id)
			if err != nil {
				return err
			}
			if rec.State != StateActive {
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		after = ids[len(ids)-1]
	}
}
