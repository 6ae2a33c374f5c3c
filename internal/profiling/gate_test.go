package profiling

import (
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// shopPopulation is the population fitted over the small shop with every category allowed.
var shopPopulation = sync.OnceValues(func() ([]Subject, Population) {
	subs := shopSubjects(smallShop(), func(int) map[string]bool { return allowAll() })
	feats := make([]Features, len(subs))
	for i, s := range subs {
		feats[i] = Extract(s, testNow, nil)
	}
	pop, err := Fit(feats, testNow, Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	return subs, pop
})

// withoutDisallowed returns s with the events and fields of categories outside allowed removed, as the
// vault would hand it over.
func withoutDisallowed(s Subject, allowed map[string]bool) Subject {
	out := Subject{ID: s.ID, CreatedAt: s.CreatedAt, Allowed: allowed, Fields: map[string]string{}}
	fieldCat := map[string]string{"birth_date": Identity, "gender": Identity, "name": Identity, "province": Address,
		"city": Address, "district": Address, "address_line": Address, "occupation": Demographic, "industry": Demographic}
	for k, v := range s.Fields {
		if allowed[fieldCat[k]] {
			out.Fields[k] = v
		}
	}
	for _, e := range s.Events {
		if allowed[EventCategory(e.Type)] {
			out.Events = append(out.Events, e)
		}
	}
	return out
}

func TestGateProperty(t *testing.T) {
	subs, pop := shopPopulation()
	loc := shanghai(t)
	r := rand.New(rand.NewPCG(7, 7))
	cats := InputCategories()
	checked := 0
	for trial := range 60 {
		allowed := map[string]bool{}
		for _, c := range cats {
			if r.IntN(2) == 0 {
				allowed[c] = true
			}
		}
		if trial == 0 {
			allowed = map[string]bool{}
		}
		for k := range 8 {
			s := subs[r.IntN(len(subs))]
			s.Allowed = allowed
			if k == 0 {
				s.Allowed = map[string]bool{"contact": true, "sensitive_identity": true, "tags": true}
			}
			tags := Compute(s, Extract(s, testNow, loc), pop, testNow, loc)
			if len(SetOf(s.Allowed).Names()) == 0 && len(tags) != 0 {
				t.Fatalf("trial %d: %d tags with no input category allowed", trial, len(tags))
			}
			for _, tag := range tags {
				for _, in := range tag.Inputs {
					if !s.Allowed[in] {
						t.Fatalf("trial %d: tag %s has input %s outside %v", trial, tag.Key, in, s.Allowed)
					}
				}
				checked++
			}
			// The data of categories outside Allowed makes no difference at all.
			f := withoutDisallowed(s, s.Allowed)
			if other := Compute(f, Extract(f, testNow, loc), pop, testNow, loc); !reflect.DeepEqual(tags, other) {
				t.Fatalf("trial %d: tags depend on data outside %v:\n%+v\n%+v", trial, s.Allowed, tags, other)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no tag was computed")
	}
	// Features extracted under fewer categories than the subject now allows never unlock more tags.
	s := subs[0]
	s.Allowed = allow(Behavior)
	f := Extract(s, testNow, loc)
	s.Allowed = allowAll()
	for _, tag := range Compute(s, f, pop, testNow, loc) {
		for _, in := range tag.Inputs {
			if in != Behavior {
				t.Errorf("tag %s uses %s that the features were not extracted under", tag.Key, in)
			}
		}
	}
	// Features of another subject are refused.
	if tags := Compute(subs[1], Extract(subs[0], testNow, loc), pop, testNow, loc); tags != nil {
		t.Error("features of another subject accepted")
	}
}
