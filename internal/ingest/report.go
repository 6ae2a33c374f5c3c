package ingest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Report is the data-quality report of one import (or one POST /v1/events call): what was accepted,
// what was changed and how, and what was rejected, by reason.
type Report struct {
	// Accepted counts records stored (or that would be stored).
	Accepted int `json:"accepted"`
	// Duplicates counts records already present (same event_id, same subject), which changed nothing.
	Duplicates int `json:"duplicates"`
	// Standardised counts records with at least one standardised value.
	Standardised int `json:"standardised"`
	// Anomalies counts records flagged as anomalous (outlying order amounts, bot-like subjects).
	Anomalies int `json:"anomalies"`
	// Imputed counts records with at least one imputed value.
	Imputed int `json:"imputed"`
	// Merged counts subjects merged into another by identity resolution.
	Merged int `json:"merged"`
	// ReviewQueued counts weaker matches sent to the data steward's review queue.
	ReviewQueued int `json:"review_queued"`
	// Rejected counts rejected records by reason code.
	Rejected map[string]int `json:"rejected"`
	// LinesRead counts the physical input lines read.
	LinesRead int `json:"lines_read"`
	// Details counts individual choices ("standardised.phone", "imputed.city", "anomalies.amount",
	// "anomalies.bot", ...); see Count.
	Details map[string]int `json:"details,omitempty"`
	// At says where rejected records were: file, line and reason of the first MaxRejectedAt by file and
	// line (records of one file go through several workers, so they are not rejected in line order).
	At []Rejection `json:"at,omitempty"`
}

// Rejection is where one rejected record was.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// MaxRejectedAt bounds Report.At: a file of a million bad lines gives counts, and the first hundred places.
const MaxRejectedAt = 100

// RejectAt counts one record rejected for reason, at line of file. At keeps the first MaxRejectedAt places
// by file and line, whatever order the import's workers rejected them in, so a report is the same on every
// run of the same input.
func (r *Report) RejectAt(file string, line int, reason string) {
	r.Reject(reason)
	r.keepAt(Rejection{File: file, Line: line, Reason: reason})
}

// keepAt adds x to At, or puts it in place of the last place kept when x comes before it.
func (r *Report) keepAt(x Rejection) {
	if len(r.At) < MaxRejectedAt {
		r.At = append(r.At, x)
		return
	}
	last := 0
	for i := range r.At {
		if rejectionOrder(r.At[i], r.At[last]) > 0 {
			last = i
		}
	}
	if rejectionOrder(x, r.At[last]) < 0 {
		r.At[last] = x
	}
}

// rejectionOrder orders places by file, then line.
func rejectionOrder(a, b Rejection) int {
	return cmp.Or(importRank(a.File)-importRank(b.File), strings.Compare(a.File, b.File), a.Line-b.Line)
}

// importRank is where a file's records come in an import: subjects first, then consents, objections and
// events (a rejected subject is the cause of its consents' and events' unknown_subject, so it comes first).
func importRank(file string) int {
	base := strings.ToLower(filepath.Base(file))
	for i, kind := range []string{"subjects", "consents", "objections", "events"} {
		if strings.HasPrefix(base, kind) {
			return i
		}
	}
	return 4
}

// Reject counts one record rejected for reason.
func (r *Report) Reject(reason string) {
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	r.Rejected[reason]++
}

// Count adds n to a detail counter.
func (r *Report) Count(detail string, n int) {
	if n == 0 {
		return
	}
	if r.Details == nil {
		r.Details = map[string]int{}
	}
	r.Details[detail] += n
}

// AddCleanCounts adds a Cleaner's per-field counters to the details, as "standardised.<name>" and
// "imputed.<name>".
func (r *Report) AddCleanCounts(c CleanCounts) {
	for k, n := range c.Standardised {
		r.Count("standardised."+k, n)
	}
	for k, n := range c.Imputed {
		r.Count("imputed."+k, n)
	}
}

// RejectedTotal returns the number of rejected records over all reasons.
func (r Report) RejectedTotal() int {
	n := 0
	for _, c := range r.Rejected {
		n += c
	}
	return n
}

// Merge adds another report's counts to r.
func (r *Report) Merge(o Report) {
	r.Accepted += o.Accepted
	r.Duplicates += o.Duplicates
	r.Standardised += o.Standardised
	r.Anomalies += o.Anomalies
	r.Imputed += o.Imputed
	r.Merged += o.Merged
	r.ReviewQueued += o.ReviewQueued
	r.LinesRead += o.LinesRead
	for k, n := range o.Rejected {
		if r.Rejected == nil {
			r.Rejected = map[string]int{}
		}
		r.Rejected[k] += n
	}
	for k, n := range o.Details {
		r.Count(k, n)
	}
	for _, x := range o.At {
		r.keepAt(x)
	}
}

// Lines returns the report as "name: value" lines in a stable order: accepted, duplicates,
// standardised, anomalies, imputed, merged, review_queued, rejected (the total), then one
// "rejected.<reason>: n" line per reason, sorted by reason, then the details sorted by name, then one
// "at FILE:LINE: reason" line per place in At, by file and line.
func (r Report) Lines() []string {
	out := []string{
		"accepted: " + strconv.Itoa(r.Accepted),
		"duplicates: " + strconv.Itoa(r.Duplicates),
		"standardised: " + strconv.Itoa(r.Standardised),
		"anomalies: " + strconv.Itoa(r.Anomalies),
		"imputed: " + strconv.Itoa(r.Imputed),
		"merged: " + strconv.Itoa(r.Merged),
		"review_queued: " + strconv.Itoa(r.ReviewQueued),
		"rejected: " + strconv.Itoa(r.RejectedTotal()),
	}
	for _, k := range slices.Sorted(maps.Keys(r.Rejected)) {
		out = append(out, "rejected."+k+": "+strconv.Itoa(r.Rejected[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Details)) {
		out = append(out, k+": "+strconv.Itoa(r.Details[k]))
	}
	at := slices.Clone(r.At)
	slices.SortStableFunc(at, rejectionOrder)
	for _, x := range at {
		out = append(out, "at "+x.File+":"+strconv.Itoa(x.Line)+": "+x.Reason)
	}
	return out
}

// ParseLines reads a report back from its Lines: the counts, the rejections per reason and the details
// (LinesRead is not among the lines) and where rejected records were. A line that is not "name: count" or
// "at FILE:LINE: reason" is an error.
func ParseLines(lines []string) (Report, error) {
	r := Report{Rejected: map[string]int{}}
	counts := map[string]*int{"accepted": &r.Accepted, "duplicates": &r.Duplicates, "standardised": &r.Standardised,
		"anomalies": &r.Anomalies, "imputed": &r.Imputed, "merged": &r.Merged, "review_queued": &r.ReviewQueued}
	for _, l := range lines {
		if at, ok := strings.CutPrefix(l, "at "); ok {
			i := strings.LastIndex(at, ": ")
			j := strings.LastIndex(at[:max(i, 0)], ":")
			n, err := strconv.Atoi(at[j+1 : max(i, j+1)])
			if i < 0 || j < 0 || err != nil {
				return Report{}, fmt.Errorf("ingest: report line %q is not at FILE:LINE: reason", l)
			}
			r.At = append(r.At, Rejection{File: at[:j], Line: n, Reason: at[i+2:]})
			continue
		}
		name, v, ok := strings.Cut(l, ": ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || name == "" {
			return Report{}, fmt.Errorf("ingest: report line %q is not name: count", l)
		}
		switch reason, isReason := strings.CutPrefix(name, "rejected."); {
		case counts[name] != nil:
			*counts[name] = n
		case name == "rejected": // the total, which the reasons add up to
		case isReason:
			r.Rejected[reason] = n
		default:
			if r.Details == nil {
				r.Details = map[string]int{}
			}
			r.Details[name] = n
		}
	}
	return r, nil
}

// MarshalJSON encodes the report with "rejected" always an object ({} rather than null).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	return json.Marshal(plain(r))
}
