package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrEmpty reports an input with no rows or no columns.
	ErrEmpty = errors.New("cluster: empty input")
	// ErrDimension reports rows of unequal length, or labels whose length differs from the rows.
	ErrDimension = errors.New("cluster: dimension mismatch")
	// ErrNonFinite reports a NaN or infinite value in the input.
	ErrNonFinite = errors.New("cluster: non-finite value")
	// ErrInvalidK reports a number of clusters outside 1..n (2..n for ChooseK) or an empty k range.
	ErrInvalidK = errors.New("cluster: invalid number of clusters")
	// ErrNilRand reports a nil random source where one is required.
	ErrNilRand = errors.New("cluster: nil random source")
	// ErrUndefined reports that the silhouette is undefined for every candidate k (e.g. all points equal).
	ErrUndefined = errors.New("cluster: silhouette undefined")
)

// Default values used for zero fields of Options.
const (
	// DefaultMaxIter is the default bound on Lloyd iterations per restart.
	DefaultMaxIter = 300
	// DefaultRestarts is the default number of k-means++ seedings tried.
	DefaultRestarts = 4
	// DefaultTol is the default convergence tolerance, relative to the mean per-column variance.
	DefaultTol = 1e-4
)

// chunkRows is the number of rows per unit of parallel work. It is fixed (not derived from the number of
// workers) so that the order of floating-point reductions, and hence every result, is independent of it.
const chunkRows = 2048

// Options tunes KMeans and ChooseK. The zero value selects the defaults.
type Options struct {
	// MaxIter bounds the Lloyd iterations of one restart (default DefaultMaxIter).
	MaxIter int
	// Restarts is the number of k-means++ seedings tried; the lowest-inertia result wins (default DefaultRestarts).
	Restarts int
	// Tol stops a restart when the summed squared centroid movement of an iteration is at most Tol times the
	// mean per-column variance of the data (default DefaultTol). A restart also stops when no label changes.
	Tol float64
	// Workers is the number of goroutines that seed, fit and help one another with the passes (default
	// runtime.GOMAXPROCS(0)); it never changes the result.
	Workers int
}

func (o Options) withDefaults() Options {
	if o.MaxIter <= 0 {
		o.MaxIter = DefaultMaxIter
	}
	if o.Restarts <= 0 {
		o.Restarts = DefaultRestarts
	}
	if o.Tol <= 0 || math.IsNaN(o.Tol) {
		o.Tol = DefaultTol
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Model is a fitted k-means partition. Centroids, Sizes, Inertia and Iterations are population aggregates and
// serialise to JSON so that a model can be frozen; Labels (one per training row) are per-row results and are
// deliberately excluded from JSON.
type Model struct {
	// Centroids holds the k cluster centres, each of the data's dimension.
	Centroids [][]float64 `json:"centroids"`
	// Sizes holds the number of training rows assigned to each centroid (a size can be 0 only when the data
	// has fewer than k distinct rows).
	Sizes []int `json:"sizes"`
	// Inertia is the sum of squared Euclidean distances of the training rows to their centroids.
	Inertia float64 `json:"inertia"`
	// Iterations is the number of Lloyd iterations of the winning restart.
	Iterations int `json:"iterations"`
	// Labels holds the centroid index of each training row, in input order. It is not serialised.
	Labels []int `json:"-"`
}

// K returns the number of centroids of the model.
func (m Model) K() int { return len(m.Centroids) }

// Predict returns the index of the centroid nearest to row (squared Euclidean distance, lowest index on
// ties), or -1 when the model is empty, the row's length differs from the centroids' or the row holds a
// non-finite value.
func (m Model) Predict(row []float64) int {
	if len(m.Centroids) == 0 || len(row) != len(m.Centroids[0]) {
		return -1
	}
	for _, v := range row {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return -1
		}
	}
	best, bestD := -1, math.Inf(1)
	for j, c := range m.Centroids {
		if len(c) != len(row) {
			return -1
		}
		var s float64
		for t, v := range row {
			dv := v - c[t]
			s += dv * dv
		}
		if s < bestD {
			best, bestD = j, s
		}
	}
	return best
}

// dataset is a validated, row-major copy of the input.
type dataset struct {
	v    []float64
	n, d int
}

func (ds *dataset) row(i int) []float64 { return ds.v[i*ds.d : (i+1)*ds.d : (i+1)*ds.d] }

// flatten validates x (non-empty, rectangular, finite) and copies it into one contiguous slice, in up to
// workers parts at once. An error names the first offending row.
func flatten(x [][]float64, workers int) (*dataset, error) {
	if len(x) == 0 || len(x[0]) == 0 {
		return nil, ErrEmpty
	}
	d := len(x[0])
	ds := &dataset{v: make([]float64, len(x)*d), n: len(x), d: d}
	parts := max(1, min(workers, len(x)/chunkRows))
	errs := make([]error, parts)
	part := func(p int) {
		for i := p * len(x) / parts; i < (p+1)*len(x)/parts; i++ {
			r := x[i]
			if len(r) != d {
				errs[p] = fmt.Errorf("row %d has %d columns, want %d: %w", i, len(r), d, ErrDimension)
				return
			}
			for j, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					errs[p] = fmt.Errorf("row %d column %d: %w", i, j, ErrNonFinite)
					return
				}
			}
			copy(ds.v[i*d:(i+1)*d], r)
		}
	}
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { part(p) })
	}
	part(0)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// meanVariance returns the mean over columns of the population variance of each column.
func (ds *dataset) meanVariance() float64 {
	var total float64
	for j := 0; j < ds.d; j++ {
		var s float64
		for i := 0; i < ds.n; i++ {
			s += ds.v[i*ds.d+j]
		}
		m := s / float64(ds.n)
		var ss float64
		for i := 0; i < ds.n; i++ {
			dv := ds.v[i*ds.d+j] - m
			ss += dv * dv
		}
		total += ss / float64(ds.n)
	}
	return total / float64(ds.d)
}

func numChunks(n int) int { return (n + chunkRows - 1) / chunkRows }

// forChunks calls fn for every chunk of [0, n), spread over at most workers goroutines. fn must write only to
// per-row or per-chunk state so that the outcome is independent of scheduling.
func forChunks(n, workers int, fn func(c, lo, hi int)) {
	nc := numChunks(n)
	if workers > nc {
		workers = nc
	}
	if workers <= 1 {
		for c := 0; c < nc; c++ {
			fn(c, c*chunkRows, min(n, (c+1)*chunkRows))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= nc {
					return
				}
				fn(c, c*chunkRows, min(n, (c+1)*chunkRows))
			}
		})
	}
	wg.Wait()
}

// sqDist returns the squared Euclidean distance of a and b (b at least as long as a). The squares are added in
// column order, each rounded on its own (the conversion forbids a fused multiply-add), so that sqDist3 and
// every kernel below give the same bits on every platform.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)] // bounds-check elimination
	var s float64
	for t := range a {
		dv := a[t] - b[t]
		s += float64(dv * dv)
	}
	return s
}

// sqDist3 is sqDist for three columns: the first three values of r against (c0, c1, c2).
func sqDist3(r []float64, c0, c1, c2 float64) float64 {
	r = r[:3]
	d0, d1, d2 := r[0]-c0, r[1]-c1, r[2]-c2
	return float64(d0*d0) + float64(d1*d1) + float64(d2*d2)
}

// b2i is 1 for true and 0 for false (compiled without a branch).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// KMeans partitions the rows of x into k clusters: k-means++ seeding (greedy, 2+ln k candidates per centre),
// then Lloyd iterations until no label changes, the centroid movement falls under Options.Tol, or
// Options.MaxIter; Options.Restarts seedings are tried and the lowest inertia wins (earliest on ties). The
// result is a deterministic function of x, k, the state of rng and opts (except Workers, which never matters).
func KMeans(x [][]float64, k int, rng *rand.Rand, opts Options) (Model, error) {
	opts = opts.withDefaults()
	ds, err := flatten(x, opts.Workers)
	if err != nil {
		return Model{}, err
	}
	if rng == nil {
		return Model{}, ErrNilRand
	}
	if k < 1 || k > ds.n {
		return Model{}, fmt.Errorf("k=%d with %d rows: %w", k, ds.n, ErrInvalidK)
	}
	return fit(ds, k, rng, opts, ds.stats(opts.Workers > 1)), nil
}

// dataStats is what every fit of a dataset needs besides the rows: the mean column variance, to which
// Options.Tol is relative, and the diameter, which sets the margin of the bounds. Only Lloyd needs them, so
// with several workers they are computed while the first restart is seeded.
type dataStats struct {
	done    chan struct{}
	meanVar float64
	diam    float64
}

func (ds *dataset) stats(async bool) *dataStats {
	s := &dataStats{done: make(chan struct{})}
	compute := func() {
		s.meanVar, s.diam = ds.meanVariance(), ds.diameter()
		close(s.done)
	}
	if async {
		go compute()
	} else {
		compute()
	}
	return s
}

// get waits for the statistics.
func (s *dataStats) get() (meanVar, diam float64) {
	<-s.done
	return s.meanVar, s.diam
}

// diameter returns the diagonal of the bounding box of the rows: no row or centroid (a mean of rows, or a
// row) is farther than that from another.
func (ds *dataset) diameter() float64 {
	var s float64
	for j := 0; j < ds.d; j++ {
		lo, hi := ds.v[j], ds.v[j]
		for i := j; i < len(ds.v); i += ds.d {
			lo, hi = min(lo, ds.v[i]), max(hi, ds.v[i])
		}
		s += (hi - lo) * (hi - lo)
	}
	return math.Sqrt(s)
}

// fitState holds the buffers of one k-means run, reused across restarts.
//
// The Lloyd iterations keep Hamerly's bounds for every row: an upper bound u on the distance to its centre and
// a lower bound l on the distance to every other centre. After the centres move, u grows by the movement of
// the row's centre and l shrinks by the largest movement of another centre; only rows whose bounds do not
// prove their label are looked at. The bounds are stored lazily so that this shift costs nothing per row:
// ushift[j] and lshift[j] accumulate the shifts of the rows labelled j since the last full assignment, and
// a row stores up = u - ushift[label] and dif = up - (l + lshift[label]) as of the moment its bounds were
// set; its current bounds are u = up + ushift[label] and l = up - dif - lshift[label].
type fitState struct {
	ds *dataset
	k  int
	tm *team
	// bounded is false when squared distances may overflow; then every row is reassigned by a full search.
	bounded bool
	diam    float64 // the diameter of the data (see setDiameter)

	centers []float64 // k*d
	labels  []int32
	up      []float64 // lazy upper bound (see above)
	dif     []float64 // lazy upper bound minus lazy lower bound
	closest []float64 // seeding: squared distance to the nearest chosen centre (shares dif's storage)
	// folded is the number of centres (0 to folded-1) whose distances seeding has already folded into
	// closest, labels (the nearest of them) and up (the squared distance to the second nearest), as nearest2
	// does; assignFull then needs only the other centres. 0 when those buffers hold something else.
	folded  int
	cumEnd  []float64 // seeding: running sum of closest at the end of each chunk
	half    []float64 // half the distance from each centre to its nearest other centre
	move    []float64 // distance each centre moved in the last update
	ushift  []float64 // per centre: accumulated growth of the upper bounds of its rows
	lshift  []float64 // per centre: accumulated shrinkage of the lower bounds of its rows
	hThresh []float64 // per centre: a row is in doubt only if up >= hThresh[label] ...
	wThresh []float64 // ... and dif >= wThresh[label]
	margin  float64   // slack for rounding in the bounds, added on the side of doubt

	// update's scratch
	sums   []float64
	counts []int
	old    []float64

	chunkSums   [][]float64 // per chunk, k*d
	chunkCounts [][]int     // per chunk, k
	chunkVals   [][]float64 // per chunk scratch for scalar reductions
	chunkInts   []int
	chunkIdx    [][]int32 // per chunk scratch: rows whose bounds do not prove their label
}

func newFitState(ds *dataset, k int, tm *team) *fitState {
	nc := numChunks(ds.n)
	dif := make([]float64, ds.n)
	st := &fitState{
		ds: ds, k: k, tm: tm,
		centers: make([]float64, k*ds.d),
		labels:  make([]int32, ds.n),
		up:      make([]float64, ds.n),
		dif:     dif,
		// Seeding's closest is done with when the first assignment reads it into dif, row by row.
		closest:     dif,
		half:        make([]float64, k),
		move:        make([]float64, k),
		ushift:      make([]float64, k),
		lshift:      make([]float64, k),
		hThresh:     make([]float64, k),
		wThresh:     make([]float64, k),
		sums:        make([]float64, k*ds.d),
		counts:      make([]int, k),
		old:         make([]float64, k*ds.d),
		chunkSums:   make([][]float64, nc),
		chunkCounts: make([][]int, nc),
		chunkVals:   make([][]float64, nc),
		chunkInts:   make([]int, nc),
		chunkIdx:    make([][]int32, nc),
	}
	trials := seedTrials(k)
	for c := 0; c < nc; c++ {
		st.chunkSums[c] = make([]float64, k*ds.d)
		st.chunkCounts[c] = make([]int, k)
		st.chunkVals[c] = make([]float64, trials)
		st.chunkIdx[c] = make([]int32, min(chunkRows, ds.n-c*chunkRows))
	}
	return st
}

func seedTrials(k int) int { return 2 + int(math.Log(float64(k))) }

// setDiameter sets the diameter of the data, which the bounds need.
func (st *fitState) setDiameter(diam float64) {
	st.diam, st.bounded = diam, diam*diam < math.MaxFloat64/4
}

func (st *fitState) center(j int) []float64 {
	d := st.ds.d
	return st.centers[j*d : (j+1)*d : (j+1)*d]
}

// team spreads the chunks of parallel passes over a fixed set of goroutines: each pass is run by the goroutine
// that needs it, and offered to the members that have nothing of their own to do (waiting for their turn to
// seed, or out of restarts). Which goroutine runs a chunk never changes a result (see forChunks).
type team struct {
	size   int
	offers chan *chunkJob
}

type chunkJob struct {
	fn   func(c, lo, hi int)
	n    int
	nc   int64
	next atomic.Int64
	left atomic.Int64
	done chan struct{}
}

// work runs chunks of j until none is left to start.
func (j *chunkJob) work() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.nc {
			return
		}
		lo := int(c) * chunkRows
		j.fn(int(c), lo, min(j.n, lo+chunkRows))
		if j.left.Add(-1) == 0 {
			close(j.done)
		}
	}
}

// forChunks calls fn for every chunk of [0, n), with the help of idle members of the team. fn must write only
// to per-row or per-chunk state so that the outcome is independent of scheduling.
func (tm *team) forChunks(n int, fn func(c, lo, hi int)) {
	nc := numChunks(n)
	if tm.size <= 1 || nc <= 1 {
		for c := 0; c < nc; c++ {
			fn(c, c*chunkRows, min(n, (c+1)*chunkRows))
		}
		return
	}
	j := &chunkJob{fn: fn, n: n, nc: int64(nc), done: make(chan struct{})}
	j.left.Store(int64(nc))
	for range min(tm.size-1, nc-1) {
		select {
		case tm.offers <- j:
		default: // nobody is idle: the queue holds offers of passes that may be over already
		}
	}
	j.work()
	<-j.done
}

// help runs offered passes until stop is closed, returning as soon as it is (a select with both ready
// would pick at random).
func (tm *team) help(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		select {
		case <-stop:
			return
		case j := <-tm.offers:
			j.work()
		}
	}
}

// fit runs opts.Restarts seedings and returns the best model.
//
// Each worker takes the next restart, seeds it when the restart before it has been seeded (seeding alone
// draws from rng, so each restart starts from the centres it had when restarts ran one after another), and
// runs Lloyd from there on a state of its own. A worker waiting for its turn to seed, or left without
// restarts, helps the others with the chunks of their passes, so the cores stay busy to the end.
func fit(ds *dataset, k int, rng *rand.Rand, opts Options, stats *dataStats) Model {
	tm := &team{size: opts.Workers, offers: make(chan *chunkJob, 4*opts.Workers)}
	seeded := make([]chan struct{}, opts.Restarts) // closed when restart r has been seeded
	for r := range seeded {
		seeded[r] = make(chan struct{})
	}
	// The best restart so far: the lowest inertia, the first restart on ties.
	var mu sync.Mutex
	best := struct {
		r       int
		inertia float64
		iters   int
		centers []float64
		labels  []int32
	}{r: -1, centers: make([]float64, k*ds.d), labels: make([]int32, ds.n)}
	allDone := make(chan struct{})
	var next, finished atomic.Int64
	var wg sync.WaitGroup
	for range tm.size {
		wg.Go(func() {
			var s *fitState // allocated for the first restart this worker takes
			for r := int(next.Add(1) - 1); r < opts.Restarts; r = int(next.Add(1) - 1) {
				if s == nil {
					s = newFitState(ds, k, tm)
				}
				if r > 0 {
					tm.help(seeded[r-1])
				}
				s.seed(rng)
				close(seeded[r])
				meanVar, diam := stats.get()
				s.setDiameter(diam)
				iters := s.lloyd(opts.MaxIter, opts.Tol*meanVar)
				inertia := s.inertia()
				mu.Lock()
				if best.r < 0 || inertia < best.inertia || inertia == best.inertia && r < best.r {
					best.r, best.inertia, best.iters = r, inertia, iters
					copy(best.centers, s.centers)
					copy(best.labels, s.labels)
				}
				mu.Unlock()
				if finished.Add(1) == int64(opts.Restarts) {
					close(allDone)
				}
			}
			tm.help(allDone)
		})
	}
	wg.Wait()
	m := Model{Inertia: best.inertia, Iterations: best.iters, Centroids: make([][]float64, k), Labels: make([]int, ds.n), Sizes: make([]int, k)}
	for j := range m.Centroids {
		m.Centroids[j] = slices.Clone(best.centers[j*ds.d : (j+1)*ds.d])
	}
	for i, l := range best.labels {
		m.Labels[i] = int(l)
		m.Sizes[l]++
	}
	return m
}

// seed chooses k initial centres by greedy k-means++: each centre after the first is the best (lowest
// potential) of 2+ln k rows drawn with probability proportional to their squared distance to the nearest
// centre chosen so far.
func (st *fitState) seed(rng *rand.Rand) {
	ds, k, d, n := st.ds, st.k, st.ds.d, st.ds.n
	if len(st.cumEnd) != numChunks(n) {
		st.cumEnd = make([]float64, numChunks(n))
	}
	first := rng.IntN(n)
	copy(st.center(0), ds.row(first))
	c0 := st.center(0)
	st.tm.forChunks(n, func(_, lo, hi int) {
		closest, rows := st.closest[lo:hi], ds.v[lo*d:hi*d]
		clear(st.labels[lo:hi])
		second := st.up[lo:hi]
		for i := range second {
			second[i] = math.Inf(1)
		}
		if d == 3 {
			rows = rows[:3*len(closest)]
			x, y, z := c0[0], c0[1], c0[2]
			for i := range closest {
				closest[i] = sqDist3(rows[3*i:], x, y, z)
			}
			return
		}
		for i := range closest {
			closest[i] = sqDist(rows[i*d:(i+1)*d], c0)
		}
	})
	st.folded = 1
	trials := seedTrials(k)
	cands := make([]int, trials)
	candRows := make([]float64, trials*d)
	var prev []float64 // the centre chosen last, not yet folded into closest
	for j := 1; j < k; j++ {
		s := st.cumulate(prev, j-1)
		for t := range cands {
			if s <= 0 {
				cands[t] = rng.IntN(n)
				continue
			}
			cands[t] = st.firstAbove(rng.Float64() * s)
		}
		// Potential of each candidate: sum over rows of min(closest, distance to candidate), in row order
		// within a chunk and then over chunks in order.
		for t, ci := range cands {
			copy(candRows[t*d:(t+1)*d], ds.row(ci))
		}
		st.tm.forChunks(n, func(c, lo, hi int) {
			potentials(st.chunkVals[c][:len(cands)], ds.v[lo*d:hi*d], st.closest[lo:hi], candRows)
		})
		bestT, bestPot := 0, math.Inf(1)
		for t := range cands {
			var p float64
			for c := range st.chunkVals {
				p += st.chunkVals[c][t]
			}
			if p < bestPot {
				bestT, bestPot = t, p
			}
		}
		copy(st.center(j), ds.row(cands[bestT]))
		prev = st.center(j)
	}
}

// cumulate folds centre j (c; nil: none) into closest, labels and up as nearest2 would, records the running
// sum of closest at the end of every chunk and returns the total.
func (st *fitState) cumulate(c []float64, j int) float64 {
	var s float64
	d := st.ds.d
	for ch := range st.cumEnd {
		lo := ch * chunkRows
		closest := st.closest[lo:min(len(st.closest), lo+chunkRows)]
		labels, second := st.labels[lo:lo+len(closest)], st.up[lo:lo+len(closest)]
		rows := st.ds.v[lo*d : (lo+len(closest))*d]
		switch {
		case c == nil:
			for _, v := range closest {
				s += v
			}
		case d == 3:
			x, y, z := c[0], c[1], c[2]
			for i, v := range closest {
				dj := sqDist3(rows[3*i:], x, y, z)
				second[i] = min(second[i], max(v, dj))
				labels[i] += (int32(j) - labels[i]) & -int32(b2i(dj < v))
				v = min(v, dj)
				closest[i] = v
				s += v
			}
		default:
			for i, v := range closest {
				dj := sqDist(rows[i*d:(i+1)*d], c)
				second[i] = min(second[i], max(v, dj))
				labels[i] += (int32(j) - labels[i]) & -int32(b2i(dj < v))
				v = min(v, dj)
				closest[i] = v
				s += v
			}
		}
		st.cumEnd[ch] = s
	}
	if c != nil {
		st.folded = j + 1
	}
	return s
}

// firstAbove returns the first row at which the running sum of closest (in row order, as cumulate adds)
// exceeds r, or the last row if it never does: the chunk from cumEnd, then the row by adding again from the
// chunk's start, with the same additions.
func (st *fitState) firstAbove(r float64) int {
	n := len(st.closest)
	ch := sort.Search(len(st.cumEnd), func(ch int) bool { return st.cumEnd[ch] > r })
	if ch == len(st.cumEnd) {
		return n - 1
	}
	var s float64
	if ch > 0 {
		s = st.cumEnd[ch-1]
	}
	lo := ch * chunkRows
	for i, v := range st.closest[lo:min(n, lo+chunkRows)] {
		s += v
		if s > r {
			return lo + i
		}
	}
	return min(n, lo+chunkRows) - 1 // not reached: the chunk ends above r
}

// potentials sets vals[t] to the sum, in row order, of min(closest[i], squared distance of row i to candidate
// t), the candidates' rows one after another in cands; three candidates at a time for three columns.
func potentials(vals, rows, closest, cands []float64) {
	d := len(cands) / len(vals)
	t := 0
	if d == 3 {
		rows = rows[:3*len(closest)]
		for ; t+3 <= len(vals); t += 3 {
			c := cands[3*t : 3*t+9 : 3*t+9]
			var s0, s1, s2 float64
			for i, cl := range closest {
				r := rows[3*i : 3*i+3 : 3*i+3]
				cb := math.Float64bits(cl)
				s0 += math.Float64frombits(min(cb, math.Float64bits(sqDist3(r, c[0], c[1], c[2]))))
				s1 += math.Float64frombits(min(cb, math.Float64bits(sqDist3(r, c[3], c[4], c[5]))))
				s2 += math.Float64frombits(min(cb, math.Float64bits(sqDist3(r, c[6], c[7], c[8]))))
			}
			vals[t], vals[t+1], vals[t+2] = s0, s1, s2
		}
	}
	for ; t < len(vals); t++ {
		vals[t] = potential(rows, closest, cands[t*d:(t+1)*d])
	}
}

// potential returns the sum, in row order, of min(closest[i], squared distance of row i to c).
func potential(rows, closest, c []float64) float64 {
	var s float64
	if len(c) == 3 {
		rows = rows[:3*len(closest)]
		x, y, z := c[0], c[1], c[2]
		for i, cl := range closest {
			s += min(cl, sqDist3(rows[3*i:], x, y, z))
		}
		return s
	}
	d := len(c)
	for i, cl := range closest {
		s += min(cl, sqDist(rows[i*d:(i+1)*d], c))
	}
	return s
}

// lloyd runs Lloyd iterations with Hamerly's bounds from the current centres and returns the number of
// iterations. On return the labels are the nearest centres of the final centroids.
func (st *fitState) lloyd(maxIter int, tolAbs float64) int {
	st.assignFull()
	iter := 0
	for {
		iter++
		shift := st.update()
		st.computeHalf()
		st.shiftBounds(iter)
		changed := st.assignBounded()
		if changed == 0 || shift <= tolAbs || iter >= maxIter {
			return iter
		}
	}
}

// Squared distances are never NaN or -0 (an overflow gives +Inf), so their bit patterns order as their values
// do: below, integer min and max of math.Float64bits (conditional moves) stand for the float builtins, which
// cost several instructions each to handle NaN and signed zeros.
var infBits = math.Float64bits(math.Inf(1))

// nearest2 returns the index of the centre nearest to r (lowest index on ties) with the squared distances to
// the nearest and the second-nearest centre.
func nearest2(r, centers []float64, k, d int) (b1 int, d1, d2 float64) {
	// Branch-free form of: if dj < d1 { d2, d1, b1 = d1, dj, j } else if dj < d2 { d2 = dj }, which it
	// equals for the non-negative distances here.
	n1, n2 := infBits, infBits
	if d == 3 {
		r = r[:3]
		x, y, z := r[0], r[1], r[2]
		centers = centers[:3*k]
		for j := 0; j < k; j++ {
			dj := math.Float64bits(sqDist3(centers[3*j:], x, y, z)) // (c-r)² = (r-c)² bit for bit
			n2 = min(n2, max(n1, dj))
			if dj < n1 {
				b1 = j
			}
			n1 = min(n1, dj)
		}
		return b1, math.Float64frombits(n1), math.Float64frombits(n2)
	}
	for j := 0; j < k; j++ {
		dj := math.Float64bits(sqDist(r, centers[j*d:(j+1)*d]))
		n2 = min(n2, max(n1, dj))
		if dj < n1 {
			b1 = j
		}
		n1 = min(n1, dj)
	}
	return b1, math.Float64frombits(n1), math.Float64frombits(n2)
}

// dist returns the squared distance of row i of rows to centre a.
func dist(rows, centers []float64, i, a, d int) float64 {
	if d == 3 {
		c := centers[3*a : 3*a+3 : 3*a+3]
		return sqDist3(rows[3*i:], c[0], c[1], c[2])
	}
	return sqDist(rows[i*d:(i+1)*d], centers[a*d:(a+1)*d])
}

// assignFull assigns every row to its nearest centre with exact bounds and accumulates the chunk sums. After
// seeding, only the centres seeding has not folded in are searched.
func (st *fitState) assignFull() {
	ds, k, d := st.ds, st.k, st.ds.d
	centers, folded := st.centers, st.folded
	st.folded = 0
	clear(st.ushift)
	clear(st.lshift)
	st.tm.forChunks(ds.n, func(c, lo, hi int) {
		labels, up, dif := st.labels[lo:hi], st.up[lo:hi], st.dif[lo:hi]
		up, dif = up[:len(labels)], dif[:len(labels)]
		rows := ds.v[lo*d : hi*d]
		if folded > 0 {
			closest := st.closest[lo:hi]
			closest = closest[:len(labels)]
			for i := range labels {
				b1, n1, n2 := int(labels[i]), math.Float64bits(closest[i]), math.Float64bits(up[i])
				for j := folded; j < k; j++ {
					dj := math.Float64bits(dist(rows, centers, i, j, d))
					n2 = min(n2, max(n1, dj))
					if dj < n1 {
						b1 = j
					}
					n1 = min(n1, dj)
				}
				labels[i] = int32(b1)
				u := math.Sqrt(math.Float64frombits(n1))
				up[i] = u
				dif[i] = u - math.Sqrt(math.Float64frombits(n2))
			}
		} else {
			for i := range labels {
				b1, d1, d2 := nearest2(rows[i*d:(i+1)*d], centers, k, d)
				labels[i] = int32(b1)
				u := math.Sqrt(d1)
				up[i] = u
				dif[i] = u - math.Sqrt(d2)
			}
		}
		st.accumulate(c, labels, rows)
	})
}

// computeHalf sets half[j] to half the distance from centre j to its nearest other centre.
func (st *fitState) computeHalf() {
	for j := 0; j < st.k; j++ {
		m := math.Inf(1)
		for l := 0; l < st.k; l++ {
			if l != j {
				m = min(m, sqDist(st.center(j), st.center(l)))
			}
		}
		st.half[j] = 0.5 * math.Sqrt(m)
	}
}

// shiftBounds accounts for the last centroid update in the lazy bounds: the upper bound of a row grows by the
// movement of its centre, its lower bound shrinks by the largest movement of another centre. It also sets the
// margin for rounding of iteration iter: the bounds are sums of up to iter rounded terms no larger than
// the diameter of the data, so their error is far below diam·2⁻⁴⁴·(iter+1)²; a row whose label the bounds
// prove by less than that is looked at as if they did not.
func (st *fitState) shiftBounds(iter int) {
	max1, max2, arg1 := 0.0, 0.0, -1
	for j, m := range st.move {
		if m > max1 {
			max2 = max1
			max1, arg1 = m, j
		} else if m > max2 {
			max2 = m
		}
	}
	t := float64(iter) + 1
	st.margin = st.diam * 0x1p-44 * t * t
	for j := range st.move {
		sh := max1
		if j == arg1 {
			sh = max2
		}
		st.ushift[j] += st.move[j]
		st.lshift[j] += sh
		// Doubt: up + ushift + margin >= half and up + ushift + margin >= up - dif - lshift.
		st.hThresh[j] = st.half[j] - st.ushift[j] - st.margin
		st.wThresh[j] = -(st.ushift[j] + st.lshift[j] + st.margin)
	}
}

// assignBounded reassigns the rows whose bounds do not prove their label, accumulates the chunk sums and
// returns the number of rows whose label changed. Each chunk is processed in passes so that the common case
// (the bounds prove the label) runs without unpredictable branches: collect the rows whose bounds are in
// doubt; tighten their upper bounds and keep the rows still in doubt; search all centres for those; then
// accumulate the sums in row order (unless no label of the chunk changed: then its sums are those of the
// last assignment already).
func (st *fitState) assignBounded() int {
	ds, k, d := st.ds, st.k, st.ds.d
	centers, half, ushift, lshift := st.centers, st.half[:k], st.ushift[:k], st.lshift[:k]
	hThresh, wThresh, margin := st.hThresh[:k], st.wThresh[:k], st.margin
	st.tm.forChunks(ds.n, func(c, lo, hi int) {
		labels, up, dif := st.labels[lo:hi], st.up[lo:hi], st.dif[lo:hi]
		up, dif = up[:len(labels)], dif[:len(labels)]
		rows := ds.v[lo*d : hi*d]
		doubt := st.chunkIdx[c][:len(labels)]
		nd := 0
		if st.bounded {
			for i, a := range labels {
				doubt[nd] = int32(i)
				nd += b2i(up[i] >= hThresh[a]) & b2i(dif[i] >= wThresh[a])
			}
			// Tighten the upper bound of the rows in doubt; keep those still in doubt.
			nd2 := 0
			for _, i := range doubt[:nd] {
				a := labels[i]
				u := math.Sqrt(dist(rows, centers, int(i), int(a), d))
				lazyLo := up[i] - dif[i]
				nu := u - ushift[a]
				up[i], dif[i] = nu, nu-lazyLo
				doubt[nd2] = i
				nd2 += b2i(u+margin >= max(half[a], lazyLo-lshift[a]))
			}
			nd = nd2
		} else {
			for i := range doubt {
				doubt[i] = int32(i)
			}
			nd = len(doubt)
		}
		changed := 0
		for _, i := range doubt[:nd] {
			b1, d1, d2 := nearest2(rows[int(i)*d:(int(i)+1)*d], centers, k, d)
			changed += b2i(int32(b1) != labels[i])
			labels[i] = int32(b1)
			nu := math.Sqrt(d1) - ushift[b1]
			up[i], dif[i] = nu, nu-(math.Sqrt(d2)+lshift[b1])
		}
		st.chunkInts[c] = changed
		if changed > 0 {
			st.accumulate(c, labels, rows)
		}
	})
	total := 0
	for _, v := range st.chunkInts {
		total += v
	}
	return total
}

// accumulate sets the sums and counts of chunk c from its rows and labels, adding rows in order.
func (st *fitState) accumulate(c int, labels []int32, rows []float64) {
	d := st.ds.d
	sums, counts := st.chunkSums[c], st.chunkCounts[c]
	clear(sums)
	clear(counts)
	rows = rows[:len(labels)*d]
	if d == 3 {
		for i, a := range labels {
			r := rows[3*i : 3*i+3 : 3*i+3]
			s := sums[3*a : 3*a+3 : 3*a+3]
			s[0] += r[0]
			s[1] += r[1]
			s[2] += r[2]
			counts[a]++
		}
		return
	}
	for i, a := range labels {
		r := rows[i*d : (i+1)*d : (i+1)*d]
		counts[a]++
		s := sums[int(a)*d : (int(a)+1)*d]
		s = s[:len(r)]
		for t, v := range r {
			s[t] += v
		}
	}
}

// update moves every centre to the mean of its rows (relocating empty clusters to the rows farthest from
// their centres), records the movements and returns the summed squared movement.
func (st *fitState) update() float64 {
	k, d := st.k, st.ds.d
	sums, counts := st.sums, st.counts
	clear(sums)
	clear(counts)
	for c := range st.chunkSums {
		for t, v := range st.chunkSums[c] {
			sums[t] += v
		}
		for j, v := range st.chunkCounts[c] {
			counts[j] += v
		}
	}
	old := st.old
	copy(old, st.centers)
	var empty []int
	for j := 0; j < k; j++ {
		if counts[j] == 0 {
			empty = append(empty, j)
			continue
		}
		inv := 1 / float64(counts[j])
		for t := 0; t < d; t++ {
			st.centers[j*d+t] = sums[j*d+t] * inv
		}
	}
	if len(empty) > 0 {
		st.relocate(empty, old)
	}
	var shift float64
	for j := 0; j < k; j++ {
		s := sqDist(old[j*d:(j+1)*d], st.center(j))
		shift += s
		st.move[j] = math.Sqrt(s)
	}
	return shift
}

// relocate places each empty cluster's centre on a distinct row farthest from its current (old) centre.
func (st *fitState) relocate(empty []int, old []float64) {
	ds, d := st.ds, st.ds.d
	dist := make([]float64, ds.n) // rare: only when a cluster is empty
	st.tm.forChunks(ds.n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			a := int(st.labels[i])
			dist[i] = sqDist(ds.row(i), old[a*d:(a+1)*d])
		}
	})
	for _, j := range empty {
		far, farD := 0, -1.0
		for i, v := range dist {
			if v > farD {
				far, farD = i, v
			}
		}
		dist[far] = -2 // not chosen again
		copy(st.center(j), ds.row(far))
	}
}

// inertia returns the exact sum of squared distances of the rows to their assigned centres.
func (st *fitState) inertia() float64 {
	ds, d := st.ds, st.ds.d
	nc := numChunks(ds.n)
	part := make([]float64, nc)
	st.tm.forChunks(ds.n, func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			a := int(st.labels[i])
			s += sqDist(ds.row(i), st.centers[a*d:(a+1)*d])
		}
		part[c] = s
	})
	var total float64
	for _, v := range part {
		total += v
	}
	return total
}
