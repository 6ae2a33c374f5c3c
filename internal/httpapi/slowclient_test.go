package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
)

// A streamed export may last as long as its client keeps reading — longer than the stall — but a client
// that stops reading is cut after the stall, and the server goes on.
func TestSlowClientIsCutAfterTheStall(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.WriteStall = 200 * time.Millisecond })
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	st := s.Token("st", "data_steward")
	base := time.Now().Add(-72 * time.Hour)
	for done := 0; done < 40_000; done += 2000 {
		var sb strings.Builder
		sb.WriteString(`{"events":[`)
		for i := done; i < done+2000; i++ {
			if i > done {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"event_id":"s-%d","subject_id":"%s","type":"chat","ts":"%s","source":"app","attrs":{"text":"请问我的订单什么时候发货？谢谢，非常期待这次的商品，麻烦尽快安排。"}}`,
				i, id, base.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
		}
		sb.WriteString(`]}`)
		if r := s.Do("POST", "/v1/events", st, "order_fulfillment", sb.String()); r.Status != 200 {
			t.Fatalf("seed: %d", r.Status)
		}
	}
	tok := s.Token(id, "subject")
	// A client that reads slowly but steadily gets the whole export, though it takes longer than the stall.
	req, _ := http.NewRequest("GET", s.Server.URL+"/v1/me/export", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	start, total := time.Now(), 0
	var body bytes.Buffer
	buf := make([]byte, 64<<10) // about 64 KiB every 5 ms: slower than the server writes, never still for long
	for {
		n, err := io.ReadFull(resp.Body, buf)
		total += n
		body.Write(buf[:n])
		time.Sleep(5 * time.Millisecond)
		if err == io.EOF || err == io.ErrUnexpectedEOF && n > 0 {
			break
		}
		if err != nil {
			t.Fatalf("a steady reader was cut after %d bytes: %v", total, err)
		}
	}
	resp.Body.Close()
	if !json.Valid(body.Bytes()) {
		t.Fatalf("the steady reader's export of %d bytes does not parse: it was cut", total)
	}
	if took := time.Since(start); took < 200*time.Millisecond || total < 5_000_000 {
		t.Fatalf("the steady read took %s for %d bytes: not a test of the stall", took, total)
	}
	// A client that stops reading is cut.
	addr := strings.TrimPrefix(s.Server.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/me/export HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, tok)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q %v", line, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Logs(), "export stream stopped") {
		if time.Now().After(deadline) {
			t.Fatal("the stalled export was never cut")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := s.Do("GET", "/readyz", "", "", nil); r.Status != 200 {
		t.Fatalf("the server after cutting a stalled client: %d", r.Status)
	}
}
