package importer

import (
	"testing"

	"github.com/profilevault/profilevault/internal/ingest"
)

// Records linked by any identity key — directly or through other records — go to one worker, whichever
// key each is routed by; unlinked records keep their own route.
func TestRecordsOfOnePersonGoToOneWorker(t *testing.T) {
	rec := func(ext, phone, email string, nameBirth ...string) *ingest.SubjectRow {
		f := map[string]string{}
		if len(nameBirth) == 2 {
			f["name"], f["birth_date"] = nameBirth[0], nameBirth[1]
		}
		if phone != "" {
			f["phone"] = phone
		}
		if email != "" {
			f["email"] = email
		}
		return &ingest.SubjectRow{Source: "shop", ExternalID: ext, Fields: f}
	}
	a := rec("a", "+8613800000001", "one@example.cn")
	b := rec("b", "+8613800000002", "one@example.cn") // a's email, another phone
	c := rec("c", "+8613800000002", "two@example.cn") // b's phone, another email
	d := rec("d", "", "two@example.cn")               // c's email, no phone
	e := rec("e", "+8613800000009", "nine@example.cn", "欧阳娜娜", "1990-05-01")
	f := rec("f", "+8613800000010", "", "欧阳娜", "1990-05-01") // a name within one edit of e's, e's birth date
	const n = 64
	// The test means something only if routing by the first key alone would split them.
	if routeKey(subjectKeys(a)[0], n) == routeKey(subjectKeys(b)[0], n) {
		t.Fatal("pick phones that route apart")
	}
	g := &identityGroups{parent: map[string]string{}}
	for _, r := range []*ingest.SubjectRow{a, b, c, d, e, f} {
		g.join(subjectKeys(r))
	}
	want := g.route(a, n)
	for _, r := range []*ingest.SubjectRow{b, c, d} {
		if got := g.route(r, n); got != want {
			t.Errorf("record %s goes to worker %d, a to %d", r.ExternalID, got, want)
		}
	}
	if g.find(subjectKeys(e)[0]) == g.find(subjectKeys(a)[0]) {
		t.Error("an unrelated record joined a's group")
	}
	if g.route(f, n) != g.route(e, n) {
		t.Error("records with near-identical names and one birth date go to two workers")
	}
}
