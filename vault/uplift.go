package vault

import (
	"context"
	"math"
	"strconv"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault/uplift"
)

// ActionAudienceOutcomes records campaign outcomes; ActionAudienceReport the uplift report read.
const (
	ActionAudienceOutcomes Action = "audience.outcomes"
	ActionAudienceReport   Action = "audience.report"
)

// maxOutcomes bounds one outcomes batch.
const maxOutcomes = 10_000

// audienceAccess checks the caller may work on audiences for the declared purpose and that id is one of
// them, returning the row and the open entry.
func (s *Audiences) audienceAccess(ctx context.Context, a Access, action Action, id string) (AudienceRow, audit.Entry, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, action); err != nil {
		return AudienceRow{}, audit.Entry{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, action, "", nil)
	if err != nil {
		return AudienceRow{}, e, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudiences, policies.ActWrite) {
		return AudienceRow{}, e, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not work on audiences for this purpose"))
	}
	row, err := s.store.Audience(ctx, id)
	if err != nil || row.Purpose != a.Purpose {
		return AudienceRow{}, e, s.deny(ctx, e, statusNotFound, "audience_not_found", Errorf(CodeNotFound, "no such audience for this purpose"))
	}
	e.Reason = "audience:" + id
	return row, e, nil
}

// OutcomesRecorded is what an outcomes batch did: how many outcomes it recorded, and how many it left out
// by reason — a member erased since the build (ExcludedErased), or one the purpose may no longer process
// (no_consent, objection, restricted, minor, key_unavailable).
type OutcomesRecorded struct {
	Recorded int
	Skipped  map[string]int
	AuditSeq int64
}

// ExcludedErased is the reason an outcome of a member erased since the build is not recorded.
const ExcludedErased = "erased"

// RecordOutcomes stores what the campaign led to for members of either group, by member ref: each update
// says only what it names, and a later one keeps what an earlier one said (conversions first, retention
// when it is known). A ref that is not a member of the audience, one named twice, an update that says
// nothing, or an order value without converted: true refuses the batch. Each member is decided again:
// what a campaign led to is data about the person, processed for the purpose, so the outcome of someone
// erased since the build, or who withdrew their consent, objected or restricted processing, is not
// recorded (Skipped counts them). One entry records the batch, and one each person whose outcome was
// recorded (their access log shows it), or whose data was opened to decide.
func (s *Audiences) RecordOutcomes(ctx context.Context, a Access, id string, updates []OutcomeUpdate) (OutcomesRecorded, error) {
	row, e, err := s.audienceAccess(ctx, a, ActionAudienceOutcomes, id)
	if err != nil {
		return OutcomesRecorded{}, err
	}
	if len(updates) == 0 || len(updates) > maxOutcomes {
		return OutcomesRecorded{}, s.refuseInvalid(ctx, a, ActionAudienceOutcomes, "", Errorf(CodeInvalidArgument, "outcomes must hold 1 to %d members", maxOutcomes))
	}
	refs := make([]string, len(updates))
	seen := make(map[string]bool, len(updates))
	for i, o := range updates {
		if err := validOutcome(o); err != "" {
			return OutcomesRecorded{}, s.refuseInvalid(ctx, a, ActionAudienceOutcomes, "", Errorf(CodeInvalidArgument, "outcome %d: %s", i, err))
		}
		if !plausibleID(o.Ref) { // no ref has other characters (and PostgreSQL refuses a NUL with a 500)
			return OutcomesRecorded{}, s.refuseInvalid(ctx, a, ActionAudienceOutcomes, "", Errorf(CodeInvalidArgument, "outcome %d: member_ref is not a member of this audience", i))
		}
		if seen[o.Ref] {
			return OutcomesRecorded{}, s.refuseInvalid(ctx, a, ActionAudienceOutcomes, "", Errorf(CodeInvalidArgument, "outcome %d: the member_ref of an earlier outcome of this batch: send one outcome a member", i))
		}
		seen[o.Ref] = true
		refs[i] = o.Ref
	}
	known, err := s.store.MemberRefs(ctx, id, refs)
	if err != nil {
		return OutcomesRecorded{}, internalErr("check members", err)
	}
	for i, r := range refs {
		if _, ok := known[r]; !ok {
			return OutcomesRecorded{}, s.refuseInvalid(ctx, a, ActionAudienceOutcomes, "", Errorf(CodeInvalidArgument, "outcome %d: member_ref is not a member of this audience", i))
		}
	}
	members := make([]AudienceMember, len(refs))
	for i, r := range refs {
		members[i] = known[r]
	}
	tmpl := e
	tmpl.Categories = []string{"transactions"} // what the campaign led to: orders and whether the person stayed
	keep, entries, skipped, err := s.stillMembers(ctx, row, tmpl, members, "outcome")
	if err != nil {
		return OutcomesRecorded{}, err
	}
	var kept []OutcomeUpdate
	for i, u := range updates {
		if !keep[i] {
			continue
		}
		if u.Converted != nil && !*u.Converted && u.OrderValue == nil {
			zero := 0.0
			u.OrderValue = &zero // no conversion, no order
		}
		kept = append(kept, u)
	}
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason += " outcomes:" + strconv.Itoa(len(kept)) + " skipped:" + strconv.Itoa(len(updates)-len(kept))
	seq, err := s.seq.CommitMany(ctx, func(tx Tx) error {
		if len(kept) == 0 {
			return nil
		}
		return tx.PutOutcomes(id, kept)
	}, func(cerr error) []audit.Entry {
		if cerr != nil {
			return []audit.Entry{finish(e, cerr, nil)}
		}
		return append(entries, e)
	})
	if err != nil {
		return OutcomesRecorded{}, internalErr("record outcomes", err)
	}
	return OutcomesRecorded{Recorded: len(kept), Skipped: skipped, AuditSeq: seq}, nil
}

// stillMembers decides again, now, whether each of members may still be processed for the audience's
// purpose: its subject active (not erased since the build), and not excluded from every audience of the
// purpose (excludedAny: restriction, objection, age, consent). It returns which may, an entry (from tmpl)
// for each that may — what names them in their access log — and for each refused whose data was opened to
// decide, and the refusals counted by reason.
func (s *Audiences) stillMembers(ctx context.Context, row AudienceRow, tmpl audit.Entry, members []AudienceMember, what string) ([]bool, []audit.Entry, map[string]int, error) {
	purpose, ok := s.Policy().Purposes().Purpose(row.Purpose)
	if !ok {
		return nil, nil, nil, internalErr("audience purpose", ErrNotFound)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.SubjectID
	}
	recs, err := s.activeSubjects(ctx, ids, decisionFields())
	if err != nil {
		return nil, nil, nil, internalErr("read subjects", err)
	}
	now := s.now()
	keep := make([]bool, len(members))
	skipped := map[string]int{}
	var entries []audit.Entry
	for i, m := range members {
		rec, ok := recs[m.SubjectID]
		if !ok {
			skipped[ExcludedErased]++
			continue
		}
		me := s.entryFor(tmpl, rec)
		if reason := s.excludedAny(&me, purpose, rec, now); reason != "" {
			skipped[reason]++
			if len(me.DecisionInputs) > 0 {
				me.Decision, me.Status, me.Reason = audit.Deny, statusForbidden, "audience:"+row.ID+" "+what+" not_recorded:"+reason
				entries = append(entries, me)
			}
			continue
		}
		me.Decision, me.Status, me.Reason = audit.Allow, statusOK, "audience:"+row.ID+" "+what
		keep[i], entries = true, append(entries, me)
	}
	return keep, entries, skipped, nil
}

// validOutcome says what is wrong with an outcome update ("" if nothing): it must name a member and say
// something, and an order value is a finite amount >= 0 that comes with converted: true.
func validOutcome(o OutcomeUpdate) string {
	switch {
	case o.Ref == "":
		return "member_ref is missing"
	case o.Converted == nil && o.OrderValue == nil && o.Retained30 == nil && o.Retained60 == nil && o.Retained90 == nil:
		return "says nothing: give converted, order_value or retained_30/60/90"
	case o.OrderValue == nil:
		return ""
	case *o.OrderValue < 0 || math.IsNaN(*o.OrderValue) || math.IsInf(*o.OrderValue, 0):
		return "order_value must be a finite amount >= 0"
	case *o.OrderValue != 0 && (o.Converted == nil || !*o.Converted):
		return "an order_value comes with converted: true in the same outcome"
	}
	return ""
}

// GroupStats are one group's outcome counts. Members is the group's size at the build — the denominator of
// its conversion rate: a member no upload reported did not convert (uploads usually carry the orders
// only) — and Reported how many members an upload named.
type GroupStats struct {
	Members, Reported, Converted int
	Retained                     [3]int // at 30, 60, 90 days, of Known
	Known                        [3]int
	AOV                          uplift.Sample // order values of conversions
}

// UpliftReport compares the treated group with the holdout: differences with 95 % intervals (Newcombe
// for rates, Welch for the average order value) and the relative uplift of each rate.
type UpliftReport struct {
	Treated, Holdout GroupStats
	Conversion       uplift.Interval
	Retention        [3]uplift.Interval // 30, 60, 90 days
	AOV              uplift.Interval
	// RelativeConversion and RelativeRetention are the differences over the holdout's rate (NaN when
	// the holdout's rate is 0).
	RelativeConversion float64
	RelativeRetention  [3]float64
	AuditSeq           int64
}

// Report computes the uplift report from the recorded outcomes (counts and statistics only).
func (s *Audiences) Report(ctx context.Context, a Access, id string) (UpliftReport, error) {
	row, e, err := s.audienceAccess(ctx, a, ActionAudienceReport, id)
	if err != nil {
		return UpliftReport{}, err
	}
	outcomes, err := s.store.Outcomes(ctx, id)
	if err != nil {
		return UpliftReport{}, internalErr("read outcomes", err)
	}
	var rep UpliftReport
	rep.Treated.Members, rep.Holdout.Members = row.Size, row.HoldoutSize
	var values [2][]float64
	for _, o := range outcomes {
		g, k := &rep.Treated, 0
		if o.Holdout {
			g, k = &rep.Holdout, 1
		}
		g.Reported++
		if o.Converted {
			g.Converted++
			values[k] = append(values[k], o.OrderValue)
		}
		for i, r := range []*bool{o.Retained30, o.Retained60, o.Retained90} {
			if r != nil {
				g.Known[i]++
				if *r {
					g.Retained[i]++
				}
			}
		}
	}
	rep.Treated.AOV, rep.Holdout.AOV = uplift.Summarise(values[0]), uplift.Summarise(values[1])
	rep.Conversion = uplift.ProportionDiff(rep.Treated.Converted, rep.Treated.Members, rep.Holdout.Converted, rep.Holdout.Members)
	rep.RelativeConversion = relative(rep.Conversion.Estimate, rep.Holdout.Converted, rep.Holdout.Members)
	for i := range 3 {
		rep.Retention[i] = uplift.ProportionDiff(rep.Treated.Retained[i], rep.Treated.Known[i], rep.Holdout.Retained[i], rep.Holdout.Known[i])
		rep.RelativeRetention[i] = relative(rep.Retention[i].Estimate, rep.Holdout.Retained[i], rep.Holdout.Known[i])
	}
	rep.AOV = uplift.MeanDiff(rep.Treated.AOV, rep.Holdout.AOV)
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason += " outcomes:" + strconv.Itoa(len(outcomes))
	if rep.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return UpliftReport{}, internalErr("audit report", err)
	}
	return rep, nil
}

func relative(diff float64, x, n int) float64 {
	if n == 0 || x == 0 {
		return math.NaN()
	}
	return diff / (float64(x) / float64(n))
}

// HoldoutRefs lists the holdout's member refs among a page of members after cursor (to report their
// outcomes), and the cursor of the next page ("" at the end); no address and no contact: a holdout is never
// reached. One entry records the read.
func (s *Audiences) HoldoutRefs(ctx context.Context, a Access, id, cursor string, limit int) ([]string, string, int64, error) {
	row, e, err := s.audienceAccess(ctx, a, ActionAudienceMemberRead, id)
	if err != nil {
		return nil, "", 0, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if cursor != "" && !plausibleID(cursor) { // a member ref
		return nil, "", 0, s.refuseInvalid(ctx, a, ActionAudienceMemberRead, "", Errorf(CodeInvalidArgument, "bad cursor"))
	}
	ms, err := s.store.AudienceMembers(ctx, id, cursor, limit)
	if err != nil {
		return nil, "", 0, internalErr("read members", err)
	}
	next := ""
	if len(ms) == limit {
		next = ms[len(ms)-1].Ref
	}
	var holdout []AudienceMember
	for _, m := range ms {
		if m.Holdout {
			holdout = append(holdout, m)
		}
	}
	// Only those whose outcome may still be recorded (see RecordOutcomes): not someone erased since, or who
	// withdrew their consent.
	keep, entries, _, err := s.stillMembers(ctx, row, e, holdout, "holdout_ref")
	if err != nil {
		return nil, "", 0, err
	}
	refs := []string{}
	for i, m := range holdout {
		if keep[i] {
			refs = append(refs, m.Ref)
		}
	}
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason += " holdout_refs:" + strconv.Itoa(len(refs))
	seq, err := s.seq.CommitMany(ctx, nil, func(error) []audit.Entry { return append(entries, e) })
	if err != nil {
		return nil, "", 0, internalErr("audit holdout read", err)
	}
	return refs, next, seq, nil
}
