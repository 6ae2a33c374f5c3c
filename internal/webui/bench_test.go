package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/profilevault/profilevault/internal/apptest"
)

// BenchmarkAuditBrowserFirstRender is the number: the time from navigating to /console/audit to
// its first page of entries on screen, with 1,000 and with 100,000 entries in the trail (paging is
// server-side, so it should not grow with the trail).
//
//	go test -run '^$' -bench AuditBrowserFirstRender -benchtime 20x ./internal/webui
func BenchmarkAuditBrowserFirstRender(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			s := apptest.Start(b)
			seedTrail(b, s, n)
			ctx := browser(b)
			if err := chromedp.Do(ctx, signIn(s.Server.URL, s.Token("co", "compliance_officer")), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/audit"]`))); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := chromedp.Do(ctx, chromedp.Navigate(s.Server.URL+"/console/audit"), chromedp.WaitVisible(chromedp.CSS(`#entries tbody tr[data-seq]`))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/render")
			b.ReportMetric(float64(s.App.Internals().Store.Size()), "entries")
		})
	}
}

// seedTrail makes the trail at least n entries long with audited reads, 16 at a time.
func seedTrail(b *testing.B, s *apptest.Stack, n int) {
	b.Helper()
	id := s.CreateSubject(map[string]any{"name": "李雷", "city": "襄阳", "birth_date": "1984-09-10"})
	tok := s.Token("cs", "customer_service")
	var left atomic.Int64
	left.Store(int64(n) - s.App.Internals().Store.Size())
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				req, _ := http.NewRequest("GET", s.Server.URL+"/v1/subjects/"+id+"?fields=city", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Purpose", "customer_service")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	b.Logf("seeded %d entries in %s", s.App.Internals().Store.Size(), time.Since(start).Round(time.Millisecond))
}

// TestPageWeight keeps each page, with every script and style it loads, under a budget, and logs the
// numbers the issue asks for. The pages are shells whose size does not depend on the data.
func TestPageWeight(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "birth_date": "1984-09-10"})
	asset := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`)
	for _, tc := range []struct{ token, path string }{
		{s.Token(id, "subject"), "/privacy"},
		{s.Token("co", "compliance_officer"), "/console/audit"},
	} {
		c := newClient(t, s)
		c.signIn(tc.token)
		p := c.do("GET", tc.path, nil, map[string]string{"Accept-Language": "en"})
		if p.status != 200 {
			t.Fatalf("GET %s: %d", tc.path, p.status)
		}
		total := len(p.body)
		parts := fmt.Sprintf("html %d", len(p.body))
		for _, m := range asset.FindAllStringSubmatch(p.body, -1) {
			a := c.do("GET", m[1], nil, nil)
			if a.status != 200 {
				t.Fatalf("GET %s: %d", m[1], a.status)
			}
			total += len(a.body)
			parts += fmt.Sprintf(", %s %d", m[1], len(a.body))
		}
		t.Logf("%s: %d bytes uncompressed (%s)", tc.path, total, parts)
		if total > 64<<10 {
			t.Errorf("%s weighs %d bytes, over the 64 KiB budget", tc.path, total)
		}
	}
}
