package vault

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// Aggregate reports for compliance review (the console's charts). They hold counts only, never a subject,
// a staff identity or a value; reading one is recorded like any read of the trail.

// maxReportDays bounds the window of a daily report.
const maxReportDays = 92

// DayActivity is one UTC day of the audit trail: entries per declared purpose, per role of the caller
// (an entry counts once for each of its roles), and how many were denied.
type DayActivity struct {
	Day       string // YYYY-MM-DD (UTC)
	Total     int
	Denied    int
	ByPurpose map[string]int
	ByRole    map[string]int
}

// ActivityReport is the trail's volume per day over a window.
type ActivityReport struct {
	Days     []DayActivity
	AuditSeq int64
}

// ConsentRates is, per consent-based purpose, the share of subjects with a valid consent at the end of each
// UTC day: of the subjects active today, those that existed that day.
type ConsentRates struct {
	Days     []string // YYYY-MM-DD (UTC)
	Subjects []int    // subjects counted at the end of each day
	Purposes []PurposeRate
	AuditSeq int64
}

// PurposeRate is one purpose's count of subjects with a valid consent at the end of each day.
type PurposeRate struct {
	Purpose string
	Granted []int
}

// reportDays checks a window and returns its UTC days: since's day up to until's (exclusive when until
// falls at midnight). Zero times default to the last 30 days.
func (s *Review) reportDays(since, until time.Time) ([]time.Time, error) {
	if until.IsZero() {
		until = s.now()
	}
	if since.IsZero() {
		since = until.AddDate(0, 0, -29)
	}
	first := since.UTC().Truncate(24 * time.Hour)
	if !until.After(since) {
		return nil, Errorf(CodeInvalidArgument, "until must be after since")
	}
	var days []time.Time
	for d := first; d.Before(until); d = d.AddDate(0, 0, 1) {
		if len(days) == maxReportDays {
			return nil, Errorf(CodeInvalidArgument, "a report covers at most %d days", maxReportDays)
		}
		days = append(days, d)
	}
	return days, nil
}

// ActivityReport counts the trail's entries per day, purpose and role, and the denials, over [since,
// until) (at most 92 days; zero times: the last 30 days).
func (s *Review) ActivityReport(ctx context.Context, a Access, since, until time.Time) (ActivityReport, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionAuditReport, "")
	if err != nil {
		return ActivityReport{}, err
	}
	days, err := s.reportDays(since, until)
	if err != nil {
		return ActivityReport{}, s.refuseInvalid(ctx, a, ActionAuditReport, "", err)
	}
	rep := ActivityReport{Days: make([]DayActivity, len(days))}
	index := map[string]int{}
	for i, d := range days {
		day := d.Format(time.DateOnly)
		rep.Days[i] = DayActivity{Day: day, ByPurpose: map[string]int{}, ByRole: map[string]int{}}
		index[day] = i
	}
	end := days[len(days)-1].AddDate(0, 0, 1)
	err = s.trail.Export(ctx, days[0], end, func(_ int64, canonical []byte) error {
		var x struct {
			TS       time.Time      `json:"ts"`
			Purpose  string         `json:"purpose"`
			Decision audit.Decision `json:"decision"`
			Actor    struct {
				Roles []string `json:"roles"`
			} `json:"actor"`
		}
		if err := json.Unmarshal(canonical, &x); err != nil {
			return err
		}
		i, ok := index[x.TS.UTC().Format(time.DateOnly)]
		if !ok {
			return nil
		}
		d := &rep.Days[i]
		d.Total++
		if x.Decision == audit.Deny {
			d.Denied++
		}
		if x.Purpose == "" {
			x.Purpose = "none"
		}
		d.ByPurpose[x.Purpose]++
		for _, r := range x.Actor.Roles {
			d.ByRole[r]++
		}
		return nil
	})
	if err != nil {
		return ActivityReport{}, internalErr("read trail", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "report:activity days:"+strconv.Itoa(len(days))
	if rep.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return ActivityReport{}, internalErr("audit the report", err)
	}
	return rep, nil
}

// ConsentRates counts, for each consent-based purpose and each day of [since, until) (at most 92; zero
// times: the last 30 days), the active subjects that held a valid consent at the end of that day: granted by
// then, not withdrawn or expired by then. Erased subjects are not counted (their history is gone).
func (s *Review) ConsentRates(ctx context.Context, a Access, since, until time.Time) (ConsentRates, error) {
	pol, e, err := s.mayReadTrail(ctx, a, ActionAuditReport, "")
	if err != nil {
		return ConsentRates{}, err
	}
	days, err := s.reportDays(since, until)
	if err != nil {
		return ConsentRates{}, s.refuseInvalid(ctx, a, ActionAuditReport, "", err)
	}
	rep := ConsentRates{Subjects: make([]int, len(days))}
	ends := make([]time.Time, len(days))
	for i, d := range days {
		rep.Days = append(rep.Days, d.Format(time.DateOnly))
		ends[i] = d.AddDate(0, 0, 1)
	}
	// Each day is judged by the catalog in force at its end: a notice version a material change superseded
	// no longer counts from that change on, as enforcement holds it.
	catalogs := make([]*policies.Catalog, len(ends))
	var hist []PolicyInForce
	if s.policies != nil {
		if hist, err = s.policies.PolicyHistory(ctx); err != nil {
			return ConsentRates{}, internalErr("read policy history", err)
		}
	}
	versions := map[string]*policies.Set{}
	for i, end := range ends {
		hash := pol.Hash()
		if v, ok := inForceAt(hist, end.Add(-time.Nanosecond)); ok { // in force before the day ended
			hash = v.Hash
		}
		catalogs[i] = s.policyOf(ctx, hash, versions).Purposes()
	}
	for _, p := range pol.Purposes().All() {
		if p.NeedsConsent() {
			rep.Purposes = append(rep.Purposes, PurposeRate{Purpose: string(p.Name), Granted: make([]int, len(days))})
		}
	}
	for after := ""; ; {
		ids, err := s.profiles.activeIDs(ctx, after, 1000)
		if err != nil {
			return ConsentRates{}, internalErr("list subjects", err)
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			rec, err := s.activeSubject(ctx, id)
			if err != nil {
				continue // erased meanwhile
			}
			for i, end := range ends {
				if !rec.CreatedAt.Before(end) {
					continue
				}
				rep.Subjects[i]++
				for j := range rep.Purposes {
					if p, ok := catalogs[i].Purpose(policies.PurposeName(rep.Purposes[j].Purpose)); ok && heldAt(rec.Consents, p, end) {
						rep.Purposes[j].Granted[i]++
					}
				}
			}
		}
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "report:consent_rates days:"+strconv.Itoa(len(days))
	if rep.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return ConsentRates{}, internalErr("audit the report", err)
	}
	return rep, nil
}

// heldAt reports a consent to purpose granted before t and still valid at t as enforcement holds it: not
// withdrawn or expired, for a notice version no material change has superseded, of the kind the purpose
// needs (separate or written for one that asks for it), naming one of its recipients if it has any. (The
// guardian rule needs the birth date, which a report does not open: a child's consent is counted.) The
// report counted consents enforcement no longer honoured.
func heldAt(records []consent.Record, p policies.Purpose, t time.Time) bool {
	for _, r := range records {
		switch {
		case r.Purpose != p.Name || !r.GrantedAt.Before(t) || r.StatusAt(t) != consent.Granted || !p.ConsentCounts(r.NoticeVersion):
		case p.ConsentKind == string(consent.Separate) && r.Kind != consent.Separate && r.Kind != consent.Written:
		case len(p.Recipients) > 0 && !slices.Contains(p.Recipients, r.Recipient):
		default:
			return true
		}
	}
	return false
}
