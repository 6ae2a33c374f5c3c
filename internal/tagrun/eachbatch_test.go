package tagrun

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// eachBatch runs every batch exactly once; after a failure it starts no further batch and returns the
// error.
func TestEachBatch(t *testing.T) {
	const n = 1000
	var runs [n]atomic.Int32
	if err := eachBatch(n, 4, func(k int) error { runs[k].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for k := range runs {
		if got := runs[k].Load(); got != 1 {
			t.Fatalf("batch %d ran %d times", k, got)
		}
	}
	boom := errors.New("boom")
	failAt10 := func(k int) error {
		if k == 10 {
			return boom
		}
		return nil
	}
	if err := eachBatch(n, 4, failAt10); !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	// Two workers: batch 1 ends well after batch 0 failed, and its worker must then stop.
	var ran atomic.Int32
	started, failed := make(chan struct{}), make(chan struct{})
	err := eachBatch(n, 2, func(k int) error {
		ran.Add(1)
		switch k {
		case 0:
			<-started
			close(failed)
			return boom
		case 1:
			close(started)
			<-failed
			time.Sleep(200 * time.Millisecond) // the failure is recorded meanwhile
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() != 2 {
		t.Errorf("error %v after %d batches, want %v after 2", err, ran.Load(), boom)
	}
	if err := eachBatch(0, 4, func(int) error { t.Error("ran a batch of none"); return nil }); err != nil {
		t.Fatal(err)
	}
}
