package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/bench/internal/vaultproc"
)

// kind is a kind of request the load makes.
type kind int

const (
	kindRead     kind = iota // GET /v1/subjects/{id} as customer service
	kindCreate               // POST /v1/subjects as data steward
	kindEvents               // POST /v1/events as data steward
	kindConsent              // PUT /v1/me/consents/{purpose} as the subject
	kindExport               // GET /v1/me/export as the subject
	kindReadBack             // the final read-back
	numKinds
)

var kindNames = [numKinds]string{"staff read", "subject create", "event post", "consent change", "export", "read-back (end)"}

// phase is the part of the run a request completed in.
type phase int32

const (
	phaseBefore  phase = iota // before the kill
	phaseRestart              // from the kill until /readyz answers again
	phaseAfter                // after the restart
	numPhases
)

var phaseNames = [numPhases]string{"before kill", "kill → ready", "after restart"}

// tally counts the outcomes of one kind of request in one phase.
type tally struct {
	requests, ok, transport int64
	status                  map[int]int64 // non-2xx statuses
}

// ack is one acknowledged (2xx) response: the vault's request id and its audit entry's sequence number.
type ack struct {
	reqID string
	seq   int64 // 0 when the response carried no X-Audit-Seq
	kind  kind
}

// recorder keeps every tally and every acknowledgement.
type recorder struct {
	mu     sync.Mutex
	tally  [numPhases][numKinds]tally
	acks   []ack
	phase  atomic.Int32
	noSeq  int64 // 2xx without X-Audit-Seq
	badSeq int64 // 2xx with an unreadable X-Audit-Seq
}

func (r *recorder) snapshot() []ack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ack(nil), r.acks...)
}

// createdSubject is an acknowledged POST /v1/subjects and the fields it sent.
type createdSubject struct {
	id     string
	fields map[string]string
}

// sentEvent is an acknowledged event (accepted, not rejected) of a POST /v1/events.
type sentEvent struct {
	id, subject string
	amount      float64
}

// consentSubject is a subject created at setup whose own token changes its consents. Each belongs to one
// consent goroutine, so its changes are sequential.
type consentSubject struct {
	id, token string
	last      map[string]string // purpose → "grant" or "withdraw": the last acknowledged change
	uncertain map[string]bool   // a change after the last acknowledged one got no answer: it may have happened
}

// consentAck is an acknowledged consent change and the record it names.
type consentAck struct {
	subject, purpose string
	grant            bool
	recordID         string // "" for a withdrawal that found nothing to withdraw
}

// exportSubject is a subject with its own token, for exports.
type exportSubject struct{ id, token string }

type load struct {
	cfg      config
	bin      string
	dataDir  string
	base     string
	client   *http.Client
	rec      recorder
	started  time.Time
	runID    string
	steward  string // DATA_STEWARD_TOKEN
	agent    string // CUSTOMER_SERVICE_TOKEN
	demoIDs  []string
	eventSeq atomic.Int64

	mu              sync.Mutex
	created         []createdSubject
	events          []sentEvent
	consents        []consentAck
	rejectedEvents  map[string]int64 // rejection code → count
	duplicateEvents int64
	writeUnparsed   int64 // 2xx writes whose body could not be read (the id is unknown)
	exportsOK       int64
	exportsCut      int64 // 2xx whose body broke off (the kill)
	exportsBroken   int64 // a complete body that is not the subject's export

	consentSubjects []*consentSubject
	exportSubjects  []exportSubject
}

var consentPurposes = []string{"marketing", "personalization"}

func newLoad(cfg config, bin, dataDir string, srv *vaultproc.Server, idsFile string) (*load, error) {
	toks, err := srv.Tokens()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(idsFile)
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(string(raw))
	if len(ids) == 0 || toks["DATA_STEWARD_TOKEN"] == "" || toks["CUSTOMER_SERVICE_TOKEN"] == "" {
		return nil, fmt.Errorf("the demo gave %d subject ids and tokens for %d roles", len(ids), len(toks))
	}
	return &load{cfg: cfg, bin: bin, dataDir: dataDir, base: srv.Base(),
		client:  &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		started: time.Now(), runID: strconv.FormatInt(time.Now().UnixNano(), 36),
		steward: toks["DATA_STEWARD_TOKEN"], agent: toks["CUSTOMER_SERVICE_TOKEN"], demoIDs: ids,
		rejectedEvents: map[string]int64{}}, nil
}

func (l *load) setPhase(p phase) { l.rec.phase.Store(int32(p)) }

func (l *load) elapsed() string {
	return fmt.Sprintf("[%6s]", time.Since(l.started).Round(time.Second))
}

// response is what call returns: the status, headers and body, or the transport error.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // transport error (no status), or the body broke off (status set)
}

// call makes one request, tallies it and records a 2xx as acknowledged.
func (l *load) call(ctx context.Context, k kind, method, path, token, purpose string, body any) response {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if purpose != "" {
		req.Header.Set("X-Purpose", purpose)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	var out response
	if err != nil {
		out.err = err
	} else {
		out.status, out.header = resp.StatusCode, resp.Header
		out.body, out.err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil && out.status == 0 {
		return out // the load was stopped: not the server's doing
	}
	p := phase(l.rec.phase.Load())
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	t := &l.rec.tally[p][k]
	t.requests++
	switch {
	case out.status == 0:
		t.transport++
	case out.status/100 == 2:
		t.ok++
		a := ack{reqID: out.header.Get("X-Vault-Request-Id"), kind: k}
		if s := out.header.Get("X-Audit-Seq"); s == "" {
			l.rec.noSeq++
		} else if a.seq, err = strconv.ParseInt(s, 10, 64); err != nil {
			l.rec.badSeq++
		}
		l.rec.acks = append(l.rec.acks, a)
	default:
		if t.status == nil {
			t.status = map[int]int64{}
		}
		t.status[out.status]++
	}
	return out
}

// setup creates the consent subjects (acknowledged writes like any other) and mints subject tokens for them
// and for a few demo subjects, whose longer histories make bigger exports.
func (l *load) setup(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < l.cfg.consentSubjects; i++ {
		id, ok := l.createSubject(ctx, rng)
		if !ok {
			return fmt.Errorf("setup: creating a subject failed")
		}
		tok, err := vaultproc.Token(l.bin, l.dataDir, "subject", id, 12*time.Hour)
		if err != nil {
			return err
		}
		l.consentSubjects = append(l.consentSubjects, &consentSubject{id: id, token: tok, last: map[string]string{}, uncertain: map[string]bool{}})
		l.exportSubjects = append(l.exportSubjects, exportSubject{id, tok})
	}
	for _, id := range l.demoIDs[:min(8, len(l.demoIDs))] {
		tok, err := vaultproc.Token(l.bin, l.dataDir, "subject", id, 12*time.Hour)
		if err != nil {
			return err
		}
		l.exportSubjects = append(l.exportSubjects, exportSubject{id, tok})
	}
	return nil
}

// start launches every load goroutine; they stop when ctx is cancelled.
func (l *load) start(ctx context.Context, wg *sync.WaitGroup) {
	spawn := func(n int, work func(ctx context.Context, w int, rng *rand.Rand) bool) {
		for w := 0; w < n; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for ctx.Err() == nil {
					if !work(ctx, w, rng) {
						sleep(ctx, 50*time.Millisecond) // the server is away: do not spin
					}
				}
			}()
		}
	}
	spawn(l.cfg.readers, l.staffRead)
	spawn(l.cfg.writers, l.write)
	spawn(l.cfg.consenters, l.changeConsent)
	spawn(l.cfg.exporters, l.export)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// staffRead reads a random subject as customer service for customer service.
func (l *load) staffRead(ctx context.Context, _ int, rng *rand.Rand) bool {
	id := l.demoIDs[rng.IntN(len(l.demoIDs))]
	if rng.IntN(4) == 0 {
		l.mu.Lock()
		if len(l.created) > 0 {
			id = l.created[rng.IntN(len(l.created))].id
		}
		l.mu.Unlock()
	}
	r := l.call(ctx, kindRead, "GET", "/v1/subjects/"+id, l.agent, "customer_service", nil)
	return r.status != 0
}

// write creates a subject (one time in three) or posts one to three order events for a created subject.
func (l *load) write(ctx context.Context, _ int, rng *rand.Rand) bool {
	defer sleep(ctx, l.cfg.writePause)
	l.mu.Lock()
	n := len(l.created)
	var subject string
	if n > 0 {
		subject = l.created[rng.IntN(n)].id
	}
	l.mu.Unlock()
	if n == 0 || rng.IntN(3) == 0 {
		_, ok := l.createSubject(ctx, rng)
		return ok
	}
	return l.postEvents(ctx, rng, subject)
}

var cities = []string{"杭州", "武汉", "成都", "南京", "西安", "长沙"}

// createSubject creates an adult subject with synthetic values and records it when acknowledged.
func (l *load) createSubject(ctx context.Context, rng *rand.Rand) (string, bool) {
	n := l.eventSeq.Add(1)
	fields := map[string]string{
		"name":       "Soak Person " + strconv.FormatInt(n, 10),
		"phone":      fmt.Sprintf("+86139%08d", rng.IntN(100_000_000)),
		"email":      fmt.Sprintf("soak-%s-%d@example.cn", l.runID, n),
		"birth_date": time.Date(1960+rng.IntN(40), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02"),
		"gender":     []string{"female", "male"}[rng.IntN(2)],
		"city":       cities[rng.IntN(len(cities))],
	}
	r := l.call(ctx, kindCreate, "POST", "/v1/subjects", l.steward, "account_management", map[string]any{"fields": fields})
	if r.status/100 != 2 {
		return "", r.status != 0
	}
	var out struct {
		ID string `json:"id"`
	}
	if r.err != nil || json.Unmarshal(r.body, &out) != nil || out.ID == "" {
		l.mu.Lock()
		l.writeUnparsed++
		l.mu.Unlock()
		return "", true
	}
	l.mu.Lock()
	l.created = append(l.created, createdSubject{out.ID, fields})
	l.mu.Unlock()
	return out.ID, true
}

// postEvents posts one to three orders for subject and records the accepted ones.
func (l *load) postEvents(ctx context.Context, rng *rand.Rand, subject string) bool {
	var batch []sentEvent
	var events []map[string]any
	for i := 0; i <= rng.IntN(3); i++ {
		e := sentEvent{id: fmt.Sprintf("soak-%s-%d", l.runID, l.eventSeq.Add(1)), subject: subject,
			amount: float64(100+rng.IntN(100_000)) / 100}
		batch = append(batch, e)
		events = append(events, map[string]any{
			"event_id": e.id, "subject_id": subject, "type": "order", "source": "app",
			"ts": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
			"attrs": map[string]any{"order_id": "o-" + e.id, "amount": e.amount, "currency": "CNY",
				"items": []map[string]any{{"sku": "soak-sku", "category": "tea", "brand": "soak", "qty": 1, "price": e.amount}}},
		})
	}
	r := l.call(ctx, kindEvents, "POST", "/v1/events", l.steward, "order_fulfillment", map[string]any{"events": events})
	if r.status/100 != 2 {
		return r.status != 0
	}
	var out struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
		Rejected   []struct {
			Index int    `json:"index"`
			Error string `json:"error"`
		} `json:"rejected"`
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.err != nil || json.Unmarshal(r.body, &out) != nil {
		l.writeUnparsed++
		return true
	}
	rejected := map[int]bool{}
	for _, rj := range out.Rejected {
		rejected[rj.Index] = true
		l.rejectedEvents[rj.Error]++
	}
	l.duplicateEvents += int64(out.Duplicates)
	for i, e := range batch {
		if !rejected[i] {
			l.events = append(l.events, e)
		}
	}
	return true
}

// changeConsent grants or withdraws one of a subject's consents with the subject's own token. Goroutine w
// owns the consent subjects i with i % consenters == w.
func (l *load) changeConsent(ctx context.Context, w int, rng *rand.Rand) bool {
	defer sleep(ctx, l.cfg.consentPause)
	var mine []*consentSubject
	for i, s := range l.consentSubjects {
		if i%l.cfg.consenters == w {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		sleep(ctx, time.Second)
		return true
	}
	s := mine[rng.IntN(len(mine))]
	purpose := consentPurposes[rng.IntN(len(consentPurposes))]
	grant := s.last[purpose] != "grant"
	if s.uncertain[purpose] {
		grant = rng.IntN(2) == 0
	}
	r := l.call(ctx, kindConsent, "PUT", "/v1/me/consents/"+purpose, s.token, "", map[string]any{"granted": grant})
	switch {
	case r.status == 0 || r.status >= 500:
		s.uncertain[purpose] = true // it may or may not have happened
		return r.status != 0
	case r.status/100 != 2:
		return true // refused: nothing changed
	}
	var out struct {
		Record *struct {
			ID string `json:"id"`
		} `json:"record"`
	}
	if r.err != nil || json.Unmarshal(r.body, &out) != nil {
		s.uncertain[purpose] = true
		l.mu.Lock()
		l.writeUnparsed++
		l.mu.Unlock()
		return true
	}
	a := consentAck{subject: s.id, purpose: purpose, grant: grant}
	if out.Record != nil {
		a.recordID = out.Record.ID
	}
	s.last[purpose] = map[bool]string{true: "grant", false: "withdraw"}[grant]
	s.uncertain[purpose] = false
	l.mu.Lock()
	l.consents = append(l.consents, a)
	l.mu.Unlock()
	return true
}

// export downloads a subject's complete export and checks that it is whole and theirs.
func (l *load) export(ctx context.Context, _ int, rng *rand.Rand) bool {
	s := l.exportSubjects[rng.IntN(len(l.exportSubjects))]
	r := l.call(ctx, kindExport, "GET", "/v1/me/export", s.token, "", nil)
	if r.status/100 != 2 {
		return r.status != 0
	}
	var out struct {
		SubjectID string            `json:"subject_id"`
		Events    []json.RawMessage `json:"events"`
	}
	cut := r.err != nil
	broken := !cut && (json.Unmarshal(r.body, &out) != nil || out.SubjectID != s.id)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case cut:
		l.exportsCut++
	case broken:
		l.exportsBroken++
	default:
		l.exportsOK++
	}
	return true
}

// printProgress prints one line of counts, and the server's and the machine's CPU use since prev (another
// process's reading, or none, gives no CPU figure).
func (l *load) printProgress(elapsed time.Duration, s, prev sample) {
	l.rec.mu.Lock()
	var ok, bad int64
	for p := range numPhases {
		for k := range numKinds {
			t := l.rec.tally[p][k]
			ok += t.ok
			bad += t.requests - t.ok
		}
	}
	l.rec.mu.Unlock()
	cpu := ""
	if span := s.at.Sub(prev.at).Seconds(); prev.pid == s.pid && span > 0 {
		cpu = fmt.Sprintf(", CPU %.2f cores (machine %.2f)", (s.stats.CPU-prev.stats.CPU).Seconds()/span, (s.machine-prev.machine).Seconds()/span)
	}
	fmt.Printf("%s  %d acknowledged, %d not (%.0f/s overall); server RSS %.1f MiB, %d open files%s\n",
		l.elapsed(), ok, bad, float64(ok)/elapsed.Seconds(), float64(s.stats.RSSKiB)/1024, s.stats.OpenFDs, cpu)
}
