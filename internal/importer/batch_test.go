package importer_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/synth"
)

// Importing the subjects a worker's batch at a time (vault.ImportSubjects) does what importing them one
// record at a time (vault.ImportSubject) does: the same report line for line — the review queue too, since
// records with similar names share a worker — the same rows, and the same audit entries; and a second run
// of the same files changes nothing either way.
func TestSubjectBatchesImportAsOneAtATime(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	shop := synth.Generate(synth.Options{Seed: 5, Subjects: 600, Now: now, Start: now.AddDate(0, -1, 0)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	// Two workers: a worker's queue holds many records when it takes its next batch.
	one := importTwice(t, dir, "", func(im *importer.Importer) { im.SubjectBatch = 1 })
	batched := importTwice(t, dir, "", func(im *importer.Importer) { im.Workers = 2 })
	if !slices.Equal(one.first, batched.first) || !slices.Equal(one.second, batched.second) {
		t.Errorf("reports differ\none at a time: %v then %v\nbatched:      %v then %v", one.first, one.second, batched.first, batched.second)
	}
	for _, table := range importTables {
		if one.rows[table] != batched.rows[table] || one.again[table] != batched.again[table] {
			t.Errorf("%s: %d rows (%d after the second run) one at a time, %d (%d) batched", table, one.rows[table], one.again[table], batched.rows[table], batched.again[table])
		}
	}
	if fmt.Sprint(one.entries) != fmt.Sprint(batched.entries) {
		t.Errorf("audit entries differ\none at a time: %v\nbatched:      %v", one.entries, batched.entries)
	}
	// The shop exercised what it means to: merges and reviews among its subjects.
	for _, want := range []string{"merged: 0", "review_queued: 0"} {
		if slices.Contains(batched.first, want) {
			t.Errorf("the shop has no %s", want[:len(want)-3])
		}
	}
}
