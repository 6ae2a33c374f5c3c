// Package tagrun runs the tag engine over the vault: a full run fits the population models on the data of
// subjects who consented to analytics and then computes every subject's tags purpose by purpose; an
// incremental run recomputes one subject with the frozen models. All data comes from and goes back through
// the vault's enforcement point (vault.TagInputs, vault.StoreTags), which releases only what each subject's
// legal basis covers and audits every batch; internal/profiling does the computing. Jobs tracks runs
// started over HTTP.
package tagrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/internal/profiling"
	"github.com/profilevault/profilevault/internal/profiling/rules"
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
}

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
	Subjects     int            `json:"subjects"`
	FittedOn     int            `json:"fitted_on"`
	TaggedByPurp map[string]int `json:"tagged"`
	Duration     time.Duration  `json:"-"`
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
}

func (r *Runner) access() vault.Access {
	return vault.Access{Caller: r.Caller, RequestID: "tag-run"}
}

// subject converts what the vault released into the engine's input.
func subject(in vault.TagInput) profiling.Subject {
	s := profiling.Subject{ID: in.SubjectID, Fields: in.Fields, CreatedAt: in.CreatedAt, Allowed: map[string]bool{}, Events: make([]profiling.Event, len(in.Events))}
	for _, c := range in.Allowed {
		s.Allowed[c] = true
	}
	for i, e := range in.Events {
		s.Events[i] = profiling.Event{ID: e.ID, Type: e.Type, Category: e.Category, Source: e.Source, TS: e.TS, Attrs: e.Attrs}
	}
	return s
}

// allIDs lists every active subject id.
func (r *Runner) allIDs(ctx context.Context) ([]string, error) {
	var ids []string
	after := ""
	for {
		page, err := r.Vault.ActiveSubjectIDs(ctx, after, 10_000)
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

// Full fits the population models and recomputes every subject's tags.
func (r *Runner) Full(ctx context.Context) (Summary, error) {
	r.defaults()
	start := time.Now()
	now := r.Now()
	ids, err := r.allIDs(ctx)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Subjects: len(ids), TaggedByPurp: map[string]int{}}
	total := len(ids) * (1 + len(vault.TagPurposes))
	done := 0
	progress := func(n int) {
		done += n
		if r.Progress != nil {
			r.Progress(done, total)
		}
	}
	// Population models: fitted on the data of subjects whose analytics consent covers it.
	var features []profiling.Features
	var baskets [][][]string
	for b := 0; b < len(ids); b += r.BatchSize {
		batch := ids[b:min(b+r.BatchSize, len(ids))]
		_, _, err := r.Vault.TagInputs(ctx, r.access(), "analytics", batch, func(in vault.TagInput) error {
			s := subject(in)
			features = append(features, profiling.Extract(s, now, r.Loc))
			if bs := profiling.Baskets(s); len(bs) > 0 {
				baskets = append(baskets, bs)
			}
			return nil
		})
		if err != nil {
			return sum, fmt.Errorf("fit pass: %w", err)
		}
		progress(len(batch))
	}
	sum.FittedOn = len(features)
	model := Model{Insights: Insights{Subjects: len(features), Status: map[string]string{}}}
	if len(features) > 0 {
		if model.Population, err = profiling.Fit(features, now, profiling.Options{}); err != nil {
			return sum, fmt.Errorf("fit: %w", err)
		}
		model.Insights = insights(features, baskets, model.Population, now)
	}
	features, baskets = nil, nil
	raw, err := json.Marshal(model)
	if err != nil {
		return sum, err
	}
	if _, err := r.Vault.SaveTagModel(ctx, r.access(), raw); err != nil {
		return sum, err
	}
	// Per-person tags, purpose by purpose, with the frozen models.
	for _, purpose := range vault.TagPurposes {
		for b := 0; b < len(ids); b += r.BatchSize {
			batch := ids[b:min(b+r.BatchSize, len(ids))]
			n, err := r.tagBatch(ctx, purpose, batch, model.Population, now)
			if err != nil {
				return sum, fmt.Errorf("%s tags: %w", purpose, err)
			}
			sum.TaggedByPurp[purpose] += n
			progress(len(batch))
		}
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

// insights computes the population aggregates; a part without enough data is recorded by its status.
func insights(features []profiling.Features, baskets [][][]string, pop profiling.Population, now time.Time) Insights {
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
	if rep, err := profiling.RulesInsight(baskets, rules.Options{}); status("rules", err) {
		in.Rules = &rep
	}
	if rep, err := profiling.PurchaseFactors(features, profiling.FactorsOptions{}); status("purchase_factors", err) {
		in.PurchaseFactors = &rep
	}
	return in
}

// tagBatch computes and stores the tags of purpose for a batch of subjects; subjects whose basis releases
// nothing lose their tags of purpose.
func (r *Runner) tagBatch(ctx context.Context, purpose string, ids []string, pop profiling.Population, now time.Time) (int, error) {
	out := map[string]vault.SubjectTags{}
	for _, id := range ids {
		out[id] = vault.SubjectTags{SubjectID: id}
	}
	_, _, err := r.Vault.TagInputs(ctx, r.access(), purpose, ids, func(in vault.TagInput) error {
		s := subject(in)
		f := profiling.Extract(s, now, r.Loc)
		st := vault.SubjectTags{SubjectID: in.SubjectID, ConsentIDs: in.ConsentIDs}
		for _, t := range profiling.Compute(s, f, pop, now, r.Loc) {
			if t.Purpose != purpose {
				continue
			}
			st.Tags = append(st.Tags, vault.TagValue{Key: t.Key, Level: t.Level, Value: t.Value, Inputs: t.Inputs,
				ExplanationZH: t.Explanation.ZH, ExplanationEN: t.Explanation.EN, Algorithm: t.AlgorithmVersion})
		}
		out[in.SubjectID] = st
		return nil
	})
	if err != nil {
		return 0, err
	}
	batch := make([]vault.SubjectTags, 0, len(ids))
	for _, id := range ids {
		batch = append(batch, out[id])
	}
	n, _, err := r.Vault.StoreTags(ctx, r.access(), purpose, batch)
	return n, err
}

// ErrNoModel means incremental recomputation was asked for before any full run froze the models.
var ErrNoModel = errors.New("tagrun: no frozen model yet: run a full computation first")

// One recomputes one subject's tags with the frozen models (after its data or consent changed).
func (r *Runner) One(ctx context.Context, id string) error {
	r.defaults()
	raw, err := r.Vault.TagModel(ctx)
	if err != nil {
		return err
	}
	if raw == nil {
		return ErrNoModel
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("frozen model: %w", err)
	}
	now := r.Now()
	for _, purpose := range vault.TagPurposes {
		if _, err := r.tagBatch(ctx, purpose, []string{id}, m.Population, now); err != nil {
			return err
		}
	}
	return nil
}
