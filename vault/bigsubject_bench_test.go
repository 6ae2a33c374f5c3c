package vault_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// seedEvents gives a new subject n interaction and behaviour-free events (no legal hold applies to them).
func seedEvents(b *testing.B, svc *vault.Service, n int) (string, vault.Access) {
	b.Helper()
	ctx := b.Context()
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: profile()})
	if err != nil {
		b.Fatal(err)
	}
	fulfil := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "order_fulfillment"}
	ts := time.Now().Add(-72 * time.Hour)
	for done := 0; done < n; done += 1000 {
		batch := make([]vault.EventInput, 0, 1000)
		for i := done; i < done+1000 && i < n; i++ {
			batch = append(batch, vault.EventInput{EventID: fmt.Sprintf("%s-%d", c.ID, i), SubjectRef: c.ID, Type: "chat", TS: ts.Add(time.Duration(i) * time.Second),
				Source: "app", Attrs: map[string]any{"text": "请问我的订单什么时候发货？谢谢，非常期待这次的商品。"}})
		}
		if res, err := svc.Ingestion().IngestEvents(ctx, fulfil, batch); err != nil || res.Accepted != len(batch) {
			b.Fatalf("seed: %+v %v", res, err)
		}
	}
	return c.ID, vault.Access{Caller: vault.Caller{Subject: c.ID, Roles: []policies.Role{vault.RoleSubject}}}
}

// BenchmarkEraseSubjectWith10kEvents is the erasure latency of a subject with 10,000 events: keys, profile
// and index go in the request; the unreadable events are deleted in the background afterwards.
func BenchmarkEraseSubjectWith10kEvents(b *testing.B) {
	svc, _ := newService(b, 1000)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id, _ := seedEvents(b, svc, 10_000)
		b.StartTimer()
		if _, err := svc.Profiles().Erase(b.Context(), steward, id); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		svc.Profiles().WaitPurges() // the events' physical deletion runs after the response, keys already gone
		b.StartTimer()
	}
}

// BenchmarkExportSubjectWith10kEvents is GET /v1/me/export's work for a subject with 10,000 events; it
// reports the heap in use at the end of each export.
func BenchmarkExportSubjectWith10kEvents(b *testing.B) {
	svc, _ := newService(b, 1000)
	_, me := seedEvents(b, svc, 10_000)
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		x, err := svc.DataSubjects().MeExport(b.Context(), me)
		if err != nil || len(x.Events) != 10_000 {
			b.Fatalf("%d events, %v", len(x.Events), err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}
