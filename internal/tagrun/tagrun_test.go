package tagrun_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/profiling"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

var steward = vault.Caller{Subject: "tag-test", Roles: []policies.Role{"data_steward"}}

// shop imports a small synthetic shop into a fresh vault and runs the tag engine over it.
func shop(t testing.TB, subjects int, mutate ...func(*app.Config)) (*apptest.Stack, *tagrun.Runner) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now().UTC()
	if err := synth.Generate(synth.Options{Seed: 11, Subjects: subjects, Now: now}).WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	// The import is an offline job, and `vaultd import` waits a minute for its audit entries: under -race
	// on a busy machine a 5 s wait (the server's) failed it.
	offline := func(c *app.Config) { c.CommitTimeout = time.Minute }
	s := apptest.Start(t, append([]func(*app.Config){offline}, mutate...)...)
	im := &importer.Importer{Vault: s.App.Vault, Steward: steward}
	if _, err := im.Run(t.Context(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	r := *s.App.Tags
	r.Caller = steward
	sum, err := r.Full(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.FittedOn == 0 || sum.TaggedByPurp["marketing"] == 0 {
		t.Fatalf("nothing computed: %+v", sum)
	}
	return s, &r
}

// checkGate asserts the gate's invariant over every stored tag: it rests on consent records of its own
// purpose that are granted now, its subject has not objected, and its inputs are never sensitive.
func checkGate(t *testing.T, s *apptest.Stack) (tags int) {
	t.Helper()
	ctx := t.Context()
	ids, err := s.App.Internals().Store.SubjectIDs(ctx, "", 100_000)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, id := range ids {
		rec, err := s.App.Internals().Store.Subject(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.App.Internals().Store.Tags(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		granted := map[string]policies.PurposeName{} // consent id → purpose, for records granted now
		for _, r := range rec.Consents {
			if r.StatusAt(now) == consent.Granted {
				granted[r.ID] = r.Purpose
			}
		}
		for _, tg := range stored {
			tags++
			if _, objected := rec.Objections[vault.ObjectionPersonalizedMarketing]; objected {
				t.Fatalf("subject with an objection has tag %s/%s", tg.Purpose, tg.Key)
			}
			if len(tg.ConsentIDs) == 0 {
				t.Fatalf("tag %s/%s rests on no consent", tg.Purpose, tg.Key)
			}
			for _, cid := range tg.ConsentIDs {
				if granted[cid] != tg.Purpose {
					t.Fatalf("tag %s/%s rests on consent %s, which is not a live %s consent", tg.Purpose, tg.Key, cid, tg.Purpose)
				}
			}
			purpose, _ := s.App.Vault.Policy().Purposes().Purpose(tg.Purpose)
			for _, in := range tg.Inputs {
				if strings.HasPrefix(in, "sensitive") {
					t.Fatalf("tag %s reads %s", tg.Key, in)
				}
				// Independently of the vault's gate: the subject's consent records must give this purpose a
				// basis for every input category (evaluated as for an adult, the most permissive case).
				b := consent.Evaluate(consent.Query{Purpose: purpose, Categories: []string{in}, Records: rec.Consents, Now: now})[in]
				if !b.OK {
					t.Fatalf("tag %s/%s reads %s without a basis (%s)", tg.Purpose, tg.Key, in, b.Reason)
				}
			}
		}
	}
	return tags
}

func TestTagsRestOnLiveConsentOnly(t *testing.T) {
	s, r := shop(t, 60)
	ctx := t.Context()
	if n := checkGate(t, s); n == 0 {
		t.Fatal("no tags stored")
	}
	// Random consent changes (seeded): withdrawals must take their tags along in the same transaction,
	// and incremental recomputation must respect the new state.
	ids, _ := s.App.Internals().Store.SubjectIDs(ctx, "", 1000)
	rng := rand.New(rand.NewPCG(5, 5))
	steward := vault.Access{Caller: steward, Purpose: "account_management"}
	changed := 0
	for _, id := range ids {
		for _, purpose := range s.App.Vault.Tags().TagPurposes() {
			if rng.IntN(3) != 0 {
				continue
			}
			before, _ := s.App.Internals().Store.Tags(ctx, id)
			_, _, err := s.App.Vault.ConsentRecords().WithdrawConsent(ctx, steward, id, purpose)
			if vault.ErrorCode(err) == vault.CodeNotFound {
				continue // never granted
			}
			if err != nil {
				t.Fatal(err)
			}
			changed++
			after, _ := s.App.Internals().Store.Tags(ctx, id)
			for _, tg := range after {
				if tg.Purpose == purpose {
					t.Fatalf("withdrawing %s left tag %s behind", purpose, tg.Key)
				}
			}
			if kept := countPurpose(before, otherPurpose(purpose)); kept != countPurpose(after, otherPurpose(purpose)) {
				t.Fatalf("withdrawing %s changed the %s tags", purpose, otherPurpose(purpose))
			}
			if _, err := r.One(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if changed == 0 {
		t.Fatal("the seeded changes withdrew nothing")
	}
	checkGate(t, s)
	// A full run after the changes keeps the invariant too.
	if _, err := r.Full(ctx); err != nil {
		t.Fatal(err)
	}
	checkGate(t, s)
}

func TestObjectionAndErasureRemoveTags(t *testing.T) {
	s, r := shop(t, 40)
	ctx := t.Context()
	ids, _ := s.App.Internals().Store.SubjectIDs(ctx, "", 1000)
	var tagged []string
	for _, id := range ids {
		if tg, _ := s.App.Internals().Store.Tags(ctx, id); len(tg) > 0 {
			tagged = append(tagged, id)
		}
	}
	if len(tagged) < 2 {
		t.Fatalf("%d tagged subjects", len(tagged))
	}
	// One says whether anything was released: for a tagged subject yes, for an id nobody has no.
	for id, want := range map[string]bool{tagged[0]: true, "sub_nosuchsubject": false} {
		if released, err := r.One(ctx, id); err != nil || released != want {
			t.Fatalf("One(%s) released %v, %v; want %v", id, released, err, want)
		}
	}
	steward := vault.Access{Caller: steward, Purpose: "account_management"}
	if _, err := s.App.Vault.ConsentRecords().RecordObjection(ctx, steward, tagged[0], vault.ObjectionPersonalizedMarketing); err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.App.Internals().Store.Tags(ctx, tagged[0]); len(tg) != 0 {
		t.Fatalf("an objector keeps %d tags", len(tg))
	}
	if released, err := r.One(ctx, tagged[0]); err != nil || released {
		t.Fatalf("One of an objector: released %v, %v", released, err)
	}
	if tg, _ := s.App.Internals().Store.Tags(ctx, tagged[0]); len(tg) != 0 {
		t.Fatalf("recomputation gave an objector %d tags", len(tg))
	}
	if _, err := s.App.Vault.Profiles().Erase(ctx, steward, tagged[1]); err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.App.Internals().Store.Tags(ctx, tagged[1]); len(tg) != 0 {
		t.Fatalf("an erased subject keeps %d tags", len(tg))
	}
}

func TestTagsOverHTTP(t *testing.T) {
	s, _ := shop(t, 40)
	ctx := t.Context()
	ids, _ := s.App.Internals().Store.SubjectIDs(ctx, "", 1000)
	var id string
	for _, cand := range ids {
		tg, _ := s.App.Internals().Store.Tags(ctx, cand)
		if slices.ContainsFunc(tg, func(x vault.StoredTag) bool { return x.Purpose == "marketing" }) {
			id = cand
			break
		}
	}
	if id == "" {
		t.Fatal("no subject with marketing tags")
	}
	mk := s.Token("mk", "marketing")
	r := s.Do("GET", "/v1/subjects/"+id+"/tags", mk, "marketing", nil)
	tags, _ := r.JSON["tags"].([]any)
	if r.Status != 200 || len(tags) == 0 {
		t.Fatalf("tags: %d %s", r.Status, r.Body)
	}
	first := tags[0].(map[string]any)
	for _, k := range []string{"key", "level", "value", "computed_at", "inputs", "consent_ids", "explanation"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("tag lacks %q: %s", k, r.Body)
		}
	}
	if r := s.Do("GET", "/v1/subjects/"+id+"/tags", s.Token("cs", "customer_service"), "customer_service", nil); r.Status != 403 {
		t.Fatalf("customer service reading tags: %d", r.Status)
	}
	// After the withdrawal the same read is withheld, with the reason.
	st := s.Token("st", "data_steward")
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", st, "account_management", nil); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/v1/subjects/"+id+"/tags", mk, "marketing", nil)
	if r.Status != 200 || len(r.JSON["tags"].([]any)) != 0 || !strings.Contains(string(r.Body), "consent_required") {
		t.Fatalf("after withdrawal: %d %s", r.Status, r.Body)
	}
	// Insights are aggregates for analysts; jobs run the computation in the background.
	an := s.Token("an", "analyst")
	if r := s.Do("GET", "/v1/insights/rfm", an, "analytics", nil); r.Status != 200 {
		t.Fatalf("insight: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/insights/rfm", mk, "marketing", nil); r.Status != 403 {
		t.Fatalf("insight for marketing purpose: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/tags/compute", mk, "", nil); r.Status != 403 {
		t.Fatalf("marketing starting a job: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"rules_max_len=0", "rules_max_len=11", "rules_min_support=abc", "rules_min_confidence=1.5", "rules_min_support=0"} {
		if r := s.Do("POST", "/v1/tags/compute?"+bad, st, "", nil); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
			t.Fatalf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
	r = s.Do("POST", "/v1/tags/compute?rules_max_len=4&rules_min_confidence=0.2", st, "", nil)
	if r.Status != 202 {
		t.Fatalf("start job: %d %s", r.Status, r.Body)
	}
	job := r.JSON["job_id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = s.Do("GET", "/v1/jobs/"+job, st, "", nil)
		if r.Status != 200 {
			t.Fatalf("job: %d %s", r.Status, r.Body)
		}
		if r.JSON["state"] != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("job did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.JSON["state"] != "done" || r.JSON["done"] != r.JSON["total"] {
		t.Fatalf("job finished as %s", r.Body)
	}
	// The rules insight says the thresholds the job was started with, and the least lift it was not given:
	// 1, so no rule says that buying one thing makes another less likely.
	r = s.Do("GET", "/v1/insights/rules", an, "analytics", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"max_len":4`) ||
		!strings.Contains(string(r.Body), `"min_confidence":0.2`) || !strings.Contains(string(r.Body), `"min_lift":1,`) {
		t.Fatalf("rules insight after a job with thresholds: %d %s", r.Status, r.Body)
	}

	// The subject's own view and export carry their tags.
	me := s.Token(ids[0], string(vault.RoleSubject))
	if r := s.Do("GET", "/v1/me", me, "", nil); r.Status != 200 || r.JSON["tags"] == nil {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
}

func countPurpose(tags []vault.StoredTag, purpose policies.PurposeName) int {
	n := 0
	for _, t := range tags {
		if t.Purpose == purpose {
			n++
		}
	}
	return n
}

func otherPurpose(p policies.PurposeName) policies.PurposeName {
	if p == "marketing" {
		return "personalization"
	}
	return "marketing"
}

func TestIncrementalRecomputesChangedSubjectsOnly(t *testing.T) {
	s, r := shop(t, 40)
	ctx := t.Context()
	if dirty, _ := s.App.Vault.Tags().DirtySubjects(ctx, vault.Access{Caller: steward}, 1000); len(dirty) != 0 {
		t.Fatalf("%d subjects still pending after a full run", len(dirty))
	}
	ids, _ := s.App.Internals().Store.SubjectIDs(ctx, "", 1000)
	var tagged string
	for _, id := range ids {
		if tg, _ := s.App.Internals().Store.Tags(ctx, id); len(tg) > 0 {
			tagged = id
			break
		}
	}
	before, _ := s.App.Internals().Store.Tags(ctx, tagged)
	// A correction to one subject's city marks it, and only it.
	steward := vault.Access{Caller: steward, Purpose: "account_management"}
	city := "成都"
	if _, err := s.App.Vault.Profiles().Update(ctx, steward, tagged, map[string]*string{"city": &city}); err != nil {
		t.Fatal(err)
	}
	dirty, _ := s.App.Vault.Tags().DirtySubjects(ctx, steward, 1000)
	if len(dirty) != 1 || dirty[0] != tagged {
		t.Fatalf("pending after one correction: %v", dirty)
	}
	n, err := r.Incremental(ctx)
	if err != nil || n != 1 {
		t.Fatalf("incremental: %d %v", n, err)
	}
	if dirty, _ := s.App.Vault.Tags().DirtySubjects(ctx, steward, 1000); len(dirty) != 0 {
		t.Fatalf("still pending: %v", dirty)
	}
	after, _ := s.App.Internals().Store.Tags(ctx, tagged)
	if len(after) == 0 || !after[0].ComputedAt.After(before[0].ComputedAt) {
		t.Fatalf("tags not recomputed: %d before, %d after", len(before), len(after))
	}
}

// A deployment's taxonomy decides which product categories interest tags may name: with snacks and women's
// clothing left out of it, no stored tag names them, and the other categories still make tags.
func TestInterestTagsNameTheTaxonomyOnly(t *testing.T) {
	dir := t.TempDir()
	for _, name := range policies.FileNames() {
		raw := policies.Embedded(name)
		if name == "taxonomy.json" {
			var tx map[string]any
			if err := json.Unmarshal(raw, &tx); err != nil {
				t.Fatal(err)
			}
			cats := tx["categories"].([]any)
			tx["categories"] = slices.DeleteFunc(cats, func(c any) bool {
				k := c.(map[string]any)["key"]
				return k == "snacks" || k == "women_clothing"
			})
			raw, _ = json.Marshal(tx)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := shop(t, 40, func(c *app.Config) { c.PolicyDir = dir })
	mk := s.Token("mk", "marketing")
	ids, _ := s.App.Internals().Store.SubjectIDs(t.Context(), "", 1000)
	named := 0
	for _, id := range ids {
		r := s.Do("GET", "/v1/subjects/"+id+"/tags", mk, "personalization", nil)
		tags, _ := r.JSON["tags"].([]any)
		for _, x := range tags {
			tg := x.(map[string]any)
			if tg["key"] != "interest.top_categories" {
				continue
			}
			named++
			if v := tg["value"].(string); strings.Contains(v, "snacks") || strings.Contains(v, "women_clothing") {
				t.Fatalf("subject %s: top categories %q name a category outside the taxonomy", id, v)
			}
		}
	}
	if named == 0 {
		t.Fatal("no interest.top_categories tag at all")
	}
}

// TestRunsOfOneDayFitTheSameModels: two full runs over the same data at different hours of one local day
// fit the same RFM edges, lifetime-value model and K-Means segments (a run describes the data as of the end
// of its day), so segment names and members do not move with the hour; a run the next day may differ.
func TestRunsOfOneDayFitTheSameModels(t *testing.T) {
	s, r := shop(t, 300)
	a := vault.Access{Caller: steward}
	day := time.Now().In(r.Loc)
	fit := func(hour int) profiling.Population {
		t.Helper()
		r.Now = func() time.Time { return time.Date(day.Year(), day.Month(), day.Day(), hour, 17, 0, 0, r.Loc) }
		if _, err := r.Full(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := s.App.Vault.Tags().TagModel(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		var m tagrun.Model
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m.Population
	}
	morning, evening := fit(0), fit(23)
	if morning.Cluster == nil || morning.LTV == nil {
		t.Fatalf("the shop fits no segments or no LTV model: %s, %s", morning.ClusterStatus, morning.LTVStatus)
	}
	for name, pair := range map[string][2]any{
		"RFM edges": {morning.RFM, evening.RFM},
		"LTV model": {morning.LTV, evening.LTV},
		"segments":  {morning.Cluster, evening.Cluster},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s differ between 00:17 and 23:17 of one day:\n%+v\n%+v", name, pair[0], pair[1])
		}
	}
}

// The interest half-life is configuration (TAGS.md: 30 days, configurable; vaultd --interest-half-life-days):
// the interest tags are weighted by it, and their explanation says which.
func TestInterestHalfLifeIsConfigured(t *testing.T) {
	s, _ := shop(t, 30, func(c *app.Config) { c.InterestHalfLifeDays = 7 })
	mk := s.Token("mk", "marketing")
	ids, _ := s.App.Internals().Store.SubjectIDs(t.Context(), "", 1000)
	for _, id := range ids {
		r := s.Do("GET", "/v1/subjects/"+id+"/tags", mk, "personalization", nil)
		tags, _ := r.JSON["tags"].([]any)
		for _, x := range tags {
			if tg := x.(map[string]any); tg["key"] == "interest.top_categories" {
				if e := tg["explanation"].(string); !strings.Contains(e, "half-life 7 days") {
					t.Fatalf("explanation %q does not name the configured half-life", e)
				}
				return
			}
		}
	}
	t.Fatal("no interest.top_categories tag at all")
}
