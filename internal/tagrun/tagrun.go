// Package tagrun runs the tag engine over the vault: a full run fits the population models on the data of
// subjects who consented to analytics and then computes every subject's tags purpose by purpose; an
// incremental run recomputes one subject with the frozen models. All data comes from and goes back through
// the vault's enforcement point (vault.TagInputs, vault.StoreTags), which releases only what each subject's
// legal basis covers and audits every batch; internal/profiling does the computing. Jobs tracks runs
// started over HTTP.
package tagrun

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/internal/profiling"
	"github.com/profilevault/profilevault/internal/profiling/rules"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Runner computes tags through the vault.
type Runner struct {
	Vault *vault.Service
	// Caller is who runs the computation (role data_steward or admin).
	Caller vault.Caller
	// Loc is the local time zone of time-of-day tags (VAULT_TZ, default Asia/Shanghai).
	Loc *time.Location
	// Now is the clock (default time.Now).
	Now func() time.Time
	// BatchSize is how many subjects go through the vault per batch (default 256).
	BatchSize int
	// Progress, if set, is told how many of the total subject passes are done.
	Progress func(done, total int)
	// Rules are the association-rule thresholds of a full run's insight (zero fields: rules' defaults).
	Rules RulesOptions
	// Extract tunes feature extraction (the interest half-life; zero fields: the defaults).
	Extract profiling.ExtractOptions

	cache *modelCache // the decoded frozen model (shared by copies of the Runner)
}

type modelCache struct {
	mu  sync.Mutex
	raw []byte
	pop profiling.Population
}

// RulesOptions are the association-rule thresholds (min_support, min_confidence, max_len, min_lift).
type RulesOptions = rules.Options

// DefaultRules are the thresholds of a full run that names none: the miner's defaults and a least lift of
// profiling.DefaultRulesMinLift.
func DefaultRules() RulesOptions { return RulesOptions{MinLift: profiling.DefaultRulesMinLift} }

// Model is what a full run freezes: the population parameters and the aggregate insights.
type Model struct {
	Population profiling.Population `json:"population"`
	Insights   Insights             `json:"insights"`
}

// Insights are the aggregates of a full run over subjects consenting to analytics (never per person; small
// cells suppressed by internal/profiling). A part that could not be computed (too few subjects) is absent
// and its status says why.
type Insights struct {
	Subjects        int                       `json:"subjects"`
	RFM             *profiling.RFMReport      `json:"rfm,omitempty"`
	Segments        *profiling.SegmentsReport `json:"segments,omitempty"`
	Rules           *profiling.RulesReport    `json:"rules,omitempty"`
	PurchaseFactors *profiling.FactorsReport  `json:"purchase_factors,omitempty"`
	Status          map[string]string         `json:"status"`
}

// Summary says what a run did.
type Summary struct {
	Subjects     int                          `json:"subjects"`
	FittedOn     int                          `json:"fitted_on"`
	TaggedByPurp map[policies.PurposeName]int `json:"tagged"`
	Duration     time.Duration                `json:"-"`
	// Release, Fit and Store are the durations of a full run's passes: every subject's data released and
	// its features extracted, the population models fitted, every subject's tags computed and stored.
	Release, Fit, Store time.Duration `json:"-"`
}

// NewRunner returns a Runner over v with local zone loc; copies of it share the decoded frozen model.
func NewRunner(v *vault.Service, loc *time.Location) *Runner {
	r := &Runner{Vault: v, Loc: loc}
	r.defaults()
	return r
}

func (r *Runner) defaults() {
	if r.Loc == nil {
		r.Loc = time.FixedZone("CST", 8*3600)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 256
	}
	if r.cache == nil {
		r.cache = &modelCache{}
	}
}

// asOf is the instant a run's features, population fits and tags describe: the last instant of the current
// day in the run's time zone. Recency in whole days and the feature windows then move only at midnight, so
// every run of one day over the same data sees the same rows, the same RFM edges and the same K-Means
// segments, whatever the hour; nothing has happened after it yet, and it is still today (an age is not a
// birthday early).
func (r *Runner) asOf() time.Time {
	y, m, d := r.Now().In(r.Loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, r.Loc).Add(-time.Nanosecond)
}

// nameScreen is how the policy in force lets product names into the engine: the sensitive-inference
// lexicon screens category and brand names, and the taxonomy maps category names to its keys.
type nameScreen struct {
	sensitive  func(string) bool
	categories func(string) (string, bool)
}

// names returns the policy's name screen, read once per run so one run sees one policy version; it
// remembers its answers for the run (product names repeat across subjects).
func (r *Runner) names() nameScreen {
	pol := r.Vault.Policy()
	match := pol.Inferences().Matcher()
	return nameScreen{
		sensitive:  func(name string) bool { _, hit := match(name); return hit },
		categories: pol.Taxonomy().Key,
	}
}

func (r *Runner) access() vault.Access {
	return vault.Access{Caller: r.Caller, RequestID: "tag-run"}
}

// engineInput converts what the vault released into the engine's input, once per subject; forPurpose then
// marks the categories one purpose's basis allows, and Extract reads nothing else. sensitive screens
// product category and brand names that let one infer sensitive information and maps categories to the
// taxonomy (names).
func engineInput(in vault.TagInput, names nameScreen) profiling.Subject {
	s := profiling.Subject{ID: in.SubjectID, Fields: in.Fields, CreatedAt: in.CreatedAt, Events: make([]profiling.Event, len(in.Events)),
		Sensitive: names.sensitive, Categories: names.categories, Refused: in.Refused}
	for i, e := range in.Events {
		s.Events[i] = profiling.Event{ID: e.ID, Type: e.Type, Category: e.Category, Source: e.Source, TS: e.TS, Attrs: e.Attrs}
	}
	return s
}

// forPurpose returns s with only the categories of basis b allowed.
func forPurpose(s profiling.Subject, b vault.TagBasis) profiling.Subject {
	s.Allowed = make(map[string]bool, len(b.Allowed))
	for _, c := range b.Allowed {
		s.Allowed[c] = true
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// pending is one subject's features for one tag purpose, kept between the release and the fit.
type pending struct {
	purpose    policies.PurposeName
	subject    string
	seen       int64
	allowed    map[string]bool
	refused    map[string]bool // tag keys the subject refused
	consentIDs []string
	features   *profiling.Features // shared by the purposes of a subject whose bases allow the same categories
}

// allIDs lists every active subject id.
func (r *Runner) allIDs(ctx context.Context) ([]string, error) {
	var ids []string
	after := ""
	for {
		page, err := r.Vault.Tags().ActiveSubjectIDs(ctx, r.access(), after, 10_000)
		if err != nil {
			return nil, err
		}
		ids = append(ids, page...)
		if len(page) < 10_000 {
			return ids, nil
		}
		after = page[len(page)-1]
	}
}

// Full fits the population models and recomputes every subject's tags. Each subject's data is released
// and decrypted once: its analytics share feeds the population fit, and the features of its marketing and
// personalization shares wait (compactly) for the frozen models.
func (r *Runner) Full(ctx context.Context) (Summary, error) {
	r.defaults()
	start := time.Now()
	now := r.asOf()
	names := r.names()
	ids, err := r.allIDs(ctx)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Subjects: len(ids), TaggedByPurp: map[policies.PurposeName]int{}}
	total := 2 * len(ids)
	done := 0
	progress := func(n int) {
		done += n
		if r.Progress != nil {
			r.Progress(done, total)
		}
	}
	catalog := r.Vault.Policy().Purposes()
	population := catalog.Population()
	tagged := catalog.Tagged()
	purposes := append(slices.Clone(population), tagged...)
	// Batches are released and extracted on every core; their results are joined in batch order so that
	// a run is deterministic. Twice as many batches as cores are in flight, in this pass and the store
	// pass: a batch waits for its audit entries, or its tags, to be durable, and the others use the cores
	// meanwhile.
	workers := 2 * runtime.GOMAXPROCS(0)
	type released struct {
		fitOn   []profiling.Features
		baskets [][][]string
		waiting []pending
		seq     int64
	}
	starts := make([]int, 0, len(ids)/r.BatchSize+1)
	for b := 0; b < len(ids); b += r.BatchSize {
		starts = append(starts, b)
	}
	results := make([]released, len(starts))
	var mu sync.Mutex // guards progress and sum
	err = eachBatch(len(starts), workers, func(k int) error {
		b := starts[k]
		batch := ids[b:min(b+r.BatchSize, len(ids))]
		res := &results[k]
		var err error
		res.seq, _, err = r.Vault.Tags().TagInputs(ctx, r.access(), purposes, batch, func(in vault.TagInput) error {
			all := engineInput(in, names)
			extracted := map[string]*profiling.Features{} // by allowed categories: purposes with the same basis share
			for _, purpose := range purposes {
				basis, ok := in.Bases[purpose]
				if !ok {
					continue
				}
				s := forPurpose(all, basis)
				key := strings.Join(basis.Allowed, ",")
				f, done := extracted[key]
				if !done {
					x := profiling.ExtractWith(s, now, r.Loc, r.Extract)
					f = &x
					extracted[key] = f
				}
				if slices.Contains(population, purpose) {
					res.fitOn = append(res.fitOn, *f)
					if bs := profiling.Baskets(s); len(bs) > 0 {
						res.baskets = append(res.baskets, bs)
					}
					continue
				}
				res.waiting = append(res.waiting, pending{purpose: purpose, subject: in.SubjectID, seen: in.Seen, allowed: s.Allowed, refused: s.Refused, consentIDs: basis.ConsentIDs, features: f})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		mu.Lock()
		progress(len(batch))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return sum, err
	}
	var fitOn []profiling.Features
	var baskets [][][]string
	var waiting []pending
	seen := map[int]int64{} // batch start → the audit sequence number of its release
	for k, res := range results {
		fitOn, baskets, waiting = append(fitOn, res.fitOn...), append(baskets, res.baskets...), append(waiting, res.waiting...)
		seen[starts[k]] = res.seq
		results[k] = released{}
	}
	sum.Release = time.Since(start)
	sum.FittedOn = len(fitOn)
	model := Model{Insights: Insights{Status: map[string]string{}}}
	if len(fitOn) > 0 {
		if model.Population, err = profiling.Fit(fitOn, now, profiling.Options{}); err != nil {
			return sum, fmt.Errorf("fit: %w", err)
		}
		model.Insights = insights(fitOn, baskets, model.Population, now, r.Rules)
	}
	fitOn, baskets = nil, nil
	raw, err := json.Marshal(model)
	if err != nil {
		return sum, err
	}
	if _, err := r.Vault.Tags().SaveTagModel(ctx, r.access(), raw); err != nil {
		return sum, err
	}
	r.remember(model, raw)
	sum.Fit = time.Since(start) - sum.Release
	// Tags with the frozen models; a subject with nothing released for a purpose loses its tags of it.
	has := map[[2]string]int{}
	for i, p := range waiting {
		has[[2]string{p.subject, string(p.purpose)}] = i
	}
	// Batches are computed, screened and sealed on every core, and stored by the single writer, which
	// group-commits one while others are prepared.
	err = eachBatch(len(starts), workers, func(k int) error {
		b := starts[k]
		batch := ids[b:min(b+r.BatchSize, len(ids))]
		sets := make([]vault.SubjectTags, 0, len(batch)*len(tagged))
		for _, id := range batch {
			for _, purpose := range tagged {
				i, ok := has[[2]string{id, string(purpose)}]
				if !ok {
					sets = append(sets, vault.SubjectTags{SubjectID: id, Purpose: purpose, Seen: seen[b]})
					continue
				}
				sets = append(sets, compute(waiting[i], model.Population, now, r.Loc))
			}
		}
		if _, _, err := r.Vault.Tags().StoreTags(ctx, r.access(), sets); err != nil {
			return fmt.Errorf("store tags: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, st := range sets {
			if len(st.Tags) > 0 {
				sum.TaggedByPurp[st.Purpose]++
			}
		}
		progress(len(batch))
		return nil
	})
	if err != nil {
		return sum, err
	}
	sum.Duration = time.Since(start)
	sum.Store = sum.Duration - sum.Release - sum.Fit
	return sum, nil
}

// eachBatch runs fn(k) for every k in [0, n) on up to workers goroutines, and returns the first error;
// once one batch has failed, no further batch is started.
func eachBatch(n, workers int, fn func(k int) error) error {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	for range min(n, max(1, workers)) {
		wg.Go(func() {
			for !failed() {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				if err := fn(k); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// compute turns one subject's features for one purpose into the tags to store.
func compute(p pending, pop profiling.Population, now time.Time, loc *time.Location) vault.SubjectTags {
	st := vault.SubjectTags{SubjectID: p.subject, Purpose: p.purpose, ConsentIDs: p.consentIDs, Seen: p.seen}
	s := profiling.Subject{ID: p.subject, Allowed: p.allowed, Refused: p.refused}
	for _, t := range profiling.ComputeFor(s, *p.features, pop, now, loc, p.purpose) {
		if t.Purpose != p.purpose {
			continue
		}
		st.Tags = append(st.Tags, vault.TagValue{Key: t.Key, Level: t.Level, Value: t.Value, Inputs: t.Inputs,
			ExplanationZH: t.Explanation.ZH, ExplanationEN: t.Explanation.EN, Algorithm: t.AlgorithmVersion})
	}
	return st
}

// insights computes the population aggregates; a part without enough data is recorded by its status.
func insights(features []profiling.Features, baskets [][][]string, pop profiling.Population, now time.Time, ro RulesOptions) Insights {
	in := Insights{Subjects: len(features), Status: map[string]string{}}
	status := func(part string, err error) bool {
		if err != nil {
			in.Status[part] = err.Error()
			return false
		}
		in.Status[part] = "ok"
		return true
	}
	if rep, err := profiling.RFMInsight(features, pop, now); status("rfm", err) {
		in.RFM = &rep
	}
	if rep, err := profiling.SegmentsInsight(pop); status("segments", err) {
		in.Segments = &rep
	}
	if rep, err := profiling.RulesInsight(baskets, ro); status("rules", err) {
		in.Rules = &rep
	}
	if rep, err := profiling.PurchaseFactors(features, profiling.FactorsOptions{}); status("purchase_factors", err) {
		in.PurchaseFactors = &rep
	}
	return in
}

// ErrNoModel means incremental recomputation was asked for before any full run froze the models.
var ErrNoModel = errors.New("tagrun: no frozen model yet: run a full computation first")

// One recomputes one subject's tags with the frozen models (after its data or consent changed): one
// release and one store, each a durable audit entry.
func (r *Runner) One(ctx context.Context, id string) (released bool, err error) {
	r.defaults()
	n, err := r.recompute(ctx, []string{id})
	return n > 0, err
}

// Incremental recomputes, with the frozen models, the tags of every subject whose fields, consents,
// objections or events changed since its tags were computed, and returns how many it recomputed.
func (r *Runner) Incremental(ctx context.Context) (int, error) {
	r.defaults()
	ids, err := r.Vault.Tags().DirtySubjects(ctx, r.access(), 1_000_000)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	for b := 0; b < len(ids); b += r.BatchSize {
		if _, err := r.recompute(ctx, ids[b:min(b+r.BatchSize, len(ids))]); err != nil {
			return b, err
		}
		if r.Progress != nil {
			r.Progress(min(b+r.BatchSize, len(ids)), len(ids))
		}
	}
	return len(ids), nil
}

// recompute releases, computes and stores the tags of a batch of subjects with the frozen models, and
// returns how many subjects had data released.
func (r *Runner) recompute(ctx context.Context, ids []string) (int, error) {
	names := r.names()
	pop, err := r.frozen(ctx)
	if err != nil {
		return 0, err
	}
	now := r.asOf()
	got := map[[2]string]pending{}
	tagged := r.Vault.Tags().TagPurposes()
	seq, released, err := r.Vault.Tags().TagInputs(ctx, r.access(), tagged, ids, func(in vault.TagInput) error {
		all := engineInput(in, names)
		for purpose, basis := range in.Bases {
			s := forPurpose(all, basis)
			got[[2]string{in.SubjectID, string(purpose)}] = pending{purpose: purpose, subject: in.SubjectID, seen: in.Seen, allowed: s.Allowed, refused: s.Refused,
				consentIDs: basis.ConsentIDs, features: ptr(profiling.ExtractWith(s, now, r.Loc, r.Extract))}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sets := make([]vault.SubjectTags, 0, len(ids)*len(tagged))
	for _, id := range ids {
		for _, purpose := range tagged {
			if p, ok := got[[2]string{id, string(purpose)}]; ok {
				sets = append(sets, compute(p, pop, now, r.Loc))
			} else {
				sets = append(sets, vault.SubjectTags{SubjectID: id, Purpose: purpose, Seen: seq})
			}
		}
	}
	_, _, err = r.Vault.Tags().StoreTags(ctx, r.access(), sets)
	return released, err
}

// frozen returns the population of the last full run, decoding the stored model only when it changed.
func (r *Runner) frozen(ctx context.Context) (profiling.Population, error) {
	raw, err := r.Vault.Tags().TagModel(ctx, r.access())
	if err != nil {
		return profiling.Population{}, err
	}
	if raw == nil {
		return profiling.Population{}, ErrNoModel
	}
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	if r.cache.raw != nil && bytes.Equal(r.cache.raw, raw) {
		return r.cache.pop, nil
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return profiling.Population{}, fmt.Errorf("frozen model: %w", err)
	}
	if c := m.Population.Cluster; c != nil && len(c.SegmentNames) == 0 {
		c.SegmentNames = c.Names() // a model frozen before names were kept: named once, not per subject
	}
	r.cache.raw, r.cache.pop = raw, m.Population
	return m.Population, nil
}

// remember keeps a just-frozen model so that the next incremental run need not decode it.
func (r *Runner) remember(m Model, raw []byte) {
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	r.cache.raw, r.cache.pop = raw, m.Population
}
