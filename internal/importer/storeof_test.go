package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/internal/synth"
)

// TestStoreOfSkipsOnlyLinesWithoutPOSPurchases checks the pre-scan's byte filter against parsing every
// line, including a pos_purchase whose type is spelled with a JSON escape.
func TestStoreOfSkipsOnlyLinesWithoutPOSPurchases(t *testing.T) {
	dir := t.TempDir()
	shop := synth.Generate(synth.Options{Seed: 5, Subjects: 60, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.ndjson")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Spell the type of the first POS purchase with an escape: the filter must still let it through.
	lines := strings.Split(string(raw), "\n")
	escaped := false
	for i, l := range lines {
		if strings.Contains(l, `"type":"pos_purchase"`) {
			lines[i] = strings.Replace(l, `"type":"pos_purchase"`, `"type":"pos\u005fpurchase"`, 1)
			escaped = true
			break
		}
	}
	if !escaped {
		t.Fatal("the synthetic shop has no POS purchase")
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Reference: every line parsed.
	want := map[string]string{}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := ingest.NewReader(fh, ingest.KindEvents, "ndjson")
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		if row.Err == nil && row.Event.Type == "pos_purchase" {
			if sid, _ := row.Event.Attrs["store_id"].(string); sid != "" {
				if _, seen := want[row.Event.SubjectRef]; !seen {
					want[row.Event.SubjectRef] = sid
				}
			}
		}
	}
	fh.Close()
	if len(want) == 0 {
		t.Fatal("no store ids in the reference")
	}
	im := &Importer{Stores: map[string]string{"any": "city"}}
	files, _, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	got := im.storeOf(files)
	if len(got) != len(want) {
		t.Fatalf("storeOf found %d subjects' stores, parsing every line %d", len(got), len(want))
	}
	for ref, sid := range want {
		if got[ref] != sid {
			t.Errorf("%s: store %q, want %q", ref, got[ref], sid)
		}
	}
}

func TestNotPOSPurchase(t *testing.T) {
	for line, want := range map[string]bool{
		`{"type":"page_view"}`:           true,
		`{"type":"pos_purchase"}`:        false,
		`{"type":"pos\u005fpurchase"}`:   false,
		`{"attrs":{"q":"a\"b"},"t":"x"}`: false, // any escape is parsed
	} {
		if got := notPOSPurchase([]byte(line)); got != want {
			t.Errorf("notPOSPurchase(%s) = %v, want %v", line, got, want)
		}
	}
}
