package ingest

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Robust z-score parameters (Iglewicz and Hoaglin's modified z-score).
const (
	// MADScale makes the median absolute deviation a consistent estimator of the standard deviation
	// for normally distributed data.
	MADScale = 1.4826
	// AnomalyZ is the robust z-score above which an amount is flagged.
	AnomalyZ = 3.5
	// MinAmountSamples is how many amounts AmountStats needs before it flags anything.
	MinAmountSamples = 30
	// DefaultReservoir is the size of AmountStats' reservoir sample.
	DefaultReservoir = 100_000
	// meanADScale scales the mean absolute deviation when the MAD is 0 (sqrt(pi/2)).
	meanADScale = 1.253314
)

// AmountStats estimates the median and the median absolute deviation (MAD) of a stream of order
// amounts from a deterministic reservoir sample (Vitter's algorithm R with a fixed-seed PCG), so its
// memory is bounded by the reservoir size whatever the stream's length, and the same stream always
// gives the same answers. The zero value is ready to use with a DefaultReservoir-sized reservoir. It is
// not safe for concurrent use.
//
// During a single pass the estimate follows the stream: it is recomputed (in linear time, by
// selection) whenever 1/32 of the sample has changed since the last computation, or on every call
// while the sample is small.
type AmountStats struct {
	// Capacity is the reservoir size; 0 means DefaultReservoir. Set it before the first Add.
	Capacity int

	sample  []float64
	seen    int64
	rng     *rand.Rand
	changes int // sample changes since the last computation

	computed      bool
	median, mad   float64
	meanAD        float64
	scratch       []float64
	computedCount int
}

// Add adds one amount to the stream. Non-finite amounts are ignored.
func (a *AmountStats) Add(amount float64) {
	if math.IsNaN(amount) || math.IsInf(amount, 0) {
		return
	}
	capacity := a.Capacity
	if capacity <= 0 {
		capacity = DefaultReservoir
	}
	if a.rng == nil {
		a.rng = rand.New(rand.NewPCG(0x5eed_a11, 0xa40_0000_7))
	}
	a.seen++
	if len(a.sample) < capacity {
		a.sample = append(a.sample, amount)
		a.changes++
		return
	}
	if j := a.rng.Int64N(a.seen); j < int64(capacity) {
		a.sample[j] = amount
		a.changes++
	}
}

// Count returns how many amounts were added.
func (a *AmountStats) Count() int64 { return a.seen }

// refresh recomputes the median and MAD when the sample has changed enough.
func (a *AmountStats) refresh() {
	n := len(a.sample)
	if n == 0 {
		return
	}
	if a.computed && (a.changes == 0 || (n > 1024 && a.changes < n/32)) {
		return
	}
	a.scratch = append(a.scratch[:0], a.sample...)
	a.median = medianOf(a.scratch)
	sum := 0.0
	for i, x := range a.sample {
		d := math.Abs(x - a.median)
		a.scratch[i] = d
		sum += d
	}
	a.meanAD = sum / float64(n)
	a.mad = medianOf(a.scratch)
	a.computed, a.changes, a.computedCount = true, 0, n
}

// Median returns the current estimate of the median amount (0 before any Add).
func (a *AmountStats) Median() float64 { a.refresh(); return a.median }

// MAD returns the current estimate of the median absolute deviation (0 before any Add).
func (a *AmountStats) MAD() float64 { a.refresh(); return a.mad }

// Score returns the robust z-score |x − median| / (1.4826 · MAD) of an amount. When the MAD is 0 (more
// than half the amounts are equal) it uses 1.2533 · mean absolute deviation instead; when that is 0 too,
// the score is 0 for the median and +Inf for anything else.
func (a *AmountStats) Score(x float64) float64 {
	a.refresh()
	d := math.Abs(x - a.median)
	switch {
	case a.mad > 0:
		return d / (MADScale * a.mad)
	case a.meanAD > 0:
		return d / (meanADScale * a.meanAD)
	case d == 0:
		return 0
	}
	return math.Inf(1)
}

// Anomalous reports whether an amount's robust z-score exceeds AnomalyZ (3.5). It is false until
// MinAmountSamples amounts have been added.
func (a *AmountStats) Anomalous(amount float64) bool {
	if a.seen < MinAmountSamples || math.IsNaN(amount) {
		return false
	}
	return a.Score(amount) > AnomalyZ
}

// medianOf returns the median of xs (reordering xs), in expected linear time.
func medianOf(xs []float64) float64 {
	n := len(xs)
	hi := selectKth(xs, n/2)
	if n%2 == 1 {
		return hi
	}
	// After selection, xs[:n/2] holds the lower half: its maximum is the other middle value.
	return (slices.Max(xs[:n/2]) + hi) / 2
}

// selectKth reorders xs so that xs[k] is the k-th smallest, everything before it ≤ it and everything
// after ≥ it, and returns xs[k] (Hoare's quickselect with a median-of-three pivot).
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for hi > lo {
		if hi-lo < 16 {
			slices.Sort(xs[lo : hi+1])
			return xs[k]
		}
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// Bot detection parameters.
const (
	// BotWindow is the sliding window over which behaviour events are counted.
	BotWindow = 60 * time.Second
	// BotLimit is the most behaviour events a person plausibly makes in one BotWindow.
	BotLimit = 60
)

// BotDetector flags subjects whose behaviour events (page_view, click, search, favorite, cart_add,
// cart_remove) exceed BotLimit (60) in any BotWindow (60 s): more than 60 events whose times all lie
// within 60 seconds of each other. The zero value is ready to use; it is not safe for concurrent use.
//
// Per subject it keeps only the BotLimit+1 latest times seen (sorted), so memory is bounded per
// subject. It is exact when each subject's events arrive in time order (as event files are written);
// an event arriving after more than 60 later ones of the same subject is only compared with those.
// A subject once flagged stays flagged, and its times are dropped.
type BotDetector struct {
	times map[string][]int64 // subject → sorted unix-nanosecond times, at most BotLimit+1
	bots  map[string]bool
}

// Observe records one event; events of other categories are ignored.
func (b *BotDetector) Observe(subjectRef string, ts time.Time, typ string) {
	if c, _ := Category(typ); c != CategoryBehavior {
		return
	}
	if b.times == nil {
		b.times = map[string][]int64{}
		b.bots = map[string]bool{}
	}
	if b.bots[subjectRef] {
		return
	}
	t := ts.UnixNano()
	w := b.times[subjectRef]
	// Insert t in order (usually at the end).
	i := len(w)
	for i > 0 && w[i-1] > t {
		i--
	}
	if len(w) == BotLimit+1 {
		if i == 0 {
			return // older than everything kept: see the type's documentation
		}
		copy(w[:i-1], w[1:i]) // drop the oldest
		w[i-1] = t
	} else {
		w = slices.Insert(w, i, t)
	}
	b.times[subjectRef] = w
	if len(w) == BotLimit+1 && w[BotLimit]-w[0] < int64(BotWindow) {
		b.bots[subjectRef] = true
		delete(b.times, subjectRef)
	}
}

// IsBot reports whether a subject has been flagged.
func (b *BotDetector) IsBot(subjectRef string) bool { return b.bots[subjectRef] }

// Bots returns the flagged subjects, sorted.
func (b *BotDetector) Bots() []string {
	out := make([]string, 0, len(b.bots))
	for s := range b.bots {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
