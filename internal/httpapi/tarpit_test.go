package httpapi

import (
	"context"
	"testing"
	"time"
)

// TestTarpitHoldsAtMostItsCapacity: a hold takes a place until its delay ends or its request goes away;
// with every place taken the next hold is refused at once; a nil tarpit (turned off) never holds.
func TestTarpitHoldsAtMostItsCapacity(t *testing.T) {
	tp := newTarpit(time.Hour, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- tp.hold(ctx) }()
	for len(tp.slots) == 0 {
		time.Sleep(time.Millisecond)
	}
	if tp.hold(context.Background()) {
		t.Fatal("a second hold found a place in a full tarpit")
	}
	cancel() // the client went away
	if !<-done {
		t.Fatal("the first hold did not report that it held")
	}
	if len(tp.slots) != 0 {
		t.Fatal("the place was not given back")
	}
	if newTarpit(0, 10) != nil || newTarpit(-time.Second, 10) != nil {
		t.Fatal("a tarpit without a delay was made")
	}
	var off *tarpit
	if !off.hold(context.Background()) {
		t.Fatal("a turned-off tarpit refused")
	}
}
