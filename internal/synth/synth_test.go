package synth_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/normalize"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
)

// testNow is the reference time of the tests' shops.
var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// small returns the options of a small shop.
func small(seed uint64, n int) synth.Options {
	return synth.Options{Seed: seed, Subjects: n, Now: testNow}
}

func TestProfilesAreDeterministicAndValid(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a, b := synth.Profiles(42, 300, now), synth.Profiles(42, 300, now)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data")
	}
	if reflect.DeepEqual(a, synth.Profiles(43, 300, now)) {
		t.Fatal("different seeds, same data")
	}
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	minors := 0
	for _, p := range a {
		for name, v := range p.Fields {
			f, ok := pol.Schema().Field(name)
			if !ok {
				t.Fatalf("field %q not in the schema", name)
			}
			if err := f.Validate(v); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := normalize.Phone(p.Fields["phone"]); err != nil {
			t.Errorf("phone invalid: %v", err)
		}
		if id, ok := p.Fields["id_number"]; ok {
			if _, err := normalize.IDNumber(id); err != nil {
				t.Errorf("id number invalid: %v", err)
			}
		}
		if bd, _ := time.Parse(time.DateOnly, p.Fields["birth_date"]); bd.AddDate(14, 0, 0).After(now) {
			minors++
		}
	}
	if minors == 0 {
		t.Error("no under-14 subjects: the guardian-consent rules would go untested")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := synth.Generate(small(7, 300)), synth.Generate(small(7, 300))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same options, different shops")
	}
	if len(a.Events) < 300 || len(a.Subjects) < 300 || len(a.Consents) == 0 {
		t.Fatalf("shop too small: %d subjects, %d events, %d consents", len(a.Subjects), len(a.Events), len(a.Consents))
	}
	c := synth.Generate(small(8, 300))
	if reflect.DeepEqual(a.Subjects, c.Subjects) || reflect.DeepEqual(a.Events[:100], c.Events[:100]) {
		t.Fatal("different seeds, same shop")
	}
	// The output does not depend on how many workers generate it.
	prev := runtime.GOMAXPROCS(1)
	seq := synth.Generate(small(7, 300))
	runtime.GOMAXPROCS(prev)
	if !reflect.DeepEqual(a, seq) {
		t.Fatal("one worker and several made different shops")
	}
	// A larger shop starts with the smaller one: people are generated independently.
	d := synth.Generate(small(7, 301))
	if !reflect.DeepEqual(d.Subjects[:len(a.Subjects)], a.Subjects) || !reflect.DeepEqual(d.Events[:len(a.Events)], a.Events) {
		t.Fatal("adding a person changed the others")
	}
}

func TestGenerateSubjectsMatchesGenerate(t *testing.T) {
	opts := small(11, 400)
	full, subj := synth.Generate(opts), synth.GenerateSubjects(opts)
	if len(subj.Events) != 0 || len(subj.Truth.ReviewSentiment) != 0 || len(subj.Truth.AnomalousOrders) != 0 {
		t.Fatal("GenerateSubjects made events")
	}
	full.Events = nil
	full.Truth.ReviewSentiment, full.Truth.AnomalousOrders = subj.Truth.ReviewSentiment, subj.Truth.AnomalousOrders
	if !reflect.DeepEqual(full, subj) {
		t.Fatal("GenerateSubjects differs from Generate")
	}
}

func TestStreamEventsMatchesGenerate(t *testing.T) {
	opts := small(5, 250)
	want := synth.Generate(opts).Events
	var got []synth.Event
	if err := synth.StreamEvents(opts, func(e synth.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("streamed %d events, generated %d, or they differ", len(got), len(want))
	}

	errStop := errors.New("stop")
	n := 0
	err := synth.StreamEvents(opts, func(synth.Event) error {
		if n++; n == 1000 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 1000 {
		t.Fatalf("StreamEvents after an error: err %v after %d events", err, n)
	}
}

// readFiles returns every file of dir by name.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&^0o644 != 0 {
			t.Errorf("%s: mode %v, want at most 0644", e.Name(), info.Mode().Perm())
		}
		out[e.Name()] = b
	}
	return out
}

func TestWriteIsByteIdentical(t *testing.T) {
	opts := small(3, 200)
	shop := synth.Generate(opts)
	for _, format := range []string{synth.FormatNDJSON, synth.FormatCSV} {
		t.Run(format, func(t *testing.T) {
			base := t.TempDir()
			a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
			if err := shop.WriteDir(a, format); err != nil {
				t.Fatal(err)
			}
			if err := synth.Generate(opts).WriteDir(b, format); err != nil {
				t.Fatal(err)
			}
			sum, err := synth.Write(opts, c, format)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Events != len(shop.Events) || sum.Subjects != len(shop.Subjects) || sum.Consents != len(shop.Consents) ||
				sum.Objections != len(shop.Objections) || !reflect.DeepEqual(sum.Truth, shop.Truth) {
				t.Errorf("Write summary %d/%d/%d/%d differs from the shop", sum.Subjects, sum.Events, sum.Consents, sum.Objections)
			}
			fa, fb, fc := readFiles(t, a), readFiles(t, b), readFiles(t, c)
			wantNames := []string{"consents." + format, "events." + format, "objections." + format, "subjects." + format, "truth.json"}
			for _, name := range wantNames {
				if len(fa[name]) == 0 {
					t.Errorf("%s missing or empty", name)
				}
				if !bytes.Equal(fa[name], fb[name]) {
					t.Errorf("%s: two WriteDir calls wrote different bytes", name)
				}
				if !bytes.Equal(fa[name], fc[name]) {
					t.Errorf("%s: Write and WriteDir wrote different bytes", name)
				}
			}
			if len(fa) != len(wantNames) {
				t.Errorf("wrote %d files, want %d", len(fa), len(wantNames))
			}
		})
	}
	if err := shop.WriteDir(t.TempDir(), "xml"); !errors.Is(err, synth.ErrFormat) {
		t.Errorf("WriteDir(xml) = %v, want ErrFormat", err)
	}
}

func TestRoundTrip(t *testing.T) {
	shop := synth.Generate(small(9, 150))
	for _, format := range []string{synth.FormatNDJSON, synth.FormatCSV} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			if err := shop.WriteDir(dir, format); err != nil {
				t.Fatal(err)
			}
			back, err := synth.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want any
			}{
				{"subjects", back.Subjects, shop.Subjects},
				{"events", back.Events, shop.Events},
				{"consents", back.Consents, shop.Consents},
				{"objections", back.Objections, shop.Objections},
				{"truth", back.Truth, shop.Truth},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s differ after a round trip", c.name)
				}
			}
		})
	}
}

func TestSubjectFieldsFitTheSchema(t *testing.T) {
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if names := pol.Schema().FieldNames(); !reflect.DeepEqual(synth.SubjectColumns[2:], names) {
		t.Fatalf("SubjectColumns %v do not follow the schema %v", synth.SubjectColumns[2:], names)
	}
	shop := synth.GenerateSubjects(small(1, 5000))
	truth := shop.Truth
	dirty := 0
	for _, rec := range shop.Subjects {
		ref := rec.Ref()
		for name, v := range rec.Fields {
			f, ok := pol.Schema().Field(name)
			if !ok {
				t.Fatalf("field %q not in the schema", name)
			}
			err := f.Validate(v)
			switch designed := contains(truth.DirtyFields[ref], name); {
			case designed && err == nil:
				t.Errorf("%s: designed dirty %s passes validation", ref, name)
			case designed:
				dirty++
			case err != nil:
				t.Errorf("%s: %v", ref, err)
			}
		}
		if p, ok := rec.Fields["phone"]; ok && !contains(truth.DirtyFields[ref], "phone") {
			if _, err := normalize.Phone(p); err != nil {
				t.Errorf("%s: phone does not normalise: %v", ref, err)
			}
		}
		if id, ok := rec.Fields["id_number"]; ok {
			if _, err := normalize.IDNumber(id); err != nil {
				t.Errorf("%s: id number: %v", ref, err)
			}
		}
		if e, ok := rec.Fields["email"]; ok {
			if _, err := normalize.Email(e); err != nil {
				t.Errorf("%s: email: %v", ref, err)
			}
		}
	}
	if dirty != truth.DirtyPhones || dirty == 0 {
		t.Errorf("%d dirty phones found, truth says %d", dirty, truth.DirtyPhones)
	}
	if truth.UpperCaseEmails == 0 || truth.PlaceVariants == 0 || truth.MissingCity == 0 || len(truth.Bots) == 0 {
		t.Errorf("missing dirt: %d upper-case e-mails, %d place variants, %d missing cities, %d bots",
			truth.UpperCaseEmails, truth.PlaceVariants, truth.MissingCity, len(truth.Bots))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// refsOf maps subject refs to their records.
func refsOf(shop synth.Shop) map[string]synth.SubjectRecord {
	m := make(map[string]synth.SubjectRecord, len(shop.Subjects))
	for _, r := range shop.Subjects {
		m[r.Ref()] = r
	}
	return m
}

// normalised returns the E.164 phone and lower-case e-mail of a record ("" when absent or invalid).
func normalised(r synth.SubjectRecord) (phone, email string) {
	phone, _ = normalize.Phone(r.Fields["phone"])
	email, _ = normalize.Email(r.Fields["email"])
	return phone, email
}

func TestIdentityTruth(t *testing.T) {
	shop := synth.GenerateSubjects(small(1, 5000))
	truth, recs := shop.Truth, refsOf(shop)
	if len(recs) != len(shop.Subjects) {
		t.Fatal("subject refs are not unique")
	}
	t.Run("duplicates share a verified phone or e-mail and the name", func(t *testing.T) {
		if len(truth.Duplicates) < 20 || len(truth.Duplicates) > 80 {
			t.Fatalf("%d duplicate groups among 5000 people, want about 1 %%", len(truth.Duplicates))
		}
		for _, g := range truth.Duplicates {
			first := recs[g[0]]
			p0, e0 := normalised(first)
			for _, ref := range g[1:] {
				r, ok := recs[ref]
				if !ok || r.Source == first.Source {
					t.Fatalf("group %v: bad member %s", g, ref)
				}
				p, e := normalised(r)
				if (p == "" || p != p0) && (e == "" || e != e0) {
					t.Errorf("group %v: %s shares no phone or e-mail with %s", g, ref, g[0])
				}
				if r.Fields["name"] != first.Fields["name"] {
					t.Errorf("group %v: names differ", g)
				}
				if raw := r.Fields["phone"]; raw != "" && raw == first.Fields["phone"] {
					t.Errorf("group %v: phone written identically, want different formatting", g)
				}
			}
		}
	})
	t.Run("near-duplicates look alike but are different people", func(t *testing.T) {
		if len(truth.NearDuplicates) < 5 {
			t.Fatalf("%d near-duplicate pairs", len(truth.NearDuplicates))
		}
		for _, g := range truth.NearDuplicates {
			a, b := recs[g[0]], recs[g[1]]
			pa, _ := normalised(a)
			pb, _ := normalised(b)
			samePhone := pa != "" && pa == pb
			sameName := a.Fields["name"] == b.Fields["name"]
			if !samePhone && !sameName {
				t.Errorf("pair %v shares neither phone nor name", g)
			}
			if samePhone && []rune(a.Fields["name"])[0] != []rune(b.Fields["name"])[0] {
				t.Errorf("pair %v: a family sharing a phone has different surnames", g)
			}
			if a.Fields["birth_date"] == b.Fields["birth_date"] {
				t.Errorf("pair %v: same birth date", g)
			}
		}
	})
	t.Run("minors are under 14 and consent through guardians", func(t *testing.T) {
		minors := map[string]bool{}
		for _, ref := range truth.Minors {
			minors[ref] = true
			bd, err := time.Parse(time.DateOnly, recs[ref].Fields["birth_date"])
			if err != nil || !bd.AddDate(14, 0, 0).After(testNow) {
				t.Errorf("%s is listed as a minor but born %s", ref, recs[ref].Fields["birth_date"])
			}
		}
		for ref, r := range recs {
			if bd, err := time.Parse(time.DateOnly, r.Fields["birth_date"]); err == nil && bd.AddDate(14, 0, 0).After(testNow) && !minors[ref] {
				t.Errorf("%s is under 14 but not listed", ref)
			}
		}
		for _, c := range shop.Consents {
			if minors[c.SubjectRef] != (c.Kind == "guardian") {
				t.Fatalf("consent of kind %s on %s (minor %v)", c.Kind, c.SubjectRef, minors[c.SubjectRef])
			}
		}
	})
	t.Run("records without a city", func(t *testing.T) {
		if len(truth.MissingCityRefs) != truth.MissingCity {
			t.Fatalf("%d refs, count %d", len(truth.MissingCityRefs), truth.MissingCity)
		}
		for _, ref := range truth.MissingCityRefs {
			if _, ok := recs[ref].Fields["city"]; ok {
				t.Errorf("%s has a city", ref)
			}
		}
	})
	t.Run("objections", func(t *testing.T) {
		obj := map[string]bool{}
		for _, o := range shop.Objections {
			if o.Kind != "personalized_marketing" {
				t.Fatalf("objection kind %q", o.Kind)
			}
			obj[o.SubjectRef] = true
		}
		if len(obj) != len(truth.Objectors) {
			t.Fatalf("%d objecting records, truth lists %d", len(obj), len(truth.Objectors))
		}
		for _, ref := range truth.Objectors {
			if !obj[ref] {
				t.Errorf("%s listed but has no objection", ref)
			}
		}
	})
}

func TestConsentMix(t *testing.T) {
	shop := synth.GenerateSubjects(small(1, 5000))
	people := float64(shop.Truth.Persons)
	primary := map[string]bool{} // the first record of each person
	seen := map[string]bool{}
	for _, g := range shop.Truth.Duplicates {
		for _, r := range g[1:] {
			seen[r] = true
		}
	}
	for _, r := range shop.Subjects {
		if ref := r.Ref(); !seen[ref] {
			primary[ref] = true
		}
	}
	byPurpose := map[string]int{}
	for _, c := range shop.Consents {
		// Given at sign-up or within 30 days of it, inside the 24-month window.
		if c.NoticeVersion != synth.NoticeVersion || c.GrantedAt.After(testNow) || c.GrantedAt.Before(testNow.AddDate(0, -24, -1)) {
			t.Fatalf("consent %+v: bad notice version or time", c)
		}
		if (c.Purpose == "third_party_sharing") != (c.Kind == "separate" && c.Recipient == "sf_express") {
			t.Fatalf("consent %+v: kind or recipient", c)
		}
		if primary[c.SubjectRef] {
			byPurpose[c.Purpose]++
		}
	}
	objectors := 0
	for _, o := range shop.Objections {
		if primary[o.SubjectRef] {
			objectors++
		}
	}
	if len(primary) != shop.Truth.Persons {
		t.Fatalf("%d primary records for %d people", len(primary), shop.Truth.Persons)
	}
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"marketing", float64(byPurpose["marketing"]) / people, 0.70, 0.03},
		{"personalization", float64(byPurpose["personalization"]) / people, 0.50, 0.03},
		{"analytics", float64(byPurpose["analytics"]) / people, 0.60, 0.03},
		{"third-party sharing", float64(byPurpose["third_party_sharing"]) / people, 0.15 * 0.95, 0.03},
		{"minors", float64(len(shop.Truth.Minors)) / people, 0.05, 0.012},
		{"objectors", float64(objectors) / people, 0.03, 0.01},
		{"duplicated people", float64(len(shop.Truth.Duplicates)) / people, 0.01, 0.005},
	} {
		t.Run(c.name, func(t *testing.T) {
			if math.Abs(c.got-c.want) > c.tol {
				t.Errorf("share %.4f, want %.3f ± %.3f", c.got, c.want, c.tol)
			}
		})
	}
}

// streamStats is what one pass over a 5,000-person shop's events measures.
type streamStats struct {
	shop        synth.Shop // without events
	events      int
	byType      map[string]int
	baskets     int
	pairA       []int // baskets with the antecedent of Truth.Pairs[k]
	pairB       []int
	pairAB      []int
	spend       float64 // sum of purchase amounts under 10,000 CNY
	spendN      int
	seasonViews map[string][2]int // category → page views in summer, winter
	maxPerMin   map[string]int    // ref → most behaviour events in any 60 s
	storeCities map[string]map[string]bool
	problems    []string
}

var (
	statsOnce sync.Once
	stats     *streamStats
)

// bigStats streams the events of a 5,000-person shop once for all tests that need it.
func bigStats(t *testing.T) *streamStats {
	t.Helper()
	statsOnce.Do(func() { stats = computeStats() })
	if stats == nil {
		t.Fatal("stream failed")
	}
	return stats
}

func computeStats() *streamStats {
	opts := small(1, 5000)
	st := &streamStats{shop: synth.GenerateSubjects(opts), byType: map[string]int{}, seasonViews: map[string][2]int{},
		maxPerMin: map[string]int{}, storeCities: map[string]map[string]bool{}}
	pairs := st.shop.Truth.Pairs
	st.pairA, st.pairB, st.pairAB = make([]int, len(pairs)), make([]int, len(pairs)), make([]int, len(pairs))
	recs := refsOf(st.shop)
	missing := map[string]bool{}
	for _, r := range st.shop.Truth.MissingCityRefs {
		missing[r] = true
	}
	windows := map[string][]time.Time{}
	last := map[string]time.Time{}
	cst := time.FixedZone("CST", 8*3600)
	behavior := map[string]bool{"page_view": true, "click": true, "search": true, "favorite": true, "cart_add": true, "cart_remove": true}
	problem := func(s string) {
		if len(st.problems) < 20 {
			st.problems = append(st.problems, s)
		}
	}
	err := synth.StreamEvents(opts, func(e synth.Event) error {
		st.events++
		st.byType[e.Type]++
		if _, ok := recs[e.SubjectRef]; !ok {
			problem("unknown subject " + e.SubjectRef)
		}
		if e.TS.Before(opts.Now.AddDate(0, -24, 0)) || !e.TS.Before(opts.Now) {
			problem("event outside the window: " + e.EventID)
		}
		if e.TS.Before(last[e.SubjectRef]) {
			problem("events of a subject out of order: " + e.EventID)
		}
		last[e.SubjectRef] = e.TS
		switch e.Type {
		case "order", "pos_purchase":
			st.baskets++
			cats := map[string]bool{}
			for _, it := range e.Attrs["items"].([]any) {
				cats[it.(map[string]any)["category"].(string)] = true
			}
			for k, p := range pairs {
				a, b := cats[p.Antecedent], cats[p.Consequent]
				st.pairA[k] += b2i(a)
				st.pairB[k] += b2i(b)
				st.pairAB[k] += b2i(a && b)
			}
			if amt, err := strconv.ParseFloat(e.Attrs["amount"].(interface{ String() string }).String(), 64); err != nil {
				problem("bad amount in " + e.EventID)
			} else if amt < 10000 {
				st.spend += amt
				st.spendN++
			}
			if e.Type == "pos_purchase" && missing[e.SubjectRef] {
				city, ok := synth.StoreCity(e.Attrs["store_id"].(string))
				if !ok {
					problem("unknown store in " + e.EventID)
				}
				if st.storeCities[e.SubjectRef] == nil {
					st.storeCities[e.SubjectRef] = map[string]bool{}
				}
				st.storeCities[e.SubjectRef][city] = true
			}
		case "page_view":
			switch e.TS.In(cst).Month() {
			case 6, 7, 8:
				v := st.seasonViews[e.Attrs["category"].(string)]
				v[0]++
				st.seasonViews[e.Attrs["category"].(string)] = v
			case 12, 1, 2:
				v := st.seasonViews[e.Attrs["category"].(string)]
				v[1]++
				st.seasonViews[e.Attrs["category"].(string)] = v
			}
		}
		if behavior[e.Type] {
			w := append(windows[e.SubjectRef], e.TS)
			for len(w) > 0 && e.TS.Sub(w[0]) >= time.Minute {
				w = w[1:]
			}
			windows[e.SubjectRef] = w
			st.maxPerMin[e.SubjectRef] = max(st.maxPerMin[e.SubjectRef], len(w))
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return st
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestStreamShape(t *testing.T) {
	st := bigStats(t)
	for _, p := range st.problems {
		t.Error(p)
	}
	perPerson := float64(st.events) / float64(st.shop.Truth.Persons)
	t.Logf("%d events, %.1f per person: %v", st.events, perPerson, st.byType)
	for _, typ := range []string{"page_view", "click", "search", "favorite", "cart_add", "cart_remove", "order", "cancel",
		"return", "pos_purchase", "review", "chat", "complaint", "share"} {
		if st.byType[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
	if len(st.byType) != 14 {
		t.Errorf("event types %v", st.byType)
	}
	views := float64(st.byType["page_view"])
	mean := 0.0
	if st.spendN > 0 {
		mean = st.spend / float64(st.spendN)
	}
	m := st.shop.Truth.Model
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64 // relative
	}{
		{"view to cart", float64(st.byType["cart_add"]) / views, synth.TargetViewToCart, 0.1},
		{"view to order", float64(st.byType["order"]) / views, synth.TargetViewToOrder, 0.1},
		{"cancels per order", float64(st.byType["cancel"]) / float64(st.byType["order"]), 0.03, 0.35},
		{"mean spend (Gamma-Gamma p·v/(q−1))", mean, m.P * m.V / (m.Q - 1), 0.15},
	} {
		t.Run(c.name, func(t *testing.T) {
			if math.Abs(c.got/c.want-1) > c.tol {
				t.Errorf("%.5f, want %.5f ± %.0f %%", c.got, c.want, 100*c.tol)
			}
		})
	}
}

func TestInjectedPairs(t *testing.T) {
	st := bigStats(t)
	pairs := st.shop.Truth.Pairs
	if len(pairs) < 2 || pairs[0].Antecedent != "baby_formula" || pairs[0].Consequent != "diapers" || pairs[0].Lift < 3 {
		t.Fatalf("pairs %+v: want baby_formula → diapers with lift ≥ 3 first, and another", pairs)
	}
	for k, p := range pairs {
		t.Run(p.Antecedent+"→"+p.Consequent, func(t *testing.T) {
			n := float64(st.baskets)
			conf := float64(st.pairAB[k]) / float64(st.pairA[k])
			lift := conf / (float64(st.pairB[k]) / n)
			t.Logf("%d baskets: support %.4f (designed %.4f), confidence %.3f (%.3f), lift %.2f (%.2f)",
				st.baskets, float64(st.pairAB[k])/n, p.Support, conf, p.Confidence, lift, p.Lift)
			if math.Abs(lift/p.Lift-1) > 0.2 {
				t.Errorf("empirical lift %.2f, designed %.2f", lift, p.Lift)
			}
		})
	}
}

func TestSeasonalDrift(t *testing.T) {
	st := bigStats(t)
	share := func(cat string, season int) float64 {
		total := 0
		for _, v := range st.seasonViews {
			total += v[season]
		}
		return float64(st.seasonViews[cat][season]) / float64(total)
	}
	for _, c := range []struct {
		cat              string
		summerOverWinter bool
	}{{"outdoor", true}, {"swimwear", true}, {"warm_clothing", false}} {
		s, w := share(c.cat, 0), share(c.cat, 1)
		if (s > 1.5*w) != c.summerOverWinter || (w > 1.5*s) == c.summerOverWinter {
			t.Errorf("%s: %.4f of summer page views, %.4f of winter ones", c.cat, s, w)
		}
	}
}

func TestBotsAndStores(t *testing.T) {
	st := bigStats(t)
	bots := map[string]bool{}
	for _, b := range st.shop.Truth.Bots {
		bots[b] = true
		if st.maxPerMin[b] < 150 {
			t.Errorf("bot %s: at most %d behaviour events a minute", b, st.maxPerMin[b])
		}
	}
	for ref, n := range st.maxPerMin {
		if !bots[ref] && n > 60 {
			t.Errorf("%s is not a bot but has %d behaviour events in a minute", ref, n)
		}
	}
	recs := refsOf(st.shop)
	for _, ref := range st.shop.Truth.MissingCityRefs {
		cities := st.storeCities[ref]
		if len(cities) != 1 {
			t.Errorf("%s without a city bought in stores of %d cities", ref, len(cities))
			continue
		}
		for city := range cities {
			prov := recs[ref].Fields["province"]
			found := false
			for _, s := range synth.Stores() {
				if s.City == city && strings.HasPrefix(prov, s.Province) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: store city %s is not in the record's province", ref, city)
			}
		}
	}
	if _, ok := synth.StoreCity("nope"); ok {
		t.Error("StoreCity found an unknown store")
	}
}

func TestEventTruth(t *testing.T) {
	shop := synth.Generate(small(2, 1200))
	ids := make(map[string]bool, len(shop.Events))
	texts := map[string]int{}
	for _, e := range shop.Events {
		if ids[e.EventID] || !strings.HasPrefix(e.EventID, "ev_") || len(e.EventID) != 19 {
			t.Fatalf("event id %q repeated or malformed", e.EventID)
		}
		ids[e.EventID] = true
		s, known := shop.Truth.ReviewSentiment[e.EventID]
		switch e.Type {
		case "review", "chat", "complaint":
			if !known {
				t.Fatalf("%s %s has no designed sentiment", e.Type, e.EventID)
			}
			text := e.Attrs["text"].(string)
			if got := lexicon(text); got != s {
				t.Errorf("%s %q: designed sentiment %d, the words say %d", e.Type, text, s, got)
			}
			if e.Type == "complaint" && s != -1 {
				t.Errorf("complaint with sentiment %d", s)
			}
			for _, marker := range []string{"非常", "very", "不好", "not good", "Very"} {
				if strings.Contains(text, marker) {
					texts[marker]++
				}
			}
			if e.Type == "review" {
				r, _ := strconv.Atoi(e.Attrs["rating"].(interface{ String() string }).String())
				if r < 1 || r > 5 || (s > 0) != (r >= 4) || (s < 0) != (r <= 2) {
					t.Errorf("review rating %d with sentiment %d", r, s)
				}
			}
		default:
			if known {
				t.Fatalf("%s %s has a sentiment", e.Type, e.EventID)
			}
		}
	}
	if len(ids) != len(shop.Events) {
		t.Fatal("duplicate event ids")
	}
	for _, marker := range []string{"非常", "不好", "not good"} {
		if texts[marker] == 0 {
			t.Errorf("no text contains %q", marker)
		}
	}
	if texts["very"]+texts["Very"] == 0 {
		t.Error("no English degree adverb")
	}
	if len(shop.Truth.AnomalousOrders) == 0 {
		t.Fatal("no anomalous orders")
	}
	amounts := map[string]float64{}
	for _, e := range shop.Events {
		if e.Type == "order" || e.Type == "pos_purchase" {
			a, _ := strconv.ParseFloat(e.Attrs["amount"].(interface{ String() string }).String(), 64)
			amounts[e.EventID] = a
		}
	}
	for _, id := range shop.Truth.AnomalousOrders {
		if amounts[id] < 1000 {
			t.Errorf("anomalous order %s has amount %.2f", id, amounts[id])
		}
	}
}

// lexicon is a tiny sentiment oracle for the generator's templates: negative words or negated positives
// make −1, positive words +1, neither 0.
func lexicon(text string) int {
	lower := strings.ToLower(text)
	for _, w := range []string{"不好", "不满意", "不喜欢", "差", "失望", "慢", "破损", "发错", "not ", "bad", "disappointed", "poor", "slow", "damaged", "wrong"} {
		if strings.Contains(lower, w) {
			return -1
		}
	}
	for _, w := range []string{"好", "满意", "喜欢", "good", "satisfied", "love"} {
		if strings.Contains(lower, w) {
			return 1
		}
	}
	return 0
}

func TestOnlyConsentedBehavior(t *testing.T) {
	opts := small(4, 300)
	all := synth.Generate(opts)
	opts.OnlyConsentedBehavior = true
	gated := synth.Generate(opts)
	allowed := map[string]bool{}
	for _, c := range gated.Consents {
		if c.Purpose == "personalization" || c.Purpose == "analytics" {
			allowed[c.SubjectRef] = true
		}
	}
	behavior := map[string]bool{"page_view": true, "click": true, "search": true, "favorite": true, "cart_add": true, "cart_remove": true}
	var kept []synth.Event
	for _, e := range all.Events {
		if !behavior[e.Type] || allowed[e.SubjectRef] {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(all.Events) {
		t.Fatal("nobody lacks a behaviour consent")
	}
	if !reflect.DeepEqual(kept, gated.Events) {
		t.Fatalf("gated shop has %d events, want the %d of the full shop's consented ones", len(gated.Events), len(kept))
	}
}

func TestOptionsDefaults(t *testing.T) {
	shop := synth.GenerateSubjects(synth.Options{Seed: 1, Subjects: 3})
	want := time.Date(2026, 5, 31, 16, 0, 0, 0, time.UTC)
	if !shop.Truth.Now.Equal(want) || !shop.Truth.Start.Equal(want.AddDate(0, -24, 0)) {
		t.Errorf("default window %v – %v", shop.Truth.Start, shop.Truth.Now)
	}
	if shop.Truth.Model != synth.DefaultModel() {
		t.Errorf("default model %+v", shop.Truth.Model)
	}
	start := testNow.AddDate(0, -6, 0)
	err := synth.StreamEvents(synth.Options{Seed: 1, Subjects: 50, Now: testNow, Start: start}, func(e synth.Event) error {
		if e.TS.Before(start) || !e.TS.Before(testNow) {
			t.Fatalf("event at %v outside %v – %v", e.TS, start, testNow)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(synth.Generate(synth.Options{Seed: 1}).Events); n != 0 {
		t.Errorf("no subjects, %d events", n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	events := 0
	for b.Loop() {
		events += len(synth.Generate(small(1, 200)).Events)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkStreamEvents(b *testing.B) {
	events := 0
	for b.Loop() {
		_ = synth.StreamEvents(small(1, 200), func(synth.Event) error { events++; return nil })
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkWrite(b *testing.B) {
	for _, format := range []string{synth.FormatNDJSON, synth.FormatCSV} {
		b.Run(format, func(b *testing.B) {
			dir := b.TempDir()
			events := 0
			for b.Loop() {
				sum, err := synth.Write(small(1, 200), dir, format)
				if err != nil {
					b.Fatal(err)
				}
				events += sum.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
