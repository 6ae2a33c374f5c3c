package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/bench/internal/vaultproc"
)

// readBackResult counts what the final read-back found of the acknowledged writes.
type readBackResult struct {
	subjects, subjectsLost, subjectsWrong int // created subjects: not found, or a field differs
	events, eventsLost, eventsWrong       int // accepted events: not found, or type or amount differs
	consents, consentsLost, consentNoops  int // consent changes: record not in the history; withdrawals of nothing
	finalStates, finalWrong               int // subject × purpose whose last change was acknowledged
	unverifiable                          int64
}

func (r readBackResult) lost() int {
	return r.subjectsLost + r.subjectsWrong + r.eventsLost + r.eventsWrong + r.consentsLost + r.finalWrong
}

// readBack reads every acknowledged write back through the API, four requests at a time.
func (l *load) readBack(ctx context.Context) readBackResult {
	l.mu.Lock()
	created := slices.Clone(l.created)
	events := slices.Clone(l.events)
	consents := slices.Clone(l.consents)
	res := readBackResult{unverifiable: l.writeUnparsed}
	l.mu.Unlock()
	var mu sync.Mutex
	parallel := func(n int, fn func(i int)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					fn(i)
				}
			}()
		}
		wg.Wait()
	}

	// Created subjects, field by field, as the data steward who created them.
	res.subjects = len(created)
	parallel(len(created), func(i int) {
		c := created[i]
		fields := "?fields=" + strings.Join(slices.Sorted(maps.Keys(c.fields)), ",")
		r := l.call(ctx, kindReadBack, "GET", "/v1/subjects/"+c.id+fields, l.steward, "account_management", nil)
		var out struct {
			Fields map[string]string `json:"fields"`
		}
		lost := r.status != 200 || r.err != nil || json.Unmarshal(r.body, &out) != nil
		wrong := !lost && !maps.Equal(out.Fields, c.fields)
		mu.Lock()
		defer mu.Unlock()
		if lost {
			res.subjectsLost++
		} else if wrong {
			res.subjectsWrong++
		}
	})

	// Events, by event id, from each subject's transactions (paged).
	res.events = len(events)
	bySubject := map[string][]sentEvent{}
	for _, e := range events {
		bySubject[e.subject] = append(bySubject[e.subject], e)
	}
	subjects := slices.Collect(maps.Keys(bySubject))
	parallel(len(subjects), func(i int) {
		stored, ok := l.subjectEvents(ctx, subjects[i])
		lost, wrong := 0, 0
		for _, e := range bySubject[subjects[i]] {
			s, found := stored[e.id]
			switch {
			case !ok || !found:
				lost++
			case s.Type != "order" || s.Attrs.Amount != e.amount:
				wrong++
			}
		}
		mu.Lock()
		res.eventsLost += lost
		res.eventsWrong += wrong
		mu.Unlock()
	})

	// Consent changes, by record id in each subject's history, and the final state where it is known.
	res.consents = len(consents)
	byConsentSubject := map[string][]consentAck{}
	for _, c := range consents {
		byConsentSubject[c.subject] = append(byConsentSubject[c.subject], c)
	}
	parallel(len(l.consentSubjects), func(i int) {
		s := l.consentSubjects[i]
		acks := byConsentSubject[s.id]
		r := l.call(ctx, kindReadBack, "GET", "/v1/subjects/"+s.id+"/consents", l.steward, "account_management", nil)
		var out struct {
			Consents []struct {
				Purpose string `json:"purpose"`
				Status  string `json:"status"`
			} `json:"consents"`
			History []struct {
				ID        string `json:"id"`
				Action    string `json:"action"`
				Withdraws string `json:"withdraws"`
			} `json:"history"`
		}
		ok := r.status == 200 && r.err == nil && json.Unmarshal(r.body, &out) == nil
		grants, withdrawals := map[string]bool{}, map[string]bool{}
		for _, h := range out.History {
			switch h.Action {
			case "grant":
				grants[h.ID] = true
			case "withdraw":
				withdrawals[h.Withdraws] = true
			}
		}
		granted := map[string]bool{}
		for _, c := range out.Consents {
			if c.Status == "granted" {
				granted[c.Purpose] = true
			}
		}
		lost, noops, finals, finalWrong := 0, 0, 0, 0
		for _, a := range acks {
			switch {
			case a.recordID == "":
				noops++
			case !ok, a.grant && !grants[a.recordID], !a.grant && !withdrawals[a.recordID]:
				lost++
			}
		}
		for _, p := range consentPurposes {
			if s.last[p] == "" || s.uncertain[p] {
				continue
			}
			finals++
			if !ok || granted[p] != (s.last[p] == "grant") {
				finalWrong++
			}
		}
		mu.Lock()
		res.consentsLost += lost
		res.consentNoops += noops
		res.finalStates += finals
		res.finalWrong += finalWrong
		mu.Unlock()
	})
	return res
}

// storedEvent is an event as GET /v1/subjects/{id}/events answers it.
type storedEvent struct {
	ID    string `json:"event_id"`
	Type  string `json:"type"`
	Attrs struct {
		Amount float64 `json:"amount"`
	} `json:"attrs"`
}

// subjectEvents pages through a subject's transaction events as the data steward for order fulfilment.
func (l *load) subjectEvents(ctx context.Context, subject string) (map[string]storedEvent, bool) {
	stored := map[string]storedEvent{}
	cursor := ""
	for {
		path := "/v1/subjects/" + subject + "/events?category=transactions&limit=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := l.call(ctx, kindReadBack, "GET", path, l.steward, "order_fulfillment", nil)
		var page struct {
			Events     []storedEvent `json:"events"`
			NextCursor string        `json:"next_cursor"`
		}
		if r.status != 200 || r.err != nil || json.Unmarshal(r.body, &page) != nil {
			return stored, false
		}
		for _, e := range page.Events {
			stored[e.ID] = e
		}
		if page.NextCursor == "" {
			return stored, true
		}
		cursor = page.NextCursor
	}
}

// entriesResult is check (c): every acknowledged response has its audit entry.
type entriesResult struct {
	acks, withSeq  int
	matched        int // the entry at the response's X-Audit-Seq carries its request id
	wrongID        int // there is an entry at that seq, for another request
	missing        int // no entry at that seq
	noSeq, noSeqOK int // 2xx without X-Audit-Seq, and how many of them have an entry with their request id
	entries        int64
	err            error
}

func (r entriesResult) pass() bool {
	return r.err == nil && r.wrongID == 0 && r.missing == 0 && r.noSeq == r.noSeqOK
}

// checkEntries streams `vaultd audit export` (after the server stopped) and looks up every acknowledged
// response's entry: by X-Audit-Seq, whose entry must carry the response's X-Vault-Request-Id, or by
// request id alone when the response had no X-Audit-Seq.
func checkEntries(ctx context.Context, bin, dataDir string, acks []ack) entriesResult {
	res := entriesResult{acks: len(acks)}
	bySeq := make(map[int64]string, len(acks))
	byID := map[string]bool{}
	for _, a := range acks {
		if a.seq > 0 {
			bySeq[a.seq] = a.reqID
		} else {
			byID[a.reqID] = false
		}
	}
	res.withSeq, res.noSeq = len(bySeq), len(acks)-len(bySeq)
	res.err = vaultproc.AuditExport(ctx, bin, dataDir, func(line []byte) error {
		var e struct {
			Seq       int64  `json:"seq"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("audit export line %d: %w", res.entries+1, err)
		}
		res.entries++
		if want, ok := bySeq[e.Seq]; ok {
			if e.RequestID == want {
				res.matched++
			} else {
				res.wrongID++
			}
			delete(bySeq, e.Seq)
		}
		if _, ok := byID[e.RequestID]; ok {
			byID[e.RequestID] = true
		}
		return nil
	})
	res.missing = len(bySeq)
	for _, found := range byID {
		if found {
			res.noSeqOK++
		}
	}
	return res
}

// report prints the summary and returns whether every check passed.
func report(cfg config, l *load, rs restart, loadEnd time.Time, rb readBackResult, stopErr error, verifyOut string, verifyCode int,
	ent entriesResult, g growthResult) bool {
	fmt.Printf("\n== soak summary: -duration %s, demo of %d subjects, %d readers, %d writers, %d consent and %d export goroutines\n",
		cfg.duration, cfg.subjects, cfg.readers, cfg.writers, cfg.consenters, cfg.exporters)
	if rs.done {
		fmt.Printf("kill -9 at %s; vaultd serve on the same data dir ready %s later\n",
			rs.killed.Sub(l.started).Round(time.Second), rs.ready.Sub(rs.killed).Round(time.Millisecond))
	} else {
		fmt.Println("the server was never killed (the run ended before -kill-at)")
	}

	// The load, per kind and phase.
	// Rates over the load's own time in each phase (the read-back at the end is not load; the few seconds
	// from the kill to ready are mostly refused connections).
	spans := [numPhases]time.Duration{}
	if rs.done {
		spans[phaseBefore] = rs.killed.Sub(l.started)
		spans[phaseAfter] = loadEnd.Sub(rs.ready)
	}
	fmt.Printf("\n%-16s %-14s %9s %9s %8s %9s  %s\n", "requests", "phase", "total", "2xx", "2xx/s", "net err", "non-2xx by status")
	l.rec.mu.Lock()
	for k := range numKinds {
		for p := range numPhases {
			t := l.rec.tally[p][k]
			if t.requests == 0 {
				continue
			}
			rate := "-"
			if spans[p] > 0 && k != kindReadBack {
				rate = fmt.Sprintf("%.0f", float64(t.ok)/spans[p].Seconds())
			}
			fmt.Printf("%-16s %-14s %9d %9d %8s %9d  %s\n", kindNames[k], phaseNames[p], t.requests, t.ok, rate, t.transport, statusList(t.status))
		}
	}
	noSeq, badSeq := l.rec.noSeq, l.rec.badSeq
	l.rec.mu.Unlock()
	l.mu.Lock()
	fmt.Printf("\nacknowledged writes: %d subjects created, %d events accepted (%d rejected: %s; %d duplicates), %d consent changes; %d 2xx writes with an unreadable body\n",
		len(l.created), len(l.events), sum(l.rejectedEvents), codeList(l.rejectedEvents), l.duplicateEvents, len(l.consents), l.writeUnparsed)
	fmt.Printf("exports: %d whole and the subject's own, %d cut off (by the kill), %d broken\n", l.exportsOK, l.exportsCut, l.exportsBroken)
	exportsBroken := l.exportsBroken
	l.mu.Unlock()

	// The checks.
	type row struct {
		name, result string
		ok           bool
	}
	var rows []row
	rows = append(rows, row{"(a) acknowledged writes read back",
		fmt.Sprintf("subjects %d/%d, events %d/%d, consent changes %d/%d (%d withdrew nothing), final consent states %d/%d; lost or wrong: %d",
			rb.subjects-rb.subjectsLost-rb.subjectsWrong, rb.subjects, rb.events-rb.eventsLost-rb.eventsWrong, rb.events,
			rb.consents-rb.consentsLost, rb.consents, rb.consentNoops, rb.finalStates-rb.finalWrong, rb.finalStates, rb.lost()),
		rb.lost() == 0})
	if rs.done {
		rows = append(rows, row{"(b) audit verify after kill -9", verdict(rs.verifyOut, rs.verifyCode), rs.verifyCode == 0})
	}
	stopResult := "exit 0"
	if stopErr != nil {
		stopResult = stopErr.Error()
	}
	rows = append(rows, row{"(b) graceful stop (SIGTERM)", stopResult, stopErr == nil})
	rows = append(rows, row{"(b) audit verify after the stop", verdict(verifyOut, verifyCode), verifyCode == 0})
	entResult := fmt.Sprintf("%d 2xx (%d with X-Audit-Seq): %d entries carry their request id, %d missing, %d name another request; %d entries in the trail",
		ent.acks, ent.withSeq, ent.matched+ent.noSeqOK, ent.missing+ent.noSeq-ent.noSeqOK, ent.wrongID, ent.entries)
	if ent.err != nil {
		entResult = ent.err.Error()
	}
	rows = append(rows, row{"(c) every 2xx has its audit entry", entResult, ent.pass() && badSeq == 0})
	var memLine string
	if g.evaluated {
		mib := func(kib int64) float64 { return float64(kib) / 1024 }
		rows = append(rows, row{"(d) VmRSS after restart, first vs last",
			fmt.Sprintf("%.1f → %.1f MiB (%+.1f %%), medians of %d and %d samples, %s windows",
				mib(g.first.rss), mib(g.last.rss), pct(float64(g.first.rss), float64(g.last.rss)), g.firstN, g.lastN, g.window.Round(time.Second)),
			g.rssOK()})
		rows = append(rows, row{"(d) open files after restart, first vs last",
			fmt.Sprintf("%d → %d (%+.1f %%)", g.first.fds, g.last.fds, pct(float64(g.first.fds), float64(g.last.fds))), g.fdsOK()})
		memLine = fmt.Sprintf("VmRSS in the same windows: anonymous %.1f → %.1f MiB, of which Go heap in use %.1f → %.1f MiB; mapped files %.1f → %.1f MiB\n"+
			"caches in the same windows: %d → %d sealed records, %d → %d data keys (the server's --record-cache %s, --dek-cache %s)\n",
			mib(g.first.anon), mib(g.last.anon), mib(g.first.heap), mib(g.last.heap), mib(g.first.file), mib(g.last.file),
			g.first.records, g.last.records, g.first.deks, g.last.deks, cacheFlag(cfg.recordCache), cacheFlag(cfg.dekCache))
	} else {
		rows = append(rows, row{"(d) VmRSS and open files after restart", "not enough samples after the restart", false})
	}
	rows = append(rows, row{"exports whole", fmt.Sprintf("%d broken", exportsBroken), exportsBroken == 0})

	fmt.Printf("\n%-44s %-6s %s\n", "check", "status", "result")
	all := true
	for _, r := range rows {
		status := "PASS"
		if !r.ok {
			status, all = "FAIL", false
		}
		fmt.Printf("%-44s %-6s %s\n", r.name, status, r.result)
	}
	fmt.Print("\n" + memLine)
	fmt.Printf("\nfor context: server VmRSS peaked at %.1f MiB before the kill and read %.1f MiB at the end (after the read-back); %d 2xx had no X-Audit-Seq, %d an unreadable one\n",
		float64(g.rssPeakBefore)/1024, float64(g.rssAfter)/1024, noSeq, badSeq)
	if all {
		fmt.Println("\nsoak: every check passed")
	} else {
		fmt.Println("\nsoak: FAILED")
	}
	return all
}

// verdict is the first line of `vaultd audit verify`'s output with its exit code.
func verdict(out string, code int) string {
	return fmt.Sprintf("exit %d: %s", code, firstLine(out))
}

func statusList(m map[int]int64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", s, m[s]))
	}
	return strings.Join(parts, " ")
}

func codeList(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
