package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/keys"
)

// TestKeysCommands runs keys rotate, check and purge on a data dir, then loses a KEK behind the vault's
// back: keys check exits 1 naming the count, and serve refuses to start.
func TestKeysCommands(t *testing.T) {
	s := apptest.Start(t)
	for i := 0; i < 5; i++ {
		s.CreateSubject(map[string]any{"name": fmt.Sprintf("王%d", i)})
	}
	s.RestartWith(func(dir string) {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, env(nil), &out, &errOut); err != nil {
			t.Fatalf("keys rotate: %v %s", err, errOut.String())
		}
		for _, want := range []string{"new KEK version: 2\n", "DEKs rewrapped: 5\n", "KEK versions retired: [1]\n", "resumed: false\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("keys rotate output lacks %q:\n%s", want, out.String())
			}
		}
		out.Reset()
		if err := run(context.Background(), []string{"keys", "check", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil {
			t.Fatalf("keys check: %v", err)
		}
		if !strings.Contains(out.String(), "  1\tretired ") || !strings.Contains(out.String(), "  2\t5 DEKs\t0 missing\t0 corrupt\n") {
			t.Errorf("keys check output:\n%s", out.String())
		}
		// Purge: bad --retired-before values are refused; a time before the retirement purges nothing.
		for _, bad := range []string{"", "yesterday", "-5h"} {
			err := run(context.Background(), []string{"keys", "purge", "--data-dir", dir, "--retired-before", bad}, env(nil), io.Discard, io.Discard)
			var ex exitError
			if !errors.As(err, &ex) || ex.code != 2 {
				t.Errorf("purge --retired-before %q: %v, want exit 2", bad, err)
			}
		}
		out.Reset()
		if err := run(context.Background(), []string{"keys", "purge", "--data-dir", dir, "--retired-before", "24h"}, env(nil), &out, io.Discard); err != nil ||
			!strings.Contains(out.String(), "KEK versions purged: []\n") {
			t.Fatalf("purge before the retirement: %v %s", err, out.String())
		}
		out.Reset()
		if err := run(context.Background(), []string{"keys", "purge", "--data-dir", dir, "--retired-before", time.Now().Add(time.Hour).Format(time.RFC3339)}, env(nil), &out, io.Discard); err != nil ||
			!strings.Contains(out.String(), "KEK versions purged: [1]\n") {
			t.Fatalf("purge: %v %s", err, out.String())
		}
		// No file of the data dir keeps the purged key: the ring's previous copy is the purged ring too.
		ring := filepath.Join(dir, datadir.KEKFile)
		cur, _ := os.ReadFile(ring)
		if prev, err := os.ReadFile(ring + ".prev"); err != nil || !bytes.Equal(prev, cur) {
			t.Fatalf("kek.json.prev after a purge differs from the purged ring: %v", err)
		}
	})
	readable := s.Do("GET", "/v1/keys", s.Token("root", "admin"), "", nil)
	if readable.JSON["check"].(map[string]any)["missing"] != float64(0) {
		t.Fatalf("after purge: %s", readable.Body)
	}

	// Lose the active version's key behind the vault's back (the ring file edited by hand).
	s.RestartWith(func(dir string) {
		ringPath := filepath.Join(dir, datadir.KEKFile)
		r, err := keys.OpenRing(ringPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Rotate(); err != nil {
			t.Fatal(err)
		}
		if err := r.Retire([]uint32{2}); err != nil {
			t.Fatal(err)
		}
		if err := r.Purge([]uint32{2}); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = run(context.Background(), []string{"keys", "check", "--data-dir", dir}, env(nil), &out, io.Discard)
		var ex exitError
		if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(ex.msg, "5 DEKs are wrapped under KEK version(s) [2]") ||
			!strings.Contains(ex.msg, "data of 5 subject(s)") || !strings.Contains(out.String(), "missing: 5\n") {
			t.Errorf("keys check with a lost KEK: %v\n%s", err, out.String())
		}
		err = run(context.Background(), []string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0"}, env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "data of 5 subject(s) cannot be decrypted") || !strings.Contains(err.Error(), ".prev") {
			t.Errorf("serve with a lost KEK: %v", err)
		}
		err = run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "cannot be decrypted") {
			t.Errorf("keys rotate with a lost KEK: %v", err)
		}
		// Put the ring from before the purge back.
		if err := copyRing(ringPath+".prev", ringPath); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.App.RequireKeys(); err != nil {
		t.Fatalf("after restoring the previous ring: %v", err)
	}
}

func copyRing(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
