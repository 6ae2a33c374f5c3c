package ingest

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// parallelChunkRows is how many NDJSON lines one unit of parallel parsing holds.
const parallelChunkRows = 512

// parallelChunk is a run of consecutive NDJSON lines: rows already decided by the line reader (too long, bad
// encoding, an I/O error) and lines left to parse, in file order.
type parallelChunk struct {
	rows  []Row
	lines [][]byte // lines[i] != nil: rows[i] is parsed from it (and its number, in nums[i])
	nums  []int
	buf   []byte // backing array of lines
	end   bool   // the input ends after this chunk
	bytes int64  // input consumed up to the end of the chunk
	line  int    // physical lines consumed up to the end of the chunk
	done  chan struct{}
}

// parallel is the state of a Reader that parses NDJSON lines on several goroutines.
type parallel struct {
	order chan *parallelChunk // chunks in file order, to the consumer
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	free  chan *parallelChunk // chunks handed out and done with, for reuse
	cur   *parallelChunk
	pos   int
	bytes int64 // input consumed, as of the chunk being handed out
	line  int   // physical lines consumed, likewise
}

// Parallel makes Next parse NDJSON lines on workers goroutines (at most; 1 or less keeps parsing on the
// caller's) while returning the rows in file order, exactly as without it. Reading the file stays
// sequential. It must be called before the first Next and has no effect on CSV; Close ends the goroutines
// when the caller stops before the end of the input. SkipLines filters still apply (on the reading
// goroutine).
func (r *Reader) Parallel(workers int) {
	if workers <= 1 || r.format != FormatNDJSON || r.setup != nil || r.par != nil || r.done {
		return
	}
	p := &parallel{order: make(chan *parallelChunk, 2*workers), stop: make(chan struct{}), free: make(chan *parallelChunk, 4*workers+2)}
	work := make(chan *parallelChunk, 2*workers)
	r.par = p
	p.wg.Add(1 + workers)
	go func() {
		defer p.wg.Done()
		defer close(work)
		defer close(p.order)
		for {
			c := r.readChunk(p)
			select {
			case work <- c:
			case <-p.stop:
				return
			}
			select {
			case p.order <- c:
			case <-p.stop:
				return
			}
			if c.end {
				return
			}
		}
	}()
	for range workers {
		go func() {
			defer p.wg.Done()
			for c := range work {
				for i, line := range c.lines {
					if line != nil {
						c.rows[i] = r.ndjsonRow(line, c.nums[i])
					}
				}
				close(c.done)
			}
		}()
	}
}

// readChunk reads up to parallelChunkRows records' lines (on the reading goroutine).
func (r *Reader) readChunk(p *parallel) *parallelChunk {
	var c *parallelChunk
	select {
	case c = <-p.free:
	default:
		c = &parallelChunk{}
	}
	c.rows, c.lines, c.nums, c.buf = c.rows[:0], c.lines[:0], c.nums[:0], c.buf[:0]
	c.end, c.done = false, make(chan struct{})
	var spans [][2]int // lines' offsets in buf, turned into slices once buf stops growing
	for len(c.rows) < parallelChunkRows {
		line, tooLong, err := r.readLine()
		if errors.Is(err, io.EOF) {
			c.end = true
			break
		}
		if err != nil {
			c.rows = append(c.rows, Row{Line: r.line + 1, Kind: r.kind, Err: fmt.Errorf("%w: %w", ErrRead, err)})
			spans = append(spans, [2]int{-1, -1})
			c.nums = append(c.nums, 0)
			c.end = true
			break
		}
		n := r.line
		var decided *Row
		switch {
		case tooLong:
			row := r.reject(n, ReasonLineTooLong)
			decided = &row
		case isBlank(line):
			continue
		case r.skip != nil && r.skip(line):
			continue
		case !utf8.Valid(line):
			row := r.reject(n, ReasonBadEncoding)
			decided = &row
		}
		if decided != nil {
			c.rows = append(c.rows, *decided)
			spans = append(spans, [2]int{-1, -1})
		} else {
			c.rows = append(c.rows, Row{})
			spans = append(spans, [2]int{len(c.buf), len(c.buf) + len(line)})
			c.buf = append(c.buf, line...)
		}
		c.nums = append(c.nums, n)
	}
	for _, s := range spans {
		if s[0] < 0 {
			c.lines = append(c.lines, nil)
		} else {
			c.lines = append(c.lines, c.buf[s[0]:s[1]:s[1]])
		}
	}
	c.bytes, c.line = r.bytes, r.line
	return c
}

// nextParallel is Next for a Reader with Parallel on.
func (r *Reader) nextParallel() (Row, bool) {
	p := r.par
	for p.cur == nil || p.pos >= len(p.cur.rows) {
		if p.cur != nil {
			end := p.cur.end
			clear(p.cur.rows) // the rows were handed out; keep no references to them
			select {
			case p.free <- p.cur:
			default:
			}
			p.cur = nil
			if end {
				r.done = true
				return Row{}, false
			}
		}
		c, ok := <-p.order
		if !ok {
			r.done = true
			return Row{}, false
		}
		<-c.done
		p.cur, p.pos = c, 0
		p.bytes, p.line = c.bytes, c.line
	}
	row := p.cur.rows[p.pos]
	p.pos++
	return row, true
}

// Close stops the goroutines of a Reader with Parallel on (a no-op otherwise); the Reader is done after it.
func (r *Reader) Close() {
	p := r.par
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		// Let a reading goroutine blocked on a full queue see stop, and the workers drain.
		go func() {
			for range p.order {
			}
		}()
		p.wg.Wait()
	})
	r.done = true
}
