package vault_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// TestResealEventsMovesJSONToBinary: events stored as JSON (before the binary encoding) are sealed again
// in it, batch by batch, read back the same, and each subject's entry comes before their events are
// opened; a second run changes nothing; only admin may run it.
func TestResealEventsMovesJSONToBinary(t *testing.T) {
	cfg, store, crypto := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var ids []string
	for range 3 {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: profile()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	now := time.Now().Add(-time.Hour)
	order := func(id, subject string, at time.Time) vault.EventInput {
		return vault.EventInput{EventID: id, SubjectRef: subject, Type: "order", TS: at, Source: "app",
			Attrs: map[string]any{"order_id": "o-" + id, "amount": 99.5, "currency": "CNY", "discount": 0.0,
				"items": []any{map[string]any{"sku": "s1", "category": "diapers", "brand": "好奇", "qty": 2, "price": 49.75}}}}
	}
	review := func(id, subject string, at time.Time) vault.EventInput {
		return vault.EventInput{EventID: id, SubjectRef: subject, Type: "review", TS: at, Source: "app",
			Attrs: map[string]any{"order_id": "o-" + id, "rating": 1, "text": "味道很大 \"不会再买了\" <退款>"}}
	}
	restore := vault.SetJSONAttrs()
	var legacy []vault.EventInput
	for i, s := range ids[:2] {
		for k := range 3 {
			at := now.Add(time.Duration(10*i+k) * time.Minute)
			legacy = append(legacy, order(s[len(s)-6:]+"-o"+string(rune('a'+k)), s, at), review(s[len(s)-6:]+"-r"+string(rune('a'+k)), s, at))
		}
	}
	res, err := svc.Ingestion().IngestEvents(ctx, fulfil, legacy)
	restore()
	if err != nil || res.Accepted != len(legacy) {
		t.Fatalf("legacy events: %+v %v", res, err)
	}
	if res, err := svc.Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{order("new-1", ids[0], now.Add(time.Hour))}); err != nil || res.Accepted != 1 {
		t.Fatalf("new event: %+v %v", res, err)
	}
	// encodings counts the stored events of the subjects by encoding, opening them with the keys directly.
	encodings := func() (binary, other int) {
		for _, s := range ids {
			rec, err := store.Subject(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			store.Events(ctx, s, func(ev vault.StoredEvent) error {
				plain, err := crypto.Open(rec.DEKs[ev.Class], "event:"+ev.ID, ev.Attrs)
				switch {
				case err != nil:
					t.Fatalf("event %s does not open: %v", ev.ID, err)
				case vault.IsBinaryAttrs(plain):
					binary++
				default:
					other++
				}
				return nil
			})
		}
		return binary, other
	}
	if b, j := encodings(); b != 1 || j != len(legacy) {
		t.Fatalf("before: %d binary, %d JSON", b, j)
	}
	read := func() map[string][]vault.EventView {
		out := map[string][]vault.EventView{}
		for _, s := range ids[:2] {
			page, err := svc.Ingestion().SubjectEvents(ctx, fulfil, s, vault.EventQuery{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			out[s] = page.Events
		}
		return out
	}
	before := read()

	if _, err := svc.Ingestion().ResealEvents(ctx, marketer, vault.ResealOptions{}); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("a marketer resealed: %v", err)
	}
	var progress []int
	got, err := svc.Ingestion().ResealEvents(ctx, admin, vault.ResealOptions{BatchSize: 2, Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	want := vault.ResealResult{Subjects: 3, Events: len(legacy) + 1, Resealed: len(legacy), Current: 1, AuditSeq: got.AuditSeq}
	if got != want || !reflect.DeepEqual(progress, []int{2, 3}) {
		t.Fatalf("reseal: %+v (progress %v), want %+v", got, progress, want)
	}
	if b, j := encodings(); b != len(legacy)+1 || j != 0 {
		t.Fatalf("after: %d binary, %d JSON", b, j)
	}
	if after := read(); !reflect.DeepEqual(after, before) {
		t.Fatalf("events read back differently:\n%v\nbefore:\n%v", after, before)
	}

	// The trail: the refusal, the start, one entry per subject opened (before the batch that stored their
	// events), one per stored batch.
	entries, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionEventReseal), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var denied, perSubject, batches int
	for _, e := range entries {
		switch {
		case e.Decision == audit.Deny:
			denied++
		case e.SubjectRef != "" && e.Reason == "reseal:events":
			perSubject++
		case strings.HasPrefix(e.Reason, "reseal:batch "):
			batches++
		}
		if strings.Contains(e.Reason, "味道") || strings.Contains(e.Reason, "o-") {
			t.Fatalf("an entry names a value: %q", e.Reason)
		}
	}
	// Batches of two subjects in id order: one stored batch for each that holds a subject with JSON events.
	sorted := slices.Sorted(slices.Values(ids))
	wantBatches := map[int]bool{}
	for _, s := range ids[:2] {
		wantBatches[slices.Index(sorted, s)/2] = true
	}
	if denied != 1 || perSubject != 3 || batches != len(wantBatches) {
		t.Fatalf("entries: %d denied, %d per subject, %d batches (of %d), want 1, 3, %d", denied, perSubject, batches, len(entries), len(wantBatches))
	}

	again, err := svc.Ingestion().ResealEvents(ctx, admin, vault.ResealOptions{})
	if err != nil || again.Resealed != 0 || again.Current != len(legacy)+1 || again.Unopened != 0 {
		t.Fatalf("second run: %+v %v", again, err)
	}
}
