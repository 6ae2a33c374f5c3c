package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/profilevault/profilevault/policies"
)

func TestLoadOrCreateSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys") // parents do not exist yet
	path := filepath.Join(dir, "jwt-ed25519.pem")

	s1, created, err := LoadOrCreateSigner(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created {
		t.Fatal("created = false for a new file")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode = %04o, want 0600", got)
	}
	dinfo, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := dinfo.Mode().Perm(); got != 0o700 {
		t.Fatalf("key dir mode = %04o, want 0700", got)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".jwt-key-*"))
	if err != nil || len(leftovers) != 0 {
		t.Fatalf("temporary files left behind: %v %v", leftovers, err)
	}

	// The kid is the first 16 hex chars of SHA-256 of the raw public key.
	sum := sha256.Sum256(s1.PublicKey())
	if want := hex.EncodeToString(sum[:])[:16]; s1.KeyID() != want {
		t.Fatalf("KeyID = %q, want %q", s1.KeyID(), want)
	}

	// The file is PKCS#8 PEM.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("file is not a PEM PRIVATE KEY")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatalf("file is not PKCS#8: %v", err)
	}

	// Reload: same key, not created, and it verifies what the first one minted.
	s2, created, err := LoadOrCreateSigner(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if created {
		t.Fatal("created = true on reload")
	}
	if s2.KeyID() != s1.KeyID() || !s2.PublicKey().Equal(s1.PublicKey()) {
		t.Fatalf("reloaded kid %q, want %q", s2.KeyID(), s1.KeyID())
	}
	tok, err := s1.Mint(MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(s2.KeySet(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("token from the first signer rejected after reload: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || string(after) != string(data) {
		t.Fatalf("key file changed on reload (%v)", err)
	}
}

func TestLoadOrCreateSignerRefusesBadFiles(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(deterministicKey("file"))
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    error
	}{
		{"world readable", pemOf("PRIVATE KEY", edDER), 0o644, ErrInsecurePermissions},
		{"group readable", pemOf("PRIVATE KEY", edDER), 0o640, ErrInsecurePermissions},
		{"other writable", pemOf("PRIVATE KEY", edDER), 0o602, ErrInsecurePermissions},
		{"garbage", "not a key\n", 0o600, ErrMalformedKey},
		{"empty", "", 0o600, ErrMalformedKey},
		{"wrong PEM type", pemOf("RSA PRIVATE KEY", edDER), 0o600, ErrMalformedKey},
		{"PEM with junk DER", pemOf("PRIVATE KEY", []byte("junk")), 0o600, ErrMalformedKey},
		{"ECDSA key", pemOf("PRIVATE KEY", ecDER), 0o600, ErrMalformedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			s, created, err := LoadOrCreateSigner(path)
			if !errors.Is(err, tt.want) || s != nil || created {
				t.Fatalf("LoadOrCreateSigner = %v, %v, %v; want error %v", s, created, err, tt.want)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tt.content {
				t.Fatalf("file was modified (%v)", err)
			}
		})
	}

	t.Run("directory at path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key.pem")
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateSigner(path); err == nil {
			t.Fatal("a directory was accepted as a key file")
		}
	})
}

func TestNewSignerRejectsShortKey(t *testing.T) {
	if _, err := NewSigner(make([]byte, 10)); !errors.Is(err, ErrMalformedKey) {
		t.Fatalf("NewSigner error = %v, want ErrMalformedKey", err)
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("FromContext found a principal in an empty context")
	}
	want := Principal{Subject: "s", Roles: []policies.Role{"r"}}
	got, ok := FromContext(NewContext(ctx, want))
	if !ok || got.Subject != want.Subject || !got.HasRole("r") {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}
