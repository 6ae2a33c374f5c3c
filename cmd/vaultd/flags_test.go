package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCommonFlagsFromTheEnvironment: VAULT_* variables give the defaults, flags win, a variable that does
// not parse is an error, and offline commands wait a minute for their audit entries unless told otherwise.
func TestCommonFlagsFromTheEnvironment(t *testing.T) {
	config := func(env map[string]string, args ...string) (commonFlags, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c commonFlags
		c.register(fs, func(k string) string { return env[k] })
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		_, err := c.config(io.Discard)
		return c, err
	}
	c, err := config(nil)
	if err != nil || c.commitTimeout != time.Minute || c.recordCache != 20_000 || c.dekCache != 50_000 || c.minFreeMiB != 512 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = config(map[string]string{"VAULT_COMMIT_TIMEOUT": "10s", "VAULT_RECORD_CACHE": "7"}, "--record-cache", "9")
	if err != nil || c.commitTimeout != 10*time.Second || c.recordCache != 9 {
		t.Fatalf("environment and flag: %+v %v", c, err)
	}
	if _, err := config(map[string]string{"VAULT_DEK_CACHE": "many"}); err == nil {
		t.Error("VAULT_DEK_CACHE=many was accepted")
	}
	if _, err := config(nil, "--dek-cache", "0"); err == nil {
		t.Error("--dek-cache 0 was accepted")
	}
	if c, err := config(map[string]string{"VAULT_INTEREST_HALF_LIFE_DAYS": "7"}); err != nil || c.halfLifeDays != 7 {
		t.Errorf("VAULT_INTEREST_HALF_LIFE_DAYS=7: %d %v", c.halfLifeDays, err)
	}
	if _, err := config(nil, "--interest-half-life-days", "0"); err == nil {
		t.Error("--interest-half-life-days 0 was accepted")
	}
}

// --request-deadlines and --holiday-calendar read their files; a bad one stops the server from starting.
func TestRequestRulesFromFiles(t *testing.T) {
	if r, err := requestRules("", ""); err != nil || r == nil {
		t.Fatalf("defaults: %v %v", r, err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "deadlines.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"default": 10}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"default": 999}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := requestRules(good, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{{bad, ""}, {filepath.Join(dir, "missing.json"), ""}, {"", filepath.Join(dir, "missing.json")}} {
		if _, err := requestRules(tc[0], tc[1]); err == nil {
			t.Errorf("%v: no error", tc)
		}
	}
}
