package httpapi

import (
	"context"
	"time"
)

// tarpit slows the refusals of an authentication flood. Beyond the auth-failure budget a refusal costs the
// vault little (429, no entry of its own), so a client that ignores Retry-After would otherwise get one
// answer after another on a kept-alive connection and take the cores from legitimate reads. Each such
// refusal is held for delay before it is answered, so a flooding connection gets about one answer per delay;
// at most cap refusals are held at once, and one that finds no free place is answered at once with
// Connection: close, so the flooder pays a new connection for its next try. Holding costs a parked
// goroutine and a timer, no CPU.
type tarpit struct {
	delay time.Duration
	slots chan struct{}
}

// newTarpit holds up to capacity refusals for delay each; a delay ≤ 0 turns it off.
func newTarpit(delay time.Duration, capacity int) *tarpit {
	if delay <= 0 || capacity <= 0 {
		return nil
	}
	return &tarpit{delay: delay, slots: make(chan struct{}, capacity)}
}

// hold waits out the delay (or until ctx ends) and reports true; it reports false at once when every place
// is taken, and the caller closes the connection instead. A nil tarpit holds nothing.
func (t *tarpit) hold(ctx context.Context) bool {
	if t == nil {
		return true
	}
	select {
	case t.slots <- struct{}{}:
	default:
		return false
	}
	defer func() { <-t.slots }()
	timer := time.NewTimer(t.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	return true
}
