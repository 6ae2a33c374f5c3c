package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// vaultd audit witness is an outside auditor's check, built only on golang.org/x/mod/sumdb/note and tlog
// (nothing of the vault's own audit code): fetch the log's latest checkpoint and the hash tiles it needs
// over HTTP, verify the signature against a pinned key, prove the new tree consistent with the checkpoint
// kept from the last run, and keep the new one. Exit 0 consistent, 1 inconsistent, 2 cannot run.

// witnessState is what the witness keeps between runs (a JSON file, mode 0600).
type witnessState struct {
	PublicKey  string `json:"public_key"`
	Checkpoint string `json:"checkpoint"` // the last verified signed note
	// Seen are the trees of the checkpoints verified so far (at most maxSeen, thinned evenly), oldest
	// first: on an inconsistency, the witness names between which of them the log parts from its history.
	Seen []seenTree `json:"seen,omitempty"`
}

// seenTree is a tree a run verified: its size and base64 root.
type seenTree struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// maxSeen bounds the trees a witness keeps (a few tens of kilobytes of state).
const maxSeen = 512

func cmdAuditWitness(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit witness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", envOr(getenv, "VAULT_URL", ""), "base URL of the vault (VAULT_URL)")
	stateFile := fs.String("state", "", "file keeping the pinned key and the last verified checkpoint")
	pubkey := fs.String("pubkey", "", "the log's checkpoint verifier key (note format); required on the first run, pinned after")
	token := fs.String("token", envOr(getenv, "VAULT_TOKEN", ""), "bearer token of role witness (VAULT_TOKEN); --token-file keeps it out of the process list")
	tokenFile := fs.String("token-file", envOr(getenv, "VAULT_TOKEN_FILE", ""), "file holding the bearer token of role witness (VAULT_TOKEN_FILE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cannot := func(format string, a ...any) error {
		return exitError{code: 2, msg: "vaultd audit witness: " + fmt.Sprintf(format, a...)}
	}
	if *url == "" || *stateFile == "" {
		return cannot("--url and --state are required")
	}
	if *tokenFile != "" {
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			return cannot("token file: %v", err)
		}
		*token = strings.TrimSpace(string(raw))
	}
	var st witnessState
	switch raw, err := os.ReadFile(*stateFile); {
	case err == nil:
		if err := json.Unmarshal(raw, &st); err != nil {
			return cannot("state file %s: %v", *stateFile, err)
		}
		if st.PublicKey == "" {
			return cannot("state file %s pins no key: it is not a witness state (delete it and run again with --pubkey to start over)", *stateFile)
		}
		if *pubkey != "" && *pubkey != st.PublicKey {
			return cannot("--pubkey differs from the key pinned in %s", *stateFile)
		}
	case errors.Is(err, os.ErrNotExist):
		if *pubkey == "" {
			return cannot("--pubkey is required on the first run (no state in %s)", *stateFile)
		}
		st.PublicKey = *pubkey
	default:
		return cannot("state file: %v", err)
	}
	verifier, err := note.NewVerifier(st.PublicKey)
	if err != nil {
		return cannot("public key: %v", err)
	}
	log := &tileClient{base: strings.TrimRight(*url, "/"), token: *token, client: &http.Client{Timeout: 30 * time.Second}, ctx: ctx}
	signed, err := log.get("/audit/checkpoint")
	if err != nil {
		return cannot("%v", err)
	}
	tree, err := openTree(signed, verifier)
	if err != nil {
		return exitError{code: 1, msg: "vaultd audit witness: the checkpoint does not verify: " + err.Error()}
	}
	if st.Checkpoint != "" {
		old, err := openTree([]byte(st.Checkpoint), verifier)
		if err != nil {
			return cannot("the kept checkpoint: %v", err)
		}
		if err := consistent(old, tree, log); err != nil {
			var cerr *tileError
			if errors.As(err, &cerr) {
				return cannot("%v", err)
			}
			return exitError{code: 1, msg: fmt.Sprintf("vaultd audit witness: inconsistent: the log at size %d does not extend the checkpoint kept at size %d: %v%s",
				tree.N, old.N, err, parting(st.Seen, old, tree, log))}
		}
	}
	st.Checkpoint = string(signed)
	if n := len(st.Seen); n == 0 || st.Seen[n-1].Size != tree.N {
		st.Seen = append(st.Seen, seenTree{Size: tree.N, Root: base64.StdEncoding.EncodeToString(tree.Hash[:])})
		if len(st.Seen) > maxSeen { // keep the first and last, thin the rest
			kept := st.Seen[:1]
			for i := 1; i < len(st.Seen)-1; i += 2 {
				kept = append(kept, st.Seen[i])
			}
			st.Seen = append(kept, st.Seen[len(st.Seen)-1])
		}
	}
	raw, _ := json.MarshalIndent(st, "", "  ")
	tmp := *stateFile + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return cannot("save state: %v", err)
	}
	if err := os.Rename(tmp, *stateFile); err != nil {
		return cannot("save state: %v", err)
	}
	fmt.Fprintf(stdout, "consistent: size %d, root %s (state %s)\n", tree.N, tree.Hash, filepath.Base(*stateFile))
	return nil
}

// parting names where the log parts from the witnessed history: the largest tree seen that the new tree
// still extends and the first it does not, so the first differing entry lies between them ("" when no
// seen tree tells more than the kept checkpoint does).
func parting(seen []seenTree, kept, newer tlog.Tree, log *tileClient) string {
	after := int64(0) // the largest size known consistent
	for _, s := range seen {
		root, err := base64.StdEncoding.DecodeString(s.Root)
		if err != nil || len(root) != tlog.HashSize || s.Size > newer.N || s.Size > kept.N {
			continue
		}
		var old tlog.Tree
		old.N = s.Size
		copy(old.Hash[:], root)
		if consistent(old, newer, log) != nil {
			return fmt.Sprintf("; first differing size: %d to %d (the log extends the tree of size %d this witness saw, not that of size %d)", after+1, s.Size, after, s.Size)
		}
		after = s.Size
	}
	if after > 0 && after < kept.N {
		return fmt.Sprintf("; first differing size: %d to %d", after+1, kept.N)
	}
	return ""
}

// consistent proves that newer extends older, from hash tiles read through log and checked against newer.
func consistent(older, newer tlog.Tree, log *tileClient) error {
	switch {
	case newer.N < older.N:
		return fmt.Errorf("the log shrank from %d to %d entries", older.N, newer.N)
	case newer.N == older.N:
		if newer.Hash != older.Hash {
			return fmt.Errorf("two different trees of size %d", newer.N)
		}
		return nil
	}
	proof, err := tlog.ProveTree(newer.N, older.N, tlog.TileHashReader(newer, log))
	if err != nil {
		return err
	}
	return tlog.CheckTree(proof, newer.N, newer.Hash, older.N, older.Hash)
}

// openTree verifies a signed checkpoint (C2SP: origin, size, base64 root) and returns its tree.
func openTree(signed []byte, v note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		return tlog.Tree{}, errors.New("not a checkpoint of this log")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return tlog.Tree{}, errors.New("bad tree size")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, errors.New("bad root hash")
	}
	var h tlog.Hash
	copy(h[:], root)
	return tlog.Tree{N: size, Hash: h}, nil
}

// tileClient reads a tlog-tiles log over HTTP (tlog.TileReader).
type tileClient struct {
	base, token string
	client      *http.Client
	ctx         context.Context
}

// tileError is a failure to read from the log (not evidence against it).
type tileError struct{ err error }

func (e *tileError) Error() string { return e.err.Error() }

func (c *tileClient) Height() int { return 8 }

func (c *tileClient) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := c.get("/audit/tile/" + strings.TrimPrefix(t.Path(), "tile/8/"))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (c *tileClient) SaveTiles([]tlog.Tile, [][]byte) {}

func (c *tileClient) get(path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, &tileError{err}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, &tileError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &tileError{err}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && c.token == "":
		return nil, &tileError{fmt.Errorf("GET %s: %s: the log wants a token of role witness (--token-file F, or VAULT_TOKEN)", path, resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return nil, &tileError{fmt.Errorf("GET %s: %s", path, resp.Status)}
	}
	return body, nil
}
