package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/profilevault/profilevault/audit"
)

// loadOrCreateAuditSigner reads the checkpoint signing key (two lines: the note signing key and its
// verifier key) from path, or creates it (0600) with a fresh origin name. The verifier key is also written
// beside it as path+".pub" for auditors. This key is kept apart from the data keys on purpose: whoever
// holds the KEK ring cannot sign checkpoints with it, and vice versa.
func loadOrCreateAuditSigner(path string) (*audit.Signer, bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var suffix [4]byte
		if _, err := rand.Read(suffix[:]); err != nil {
			return nil, false, err
		}
		skey, vkey, err := audit.GenerateSignerKey("profile-vault/audit/" + hex.EncodeToString(suffix[:]))
		if err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, err
		}
		if _, err := fmt.Fprintf(f, "%s\n%s\n", skey, vkey); err != nil {
			f.Close()
			return nil, false, err
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644); err != nil {
			return nil, false, err
		}
		s, err := audit.NewSigner(skey, vkey)
		return s, true, err
	}
	if err != nil {
		return nil, false, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("%s is readable by group or others; chmod 600 it", path)
	}
	lines := strings.Fields(string(raw))
	if len(lines) != 2 {
		return nil, false, fmt.Errorf("%s: want a signing key line and a verifier key line", path)
	}
	s, err := audit.NewSigner(lines[0], lines[1])
	return s, false, err
}
