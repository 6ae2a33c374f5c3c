package httpapi_test

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
)

// httpTiles is a tlog.TileReader over the vault's /audit/tile endpoints: what an outside auditor would
// write with nothing but golang.org/x/mod.
type httpTiles struct {
	t     *testing.T
	base  string
	token string
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		body, status := h.get("/audit/tile/" + strings.TrimPrefix(tile.Path(), "tile/8/"))
		if status != http.StatusOK {
			return nil, fmt.Errorf("tile %s: %d %s", tile.Path(), status, body)
		}
		out[i] = body
	}
	return out, nil
}

func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func (h httpTiles) get(path string) ([]byte, int) {
	req, _ := http.NewRequest("GET", h.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

// checkpoint fetches and verifies the signed checkpoint with the pinned key, as a witness would.
func (h httpTiles) checkpoint(v note.Verifier) tlog.Tree {
	h.t.Helper()
	body, status := h.get("/audit/checkpoint")
	if status != http.StatusOK {
		h.t.Fatalf("checkpoint: %d %s", status, body)
	}
	n, err := note.Open(body, note.VerifierList(v))
	if err != nil {
		h.t.Fatalf("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, err1 := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err1 != nil || err2 != nil || len(root) != tlog.HashSize {
		h.t.Fatalf("checkpoint text %q", n.Text)
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return tlog.Tree{N: size, Hash: hash}
}

// TestLogVerifiesWithOffTheShelfTlog reads the audit trail as a C2SP tlog-tiles log with nothing but
// golang.org/x/mod/sumdb: the checkpoint verifies under the pinned key, entries prove their inclusion from
// served hash tiles and entry bundles, and a later checkpoint proves consistent with an earlier one.
func TestLogVerifiesWithOffTheShelfTlog(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	admin := s.Token("root", "admin")
	vkey := s.Do("GET", "/v1/audit/checkpoint", admin, "", nil)
	for i := 0; i < 100 && vkey.Status != http.StatusOK; i++ {
		s.CreateSubject(map[string]any{"name": "甲"})
		time.Sleep(20 * time.Millisecond)
		vkey = s.Do("GET", "/v1/audit/checkpoint", admin, "", nil)
	}
	verifier, err := note.NewVerifier(vkey.JSON["public_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	witness := httpTiles{t: t, base: s.Server.URL, token: s.Token("w", "witness")}
	grow := func(n int) tlog.Tree {
		t.Helper()
		want := witness.checkpoint(verifier).N + int64(n)
		for i := 0; i < n; i++ {
			s.CreateSubject(map[string]any{"name": fmt.Sprintf("乙%d", i)})
		}
		for i := 0; i < 200; i++ {
			if tree := witness.checkpoint(verifier); tree.N >= want {
				return tree
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no checkpoint covered the new entries")
		return tlog.Tree{}
	}
	old := grow(30)
	tree := grow(280) // past one full tile of 256 leaves
	thr := tlog.TileHashReader(tree, witness)

	// Consistency of the later tree with the earlier one, from hash tiles alone.
	proof, err := tlog.ProveTree(tree.N, old.N, thr)
	if err != nil {
		t.Fatalf("prove tree: %v", err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		t.Fatalf("consistency %d → %d: %v", old.N, tree.N, err)
	}
	// The same from the API's consistency proof, checked with tlog alone.
	cr := s.Do("GET", fmt.Sprintf("/v1/audit/consistency?from=%d&to=%d", old.N, tree.N), witness.token, "", nil)
	if cr.Status != http.StatusOK {
		t.Fatalf("consistency: %d %s", cr.Status, cr.Body)
	}
	var apiProof tlog.TreeProof
	for _, h := range cr.JSON["hashes"].([]any) {
		b, _ := base64.StdEncoding.DecodeString(h.(string))
		var x tlog.Hash
		copy(x[:], b)
		apiProof = append(apiProof, x)
	}
	if err := tlog.CheckTree(apiProof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		t.Fatalf("API consistency proof %d → %d: %v", old.N, tree.N, err)
	}
	if r := s.Do("GET", fmt.Sprintf("/v1/audit/consistency?from=%d&to=%d", old.N, tree.N+100_000), witness.token, "", nil); r.Status != http.StatusNotFound {
		t.Errorf("consistency to a size never signed: %d", r.Status)
	}
	// Inclusion of entries read from the entry bundles (compliance officers only).
	officer := httpTiles{t: t, base: s.Server.URL, token: s.Token("co", "compliance_officer")}
	bundle, status := officer.get("/audit/tile/entries/000")
	if status != http.StatusOK {
		t.Fatalf("entry bundle: %d %s", status, bundle)
	}
	var entries [][]byte
	for len(bundle) >= 2 {
		n := int(binary.BigEndian.Uint16(bundle))
		entries, bundle = append(entries, bundle[2:2+n]), bundle[2+n:]
	}
	if len(entries) != 256 {
		t.Fatalf("a full bundle holds %d entries", len(entries))
	}
	// tlog-tiles: hash tiles, partial ones too (a wider one has another path), are cached long; entry
	// bundles are compressed for a client that accepts it (and never cached: each read is recorded).
	raw := func(path, token, encoding string) *http.Response {
		req, _ := http.NewRequest("GET", s.Server.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	partial := fmt.Sprintf("/audit/tile/0/001.p/%d", tree.N-256)
	if r := raw(partial, witness.token, ""); r.StatusCode != http.StatusOK || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("partial hash tile %s: %d, Cache-Control %q", partial, r.StatusCode, r.Header.Get("Cache-Control"))
	}
	zipped := raw("/audit/tile/entries/000", officer.token, "gzip")
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil || zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("entry bundle with gzip accepted: %v %v", zipped.Header, err)
	}
	if unzipped, err := io.ReadAll(zr); err != nil || int64(len(unzipped)) <= 256*2 || binary.BigEndian.Uint16(unzipped) != uint16(len(entries[0])) {
		t.Fatalf("the gzipped bundle: %d bytes, %v", len(unzipped), err)
	}
	if plain := raw("/audit/tile/entries/000", officer.token, "gzip;q=0"); plain.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip refused with q=0, still sent: %v", plain.Header)
	}
	for _, k := range []int64{0, 1, 100, 255} {
		p, err := tlog.ProveRecord(tree.N, k, thr)
		if err != nil {
			t.Fatalf("prove record %d: %v", k, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, k, tlog.RecordHash(entries[k])); err != nil {
			t.Fatalf("record %d is not in the tree: %v", k, err)
		}
	}
	if err := tlog.CheckRecord(mustProve(t, tree, 5, thr), tree.N, tree.Hash, 5, tlog.RecordHash(entries[6])); err == nil {
		t.Fatal("a wrong entry proved its inclusion")
	}
	// A witness sees checkpoints and hashes, never entries; other roles see nothing.
	if _, status := witness.get("/audit/tile/entries/000"); status != http.StatusForbidden {
		t.Errorf("witness reading entries: %d", status)
	}
	// Nor through an inclusion proof, which carries the entry (nor may an admin: no personal data is theirs).
	for _, tok := range []string{witness.token, s.Token("root", "admin")} {
		if r := s.Do("GET", "/v1/audit/proof/1", tok, "", nil); r.Status != http.StatusForbidden || strings.Contains(string(r.Body), `"entry"`) {
			t.Errorf("an inclusion proof with its entry for %s: %d %s", tok[:8], r.Status, r.Body)
		}
	}
	if r := s.Do("GET", "/v1/audit/proof/1", s.Token("co", "compliance_officer"), "", nil); r.Status != http.StatusOK || r.Header.Get("X-Audit-Seq") == "" {
		t.Errorf("a compliance officer's proof: %d %v (its read is recorded: X-Audit-Seq)", r.Status, r.Header)
	}
	cs := httpTiles{t: t, base: s.Server.URL, token: s.Token("cs", "customer_service")}
	for _, path := range []string{"/audit/checkpoint", "/audit/tile/0/000"} {
		if _, status := cs.get(path); status != http.StatusForbidden {
			t.Errorf("customer service %s: %d", path, status)
		}
	}
	for _, path := range []string{"/audit/tile/0/999", "/audit/tile/0/009.p/3", "/audit/tile/9/000", "/audit/tile/nonsense"} {
		if _, status := witness.get(path); status != http.StatusNotFound {
			t.Errorf("witness %s: %d, want 404", path, status)
		}
	}
}

func mustProve(t *testing.T, tree tlog.Tree, k int64, thr tlog.HashReader) tlog.RecordProof {
	t.Helper()
	p, err := tlog.ProveRecord(tree.N, k, thr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckpointWithinTwoSeconds: a client that just got X-Audit-Seq can prove its entry shortly after
// (API.md: a checkpoint covering every entry is signed within 2 s of it), with the default cadence.
func TestCheckpointWithinTwoSeconds(t *testing.T) {
	s := apptest.Start(t)
	r := s.Do("POST", "/v1/subjects", s.Token("st", "data_steward"), "account_management", map[string]any{"fields": map[string]any{"name": "丁"}})
	seq := r.Header.Get("X-Audit-Seq")
	if seq == "" {
		t.Fatalf("no audit seq: %d", r.Status)
	}
	co := s.Token("co", "compliance_officer")
	deadline := time.Now().Add(2 * time.Second)
	for {
		if p := s.Do("GET", "/v1/audit/proof/"+seq, co, "", nil); p.Status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry %s is not covered by a checkpoint 2 s after it was acknowledged", seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bearer is an http.RoundTripper that adds a bearer token to every request, the way an auditor's tool is
// pointed at a log behind authentication.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestLogReadsWithTorchwood reads the trail with a second, independent C2SP client — filippo.io/torchwood,
// the tlog-tiles library behind Sunlight — pointed at the vault's /audit/ prefix as at any tlog-tiles log: the
// checkpoint parses as a C2SP checkpoint of the verifier key's origin and verifies under the pinned key, every
// entry is walked through hash tiles and entry bundles (partial tiles at the right edge included) and one is
// proved by inclusion.
func TestLogReadsWithTorchwood(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	for i := 0; i < 300; i++ { // past one full tile, ending inside a partial one
		s.CreateSubject(map[string]any{"name": fmt.Sprintf("丙%d", i)})
	}
	last := s.Do("POST", "/v1/subjects", s.Token("st", "data_steward"), "account_management", map[string]any{"fields": map[string]any{"name": "丁"}})
	lastSeq, err := strconv.ParseInt(last.Header.Get("X-Audit-Seq"), 10, 64)
	if err != nil {
		t.Fatalf("no audit seq: %d", last.Status)
	}
	co := s.Token("co", "compliance_officer")
	verifier, err := note.NewVerifier(s.Do("GET", "/v1/audit/checkpoint", co, "", nil).JSON["public_key"].(string))
	if err != nil {
		t.Fatalf("the published verifier key: %v", err)
	}
	var cp torchwood.Checkpoint
	for i := 0; cp.N < lastSeq; i++ {
		if i == 200 {
			t.Fatalf("no checkpoint covers entry %d", lastSeq)
		}
		time.Sleep(20 * time.Millisecond)
		signed := s.Do("GET", "/audit/checkpoint", co, "", nil).Body
		if cp, err = openCheckpoint(signed, verifier); err != nil {
			t.Fatalf("the checkpoint: %v\n%s", err, signed)
		}
	}
	if cp.N < 300 || cp.N%256 == 0 {
		t.Fatalf("checkpoint of %d entries; the test wants a partial tile at the right edge", cp.N)
	}
	fetcher, err := torchwood.NewTileFetcher(s.Server.URL+"/audit/", torchwood.WithHTTPClient(&http.Client{Transport: bearer{co}}))
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Entries may stop before a partial data tile; resuming with the same tree yields the rest.
	n := int64(0)
	for round := 0; n < cp.N && round < 4; round++ {
		for i, entry := range client.Entries(ctx, cp.Tree, n) {
			var e struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal(entry, &e); err != nil || i != n || e.Seq != i+1 {
				t.Fatalf("entry %d (expected %d): seq %d, %v", i, n, e.Seq, err)
			}
			n++
		}
		if err := client.Err(); err != nil {
			t.Fatalf("torchwood read %d of %d entries: %v", n, cp.N, err)
		}
	}
	if n != cp.N {
		t.Fatalf("torchwood read %d of %d entries", n, cp.N)
	}
	k := cp.N - 2
	entry, proof, err := client.Entry(ctx, cp.Tree, k)
	if err != nil {
		t.Fatalf("entry %d: %v", k, err)
	}
	if err := tlog.CheckRecord(proof, cp.N, cp.Hash, k, tlog.RecordHash(entry)); err != nil {
		t.Fatalf("entry %d does not prove its inclusion: %v", k, err)
	}
	// A checkpoint signed by another key is refused.
	other, _, _ := note.GenerateKey(nil, verifier.Name())
	forged, err := note.Sign(&note.Note{Text: cp.String()}, mustSigner(t, other))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openCheckpoint(forged, verifier); err == nil {
		t.Error("a checkpoint signed by another key was accepted")
	}
}

// openCheckpoint verifies a signed checkpoint under v and parses it with torchwood as a C2SP checkpoint
// whose origin is the key's name.
func openCheckpoint(signed []byte, v note.Verifier) (torchwood.Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return torchwood.Checkpoint{}, err
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return torchwood.Checkpoint{}, err
	}
	if cp.Origin != v.Name() {
		return torchwood.Checkpoint{}, fmt.Errorf("origin %q is not the key's name %q", cp.Origin, v.Name())
	}
	return cp, nil
}

func mustSigner(t *testing.T, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
