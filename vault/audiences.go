package vault

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/policies/safetext"
	"github.com/profilevault/profilevault/vault/rule"
)

// Audiences (precision marketing): a rule over stored tags selects, through the enforcement point, the
// subjects who may be reached on one channel for the declared purpose now; everyone else is counted by the
// reason they are not in it. Each member gets an audit entry naming the audience, so their access log shows
// the campaign; a deterministic holdout (a keyed hash of audience and subject) is kept apart for measuring.

// Actions on audiences.
const (
	ActionAudienceBuild      Action = "audience.build"
	ActionAudienceSelect     Action = "audience.select"
	ActionAudienceMemberRead Action = "audience.member_read"
)

// Exclusion reasons of an audience build.
const (
	ExcludedNoConsent   = "no_consent"
	ExcludedChannel     = "channel_not_permitted"
	ExcludedNoContact   = "no_contact"
	ExcludedObjection   = "objection"
	ExcludedMinor       = "minor"
	ExcludedRestricted  = "restricted"
	ExcludedMissingTags = "missing_tags"
	// ExcludedKeyUnavailable: the decision needs a field (the birth date) sealed under a KEK version this
	// node's ring lacks, so the subject cannot be decided here and is left out (ErrKEKMissing).
	ExcludedKeyUnavailable = "key_unavailable"
)

// exclusionReasons are every reason an audience build excludes a subject for.
var exclusionReasons = []string{ExcludedNoConsent, ExcludedChannel, ExcludedNoContact, ExcludedObjection, ExcludedMinor, ExcludedRestricted, ExcludedMissingTags, ExcludedKeyUnavailable}

// channelContact is the field a channel reaches a person through (none: the app's own account).
var channelContact = map[string]string{"sms": "phone", "wecom": "phone", "email": "email"}

// AudienceRow is an audience as stored.
type AudienceRow struct {
	ID, Name, Rule, Channel string
	Purpose                 policies.PurposeName
	Holdout                 float64
	Size, HoldoutSize       int
	Excluded                map[string]int
	// Unmatched counts those who could be reached but whose tags the rule does not match: with the sizes
	// and the exclusions it adds up to everyone decided.
	Unmatched int
	CreatedBy string
	CreatedAt time.Time
}

// AudienceMember is one selected subject: Ref is the member's key outside the vault (a keyed hash of the
// audience and the subject), Holdout marks the control group.
type AudienceMember struct {
	SubjectID, Ref string
	Holdout        bool
}

// AudienceStore reads audiences and their members (by Ref order).
type AudienceStore interface {
	Audience(ctx context.Context, id string) (AudienceRow, error)
	AudienceMembers(ctx context.Context, id, afterRef string, limit int) ([]AudienceMember, error)
	// MemberRefs returns those of refs that are members of the audience, by ref; Outcomes lists the
	// recorded outcomes with each member's group.
	MemberRefs(ctx context.Context, id string, refs []string) (map[string]AudienceMember, error)
	Outcomes(ctx context.Context, id string) ([]Outcome, error)
	// Audiences lists audiences, the newest first.
	Audiences(ctx context.Context, limit int) ([]AudienceRow, error)
}

// AudienceTx stores a built audience with its members, and campaign outcomes.
type AudienceTx interface {
	PutAudience(r AudienceRow, members []AudienceMember) error
	// PutOutcomes records what each update says of a member's outcome and keeps what it does not say
	// (nil): a first update of a member stores it with a conversion of false and no retention known.
	PutOutcomes(audienceID string, updates []OutcomeUpdate) error
}

// Outcome is what a campaign led to for one member (treated or held out): a conversion and its order
// value, and whether the person was still a customer 30, 60 and 90 days on (nil: not known yet).
type Outcome struct {
	Ref                                string
	Holdout                            bool // from the member, on reading
	Converted                          bool
	OrderValue                         float64
	Retained30, Retained60, Retained90 *bool
}

// OutcomeUpdate is what one upload says of a member's outcome, only the parts it names (nil: not said):
// conversions come first, retention at 30, 60 and 90 days later, and a later upload keeps what an earlier
// one said. A conversion of false sets the order value to 0.
type OutcomeUpdate struct {
	Ref                                string
	Converted                          *bool
	OrderValue                         *float64
	Retained30, Retained60, Retained90 *bool
}

// AudienceInput is a build request.
type AudienceInput struct {
	Name, Rule, Channel string
	Holdout             float64
	// Progress, if set, is told how many subjects were decided so far (every 1,000), for a batch caller.
	Progress func(done int)
}

// Audiences is the audience service; it shares the enforcement point's core.
type Audiences struct {
	*core
	store    AudienceStore
	tags     *Tags
	profiles *Profiles
}

// Audiences returns the service.
func (s *Service) Audiences() *Audiences { return s.audiences }

// Build selects an audience; it returns the stored audience and the sequence number of the build's entry.
func (s *Audiences) Build(ctx context.Context, a Access, in AudienceInput) (AudienceRow, int64, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionAudienceBuild)
	if err != nil {
		return AudienceRow{}, 0, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionAudienceBuild, "", nil)
	if err != nil {
		return AudienceRow{}, 0, err
	}
	e.Categories = []string{"tags", "contact"}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudiences, policies.ActWrite) {
		return AudienceRow{}, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not build audiences for this purpose"))
	}
	tree, err := s.checkRule(in, purpose.Name)
	if err != nil {
		return AudienceRow{}, 0, s.refuseInvalid(ctx, a, ActionAudienceBuild, "", err)
	}
	id := newID("aud_")
	now := s.now()
	row := AudienceRow{ID: id, Name: in.Name, Rule: rule.String(tree), Channel: in.Channel, Purpose: a.Purpose, Holdout: in.Holdout,
		Excluded: map[string]int{}, CreatedBy: a.Caller.Subject, CreatedAt: now.UTC()}
	for _, r := range exclusionReasons {
		row.Excluded[r] = 0
	}
	// Each candidate whose data the decision opened (birth date, tags) gets its own entry: a member as
	// allowed, anyone else as denied with the reason.
	selectEntry := s.newEntry(ctx, a, pol, ActionAudienceSelect, "")
	selectEntry.Categories, selectEntry.Status = []string{"tags"}, statusOK // shared by every entry, never changed
	compiled := rule.Compile(tree)
	// The reasons an entry can give, written once.
	notSelected := map[string]string{"": "audience:" + id + " not_selected:no_match"}
	for _, r := range exclusionReasons {
		notSelected[r] = "audience:" + id + " not_selected:" + r
	}
	selected := map[bool]string{false: "audience:" + id + " group:treated", true: "audience:" + id + " group:holdout"}
	type decided struct {
		members   []AudienceMember
		entries   []audit.Entry
		excluded  map[string]int
		unmatched int
	}
	decide := func(p subjectPage) (out decided) {
		out.excluded = map[string]int{}
		out.entries = make([]audit.Entry, 0, len(p.recs))
		for _, rec := range p.recs {
			se := s.entryFor(selectEntry, rec)
			refuse := func(reason string) {
				if reason != "" {
					out.excluded[reason]++
				} else {
					out.unmatched++
				}
				if len(se.DecisionInputs) > 0 {
					se.Decision, se.Reason = audit.Deny, notSelected[reason]
					if se.Reason == "" { // a reason not written out above
						se.Reason = "audience:" + id + " not_selected:" + reason
					}
					out.entries = append(out.entries, se)
				}
			}
			if reason := s.excluded(&se, purpose, rec, in.Channel, now); reason != "" {
				refuse(reason)
				continue
			}
			values := s.gate.decisionTags(&se, rec, p.tags[rec.ID])
			match, missing := compiled.Eval(func(k string) ([]string, bool) { v, ok := values[k]; return v, ok })
			switch {
			case missing:
				refuse(ExcludedMissingTags)
				continue
			case !match:
				refuse("")
				continue
			}
			ref := s.gate.pseudonym("audience:" + id + ":" + rec.ID)
			m := AudienceMember{SubjectID: rec.ID, Ref: ref, Holdout: inHoldout(ref, in.Holdout)}
			out.members = append(out.members, m)
			se.Decision, se.Reason = audit.Allow, selected[m.Holdout]
			out.entries = append(out.entries, se)
		}
		return out
	}
	var members []AudienceMember
	reads := pageReads{purpose: a.Purpose, fields: decisionFields(in.Channel), keys: compiled.Keys}
	err = scanLogged(ctx, s, reads, decide, func(p decided) []audit.Entry { return p.entries }, func(p decided, done int) {
		members = append(members, p.members...)
		for reason, n := range p.excluded {
			row.Excluded[reason] += n
		}
		row.Unmatched += p.unmatched
		if in.Progress != nil {
			in.Progress(done)
		}
	})
	if err != nil {
		return AudienceRow{}, 0, err
	}
	for _, m := range members {
		if m.Holdout {
			row.HoldoutSize++
		} else {
			row.Size++
		}
	}
	e.Decision, e.Status = audit.Allow, statusCreated
	e.Reason = "audience:" + id + " size:" + strconv.Itoa(row.Size) + " holdout:" + strconv.Itoa(row.HoldoutSize) + " excluded:" + excludedText(row.Excluded)
	seq, err := s.seq.CommitMany(ctx, func(tx Tx) error { return tx.PutAudience(row, members) }, func(cerr error) []audit.Entry { return []audit.Entry{buildEntry(e, cerr)} })
	if err != nil {
		return AudienceRow{}, 0, internalErr("record audience", err)
	}
	return row, seq, nil
}

// decisionFields are the fields an audience decision on channel reads of each record: the birth date (the
// age rule) and the channel's contact field, if it has one.
func decisionFields(channels ...string) []string {
	fields := []string{fieldBirthDate}
	for _, c := range channels {
		if f, ok := channelContact[c]; ok && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return fields
}

// selectionGroup bounds the decision entries logged in one group commit (a variable for tests).
var selectionGroup = 4096

// scanLogged is scanPages with a log for the decisions' entries (audience.select, entries of each page's
// result): they are logged in id order while the scan goes on, each page's before it is merged, in group
// commits of at most selectionGroup — before the change the decisions lead to is committed, since they
// record data the decisions opened, whatever becomes of the change (a failed store of the audience is its
// build entry's, after them). A group this size never holds the single writer long enough for the requests
// queued behind it to time out; one commit of a 100,000-subject build's entries did. Whatever was decided
// is logged even when the scan fails or the caller goes away (the pages decided but not merged too); a
// failed commit stops the scan.
func scanLogged[R any](ctx context.Context, s *Audiences, reads pageReads, decide func(subjectPage) R, entries func(R) []audit.Entry, merge func(R, int)) error {
	scanCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	logCtx := context.WithoutCancel(ctx)
	pages := make(chan []audit.Entry, 4)
	logged := make(chan error, 1)
	go func() {
		var group []audit.Entry
		var failed error
		flush := func(all bool) {
			for failed == nil && (len(group) >= selectionGroup || all && len(group) > 0) {
				n := min(len(group), selectionGroup)
				g := group[:n:n]
				if _, err := s.seq.CommitMany(logCtx, nil, func(error) []audit.Entry { return g }); err != nil {
					failed = internalErr("audit selections", err)
					cancel()
				}
				group = group[n:]
			}
		}
		for p := range pages {
			if failed == nil {
				group = append(group, p...)
				flush(false)
			}
		}
		flush(true)
		logged <- failed
	}()
	log := func(r R) {
		if es := entries(r); len(es) > 0 {
			pages <- es
		}
	}
	err := scanPages(scanCtx, s, reads, decide, func(r R, done int) { log(r); merge(r, done) }, log)
	close(pages)
	if lerr := <-logged; lerr != nil {
		return lerr
	}
	return err
}

// buildEntry is a build's (or plan's) own entry: as recorded, or refused when storing the audience failed.
func buildEntry(e audit.Entry, changeErr error) audit.Entry {
	if changeErr != nil {
		return finish(e, changeErr, nil)
	}
	return e
}

// pageSize is how many subjects a batch decision reads at once (a variable for tests of page boundaries).
var pageSize = 1000

// pageReads is what a batch decision reads of each subject: of the record, the fields named (the rest of
// it but for Activity); of the stored tags, those of the purpose whose keys are named.
type pageReads struct {
	purpose policies.PurposeName
	fields  []string
	keys    []string
}

// subjectPage is a page of subjects to decide on: the records of its active subjects in id order and
// their sealed tags (pageReads), by subject.
type subjectPage struct {
	recs []SubjectRecord
	tags map[string][]StoredTag
}

// scanPages decides every active subject, a page at a time, on one worker per core: each page is a range
// of the subject ids (listed ahead), whose records and tags are read with one range read each and handed
// to decide, which must only read shared state; merge gets the pages' results in subject id order — the
// order of a serial scan — each with the number of subjects decided so far. The first error (or the end
// of ctx) stops the scan; the pages the workers had decided by then but merge did not get are handed to
// abandoned, in id order, once the workers are done (decide may have opened their data).
func scanPages[R any](ctx context.Context, s *Audiences, reads pageReads, decide func(subjectPage) R, merge func(R, int), abandoned func(R)) error {
	type result struct {
		page R
		n    int
		err  error
	}
	type job struct {
		after, through string
		n              int
		out            chan result
	}
	ctx, cancel := context.WithCancel(ctx)
	var workers sync.WaitGroup
	defer cancel()
	jobs := make(chan job)
	order := make(chan chan result, runtime.GOMAXPROCS(0)) // the pages in id order, a few ahead of merge
	go func() {
		defer close(order)
		defer close(jobs)
		for after := ""; ; {
			ids, err := s.profiles.activeIDs(ctx, after, pageSize)
			if err != nil {
				err = internalErr("list subjects", err)
			}
			j := job{after: after, n: len(ids), out: make(chan result, 1)}
			last := err != nil || len(ids) == 0 // the end of the scan: an error, or an empty page
			if last {
				j.out <- result{err: err}
			}
			select {
			case order <- j.out:
			case <-ctx.Done():
				return
			}
			if last {
				return
			}
			j.through, after = ids[len(ids)-1], ids[len(ids)-1]
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil { // stopped: decide (open) no more
					j.out <- result{err: ctx.Err()}
					continue
				}
				p, err := s.page(ctx, j.after, j.through, reads)
				if err != nil {
					j.out <- result{err: err}
					continue
				}
				j.out <- result{page: decide(p), n: j.n}
			}
		})
	}
	// stop ends the scan with err: it waits for the workers (the producer stops on the cancel, closing jobs
	// and order) and hands abandoned what they decided that merge did not get — pending first, the page
	// merge was waiting for, then the rest of order.
	stop := func(err error, pending chan result) error {
		cancel()
		workers.Wait()
		drain := func(out chan result) {
			select {
			case r := <-out:
				if r.err == nil && r.n > 0 {
					abandoned(r.page)
				}
			default: // never decided
			}
		}
		if pending != nil {
			drain(pending)
		}
		for out := range order {
			drain(out)
		}
		return err
	}
	decided := 0
	for out := range order {
		var r result
		select {
		case r = <-out:
		case <-ctx.Done():
			return stop(ctx.Err(), out)
		}
		if r.err != nil || r.n == 0 {
			return stop(r.err, nil)
		}
		decided += r.n
		merge(r.page, decided)
	}
	return stop(ctx.Err(), nil)
}

// page reads the page of subjects after after and through through: the active ones' records and their
// sealed tags, one range read each.
func (s *Audiences) page(ctx context.Context, after, through string, reads pageReads) (subjectPage, error) {
	recs, err := s.profiles.activeRange(ctx, after, through, reads.fields)
	if err != nil {
		return subjectPage{}, internalErr("read subjects", err)
	}
	tags, err := s.tags.storedTagRange(ctx, after, through, reads.purpose, reads.keys)
	if err != nil {
		return subjectPage{}, internalErr("read tags", err)
	}
	return subjectPage{recs: recs, tags: tags}, nil
}

// parallelMin is how many items make it worth a second core (a variable for tests).
var parallelMin = 256

// inParallel calls fn over [0, n) split in one contiguous part per core (for more than a few hundred
// items) and waits for them; fn must only read shared state, and write only its own part of the results.
func inParallel(n int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), 1+n/parallelMin)
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	size := (n + parts - 1) / parts
	for p := range parts {
		lo, hi := min(p*size, n), min((p+1)*size, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

func excludedText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, k+"="+strconv.Itoa(m[k]))
	}
	return strings.Join(parts, ",")
}

// checkRule parses the rule and checks the channel, the holdout and the rule's keys and literals against
// the tag vocabulary.
func (s *Audiences) checkRule(in AudienceInput, purpose policies.PurposeName) (rule.Node, error) {
	if !slices.Contains(policies.Channels, in.Channel) {
		return nil, Errorf(CodeInvalidArgument, "channel must be one of %v", policies.Channels)
	}
	if in.Holdout < 0 || in.Holdout > 0.5 {
		return nil, Errorf(CodeInvalidArgument, "holdout must be between 0 and 0.5")
	}
	if len(in.Name) > 200 || !utf8.ValidString(in.Name) || strings.ContainsFunc(in.Name, unicode.IsControl) {
		// Refused before anyone is decided: PostgreSQL cannot store a NUL, and a build that failed at its
		// last insert had logged every selection of an audience that was never stored.
		return nil, Errorf(CodeInvalidArgument, "name is at most 200 bytes of UTF-8 text without control characters")
	}
	if strings.HasPrefix(in.Name, planPrefix) {
		// The campaign plan's tiers are known by these names (their content and simulated truth follow).
		return nil, Errorf(CodeInvalidArgument, "names starting with %s belong to the campaign plan's tiers", planPrefix)
	}
	tree, err := rule.Parse(in.Rule)
	var pe *rule.Error
	if errors.As(err, &pe) {
		// The position counts characters from 0, as a person reading the rule counts them (the parser's
		// is a byte offset, and region values are Chinese).
		pos := utf8.RuneCountInString(in.Rule[:min(pe.Pos, len(in.Rule))])
		return nil, &Error{Code: CodeInvalidArgument, Message: "rule: " + pe.Msg, Position: &pos}
	}
	if err != nil {
		return nil, err
	}
	return tree, s.checkVocabulary(tree, purpose)
}

// checkVocabulary checks a rule's keys and literals against the tag vocabulary.
//
// A key must be one of the vocabulary's, of the audience's purpose (an audience reads that purpose's tags
// only: a key of another would leave everyone out as missing it). A number tag is compared with numbers,
// written as one likes (0.5, 0.50, 1000.0); any other tag only with ==, !=, in and not in, and only with
// values its list allows. A literal is never repeated in an error: a marketer may have typed a person's
// name or number.
func (s *Audiences) checkVocabulary(tree rule.Node, purpose policies.PurposeName) error {
	vocab := s.vocabulary()
	if vocab == nil {
		return nil
	}
	var bad error
	rule.Walk(tree, func(key, op string, values []rule.Literal) {
		if bad != nil {
			return
		}
		name := safetext.Name(key)
		if !vocab.Has(key) {
			bad = Errorf(CodeInvalidArgument, "rule: %s is not a tag key", name)
			return
		}
		tagPurpose, number := vocab.Describe(key)
		switch {
		case tagPurpose != string(purpose):
			bad = Errorf(CodeInvalidArgument, "rule: %s is a tag of the purpose %s; an audience of the purpose %s reads only that purpose's tags", name, tagPurpose, purpose)
		case number:
			if slices.ContainsFunc(values, func(v rule.Literal) bool { return !v.IsNum }) {
				bad = Errorf(CodeInvalidArgument, "rule: %s is a number: compare it with a number, not a string", name)
			}
		case op == "<" || op == "<=" || op == ">" || op == ">=":
			bad = Errorf(CodeInvalidArgument, "rule: %s is not a number: compare it with ==, !=, in or not in", name)
		case slices.ContainsFunc(values, func(v rule.Literal) bool { return !vocab.Allows(key, v.Str) }):
			bad = Errorf(CodeInvalidArgument, "rule: a value compared with %s is not one the vocabulary allows for it", name)
		}
	})
	return bad
}

// excluded says why rec may not be in an audience for purpose on channel now ("" if it may); with channel
// "" it checks only what does not depend on the channel (excludedAny).
func (s *Audiences) excluded(e *audit.Entry, purpose policies.Purpose, rec SubjectRecord, channel string, now time.Time) string {
	if reason := s.excludedAny(e, purpose, rec, now); reason != "" {
		return reason
	}
	return excludedOn(purpose, rec, channel, now)
}

// excludedAny says why rec may not be in any audience for purpose now: a restriction, an objection, the
// age rule (the birth date opened inside the gate and named in e; a birth date this node cannot open
// leaves the subject out as key_unavailable) or the legal basis.
func (s *Audiences) excludedAny(e *audit.Entry, purpose policies.Purpose, rec SubjectRecord, now time.Time) string {
	switch {
	case restricted(rec):
		return ExcludedRestricted
	case objected(rec, purpose):
		return ExcludedObjection
	}
	if purpose.NeedsConsent() {
		q, err := s.withAge(consent.Query{Purpose: purpose, Categories: []string{"tags", "contact"}, Records: rec.Consents, Now: now}, e, rec)
		if err != nil {
			return ExcludedKeyUnavailable
		}
		if q.Minor || q.AgeUnknown && purpose.NeedsAge() {
			return ExcludedMinor
		}
		for _, b := range consent.Evaluate(q) {
			if !b.OK {
				return ExcludedNoConsent
			}
		}
	}
	return ""
}

// excludedOn says why rec, whom excludedAny lets through, may not be reached on channel now: the consent
// does not cover the channel, or there is no contact field for it ("" for channel "").
func excludedOn(purpose policies.Purpose, rec SubjectRecord, channel string, now time.Time) string {
	if channel == "" {
		return ""
	}
	if purpose.NeedsConsent() {
		covered := false
		for _, r := range consent.Active(rec.Consents, purpose.Name, now) {
			if slices.Contains(r.ChannelsAt(now, purpose.NoticeChannels(r.NoticeVersion)), channel) {
				covered = true
			}
		}
		if !covered {
			return ExcludedChannel
		}
	}
	if f, ok := channelContact[channel]; ok {
		if _, has := rec.Fields[f]; !has {
			return ExcludedNoContact
		}
	}
	return ""
}

// inHoldout places a member in the holdout by its keyed ref: deterministic, and unpredictable without the
// vault's key.
func inHoldout(ref string, share float64) bool {
	if share <= 0 {
		return false
	}
	h := sha256.Sum256([]byte("holdout:" + ref))
	return float64(binary.BigEndian.Uint64(h[:8])>>11)/float64(1<<53) < share
}

// MemberView is a member as a marketer sees it: the member ref and the channel address masked (or nothing
// for channels reached through the app's own account).
type MemberView struct {
	Ref     string
	Address string
}

// MembersPage is a page of an audience's treated members.
type MembersPage struct {
	Members  []MemberView
	Next     string
	AuditSeq int64
}

// Members reads a page of an audience's treated members (the holdout is never handed out), re-deciding
// each one now: a person who withdrew since the build is left out. Each member read gets an entry, and so
// does each member left out whose data the decision opened.
func (s *Audiences) Members(ctx context.Context, a Access, id, cursor string, limit int) (MembersPage, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionAudienceMemberRead)
	if err != nil {
		return MembersPage{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionAudienceMemberRead, "", nil)
	if err != nil {
		return MembersPage{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudiences, policies.ActWrite) {
		return MembersPage{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read audiences for this purpose"))
	}
	row, err := s.store.Audience(ctx, id)
	if err != nil || row.Purpose != a.Purpose {
		return MembersPage{}, s.deny(ctx, e, statusNotFound, "audience_not_found", Errorf(CodeNotFound, "no such audience for this purpose"))
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if cursor != "" && !plausibleID(cursor) { // a member ref; PostgreSQL refuses a NUL or bad UTF-8 with a 500
		return MembersPage{}, s.refuseInvalid(ctx, a, ActionAudienceMemberRead, "", Errorf(CodeInvalidArgument, "bad cursor"))
	}
	ms, err := s.store.AudienceMembers(ctx, id, cursor, limit)
	if err != nil {
		return MembersPage{}, internalErr("read members", err)
	}
	now := s.now()
	type chosen struct {
		m   AudienceMember
		rec SubjectRecord
	}
	treated := make([]string, 0, len(ms))
	for _, m := range ms {
		if !m.Holdout {
			treated = append(treated, m.SubjectID)
		}
	}
	// Only the fields the decision and the masked address need (as the build reads them).
	recs, err := s.activeSubjects(ctx, treated, decisionFields(row.Channel))
	if err != nil {
		return MembersPage{}, internalErr("read subjects", err)
	}
	// The rule is decided again too, over the tags stored now: a tag the person refused (deleted with the
	// refusal), or tags removed by an objection and not computed since, leave them out.
	tree, err := rule.Parse(row.Rule)
	if err != nil {
		return MembersPage{}, internalErr("stored audience rule", err)
	}
	compiled := rule.Compile(tree)
	tags, err := s.tags.storedTagsOf(ctx, treated, row.Purpose, compiled.Keys)
	if err != nil {
		return MembersPage{}, internalErr("read tags", err)
	}
	// Each member is decided again now, on one worker per core (the records are read only). A member
	// left out gets an entry too if the decision opened their data (the birth date, for the age rule).
	readEntry := s.newEntry(ctx, a, pol, ActionAudienceMemberRead, "")
	readEntry.Categories, readEntry.Status = []string{"contact"}, statusOK
	if f, ok := channelContact[row.Channel]; ok {
		readEntry.FieldsRequested = []string{f}
	}
	decided, reachable := make([]audit.Entry, len(ms)), make([]bool, len(ms)) // no entry: Action ""
	inParallel(len(ms), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			rec, ok := recs[ms[i].SubjectID]
			if ms[i].Holdout || !ok {
				continue
			}
			me := s.entryFor(readEntry, rec)
			reason := s.excluded(&me, purpose, rec, row.Channel, now)
			if reason == "" {
				values := s.gate.decisionTags(&me, rec, tags[rec.ID])
				switch match, missing := compiled.Eval(func(k string) ([]string, bool) { v, ok := values[k]; return v, ok }); {
				case missing:
					reason = ExcludedMissingTags
				case !match:
					reason = "no_match"
				}
			}
			if reason != "" {
				if len(me.DecisionInputs) > 0 {
					me.Decision, me.Reason, me.FieldsWithheld = audit.Deny, "audience:"+id+" not_selected:"+reason, me.FieldsRequested
					decided[i] = me
				}
				continue
			}
			me.Decision, me.Reason, me.FieldsGranted = audit.Allow, "audience:"+id, me.FieldsRequested
			decided[i], reachable[i] = me, true
		}
	})
	var out []chosen
	var entries []audit.Entry
	var subjects []string
	for i, m := range ms {
		if decided[i].Action != "" {
			entries = append(entries, decided[i])
		}
		if reachable[i] {
			out, subjects = append(out, chosen{m, recs[m.SubjectID]}), append(subjects, m.SubjectID)
		}
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "audience:"+id+" members:"+strconv.Itoa(len(out))
	entries = append(entries, e)
	rel, err := s.gate.commitMany(ctx, nil, func(error) []audit.Entry { return entries }, subjects)
	if err != nil {
		return MembersPage{}, internalErr("audit member read", err)
	}
	page := MembersPage{Members: make([]MemberView, len(out)), AuditSeq: rel.seq}
	if len(ms) == limit {
		page.Next = ms[len(ms)-1].Ref
	}
	field, hasContact := channelContact[row.Channel]
	fd, _ := pol.Schema().Field(field)
	inParallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := MemberView{Ref: out[i].m.Ref}
			if hasContact {
				if val, ok := rel.field(out[i].rec, field); ok {
					v.Address = fd.MaskValue(val)
				}
			}
			page.Members[i] = v
		}
	})
	return page, nil
}
