package backup

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// encrypted builds an age-encrypted tar of the given members, as a hostile or broken producer might.
func encrypted(t *testing.T, to age.Recipient, members map[string]string, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := age.Encrypt(&buf, to)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(enc)
	for _, name := range order {
		body := members[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Restore writes only the data directory's own files, only inside the target, and only when every one
// matches the manifest; otherwise it leaves the target empty.
func TestRestoreRefusesWhatIsNotAVaultBackup(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	manifest := `{"format":1,"created_at":"2026-12-06T00:00:00Z","files":[]}`
	cases := map[string]struct {
		members map[string]string
		order   []string
		want    string
	}{
		"path traversal": {map[string]string{"../escaped": "x", nameManifest: manifest}, []string{"../escaped", nameManifest}, "unexpected member"},
		"absolute path":  {map[string]string{"/tmp/escaped": "x", nameManifest: manifest}, []string{"/tmp/escaped", nameManifest}, "unexpected member"},
		"unknown file":   {map[string]string{"notes.txt": "x", nameManifest: manifest}, []string{"notes.txt", nameManifest}, "unexpected member"},
		"no manifest":    {map[string]string{nameKEK: "{}"}, []string{nameKEK}, "no manifest"},
		"member not in the manifest": {map[string]string{nameKEK: "{}", nameManifest: manifest},
			[]string{nameKEK, nameManifest}, "manifest names 0 files"},
		"changed member": {map[string]string{nameKEK: "{}", nameManifest: `{"format":1,"files":[{"name":"kek.json","size":2,"sha256":"00"}]}`},
			[]string{nameKEK, nameManifest}, "does not match the manifest"},
		"member after the manifest": {map[string]string{nameKEK: "{}", nameManifest: manifest},
			[]string{nameManifest, nameKEK}, "after the manifest"},
		"other format": {map[string]string{nameManifest: `{"format":9}`}, []string{nameManifest}, "format 9"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "data")
			_, err := Restore(bytes.NewReader(encrypted(t, id.Recipient(), c.members, c.order)), []age.Identity{id}, dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Restore = %v, want an error saying %q", err, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused restore left %d files", len(entries))
			}
			if entries, _ := os.ReadDir(root); len(entries) != 1 {
				t.Errorf("a refused restore wrote beside the target: %d entries", len(entries))
			}
		})
	}
}

// A backup killed before it cleaned up leaves its unencrypted database copy behind: the next backup (and a
// start) removes it — but never the staging dir of a backup that is still running.
func TestStaleStagingIsRemoved(t *testing.T) {
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	running, done, err := stagingDir(dir, []age.Recipient{id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(running); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("staging dir: %v %v", fi, err)
	}
	killed := filepath.Join(dir, stagingPrefix+"killed")
	if err := os.MkdirAll(killed, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(killed, "vault.db"), []byte("an unencrypted copy"), 0o600)
	os.WriteFile(filepath.Join(killed, ".lock"), nil, 0o600) // its holder is gone: the lock is free
	if err := CleanStaging(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Fatalf("the killed backup's copy is still there: %v", err)
	}
	if _, err := os.Stat(running); err != nil {
		t.Fatalf("the running backup's staging dir was removed: %v", err)
	}
	done()
	if _, err := os.Stat(running); !os.IsNotExist(err) {
		t.Fatalf("a finished backup's staging dir remains: %v", err)
	}
}
