package audit

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the tree: its size and root hash, in the C2SP tlog-checkpoint text
// format ("<origin>\n<size>\n<base64 root>\n") wrapped in a C2SP signed note with an Ed25519 signature.
// An auditor who keeps checkpoints can check any entry against them (inclusion proofs) without trusting the
// server, and a host with database access cannot rewrite history covered by a checkpoint unseen.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text is the checkpoint body that gets signed.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads a checkpoint body.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return Checkpoint{}, errors.New("checkpoint: bad size")
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, errors.New("checkpoint: bad root hash")
	}
	c := Checkpoint{Origin: lines[0], Size: size}
	copy(c.Root[:], raw)
	return c, nil
}

// Signer signs checkpoints. Its key is kept apart from the data keys (its own file).
type Signer struct {
	origin   string
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

// GenerateSignerKey makes a new Ed25519 note key for origin; skey is secret, vkey is the public verifier key
// to hand to auditors.
func GenerateSignerKey(origin string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, origin)
}

// NewSigner loads a note signing key (from GenerateSignerKey) and derives its verifier.
func NewSigner(skey, vkey string) (*Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
		return nil, errors.New("checkpoint signing and verifier keys do not match")
	}
	return &Signer{origin: s.Name(), signer: s, verifier: v, vkey: vkey}, nil
}

// Origin names the log in checkpoints.
func (s *Signer) Origin() string { return s.origin }

// VerifierKey is the public key in note verifier format ("name+hash+base64").
func (s *Signer) VerifierKey() string { return s.vkey }

// KeyID is the key hash that identifies the signature, as hex.
func (s *Signer) KeyID() string { return fmt.Sprintf("%08x", s.signer.KeyHash()) }

// Verifier returns the note verifier for this key.
func (s *Signer) Verifier() note.Verifier { return s.verifier }

// Sign returns the signed note of a tree of the given size and root.
func (s *Signer) Sign(size int64, root tlog.Hash) ([]byte, error) {
	return note.Sign(&note.Note{Text: Checkpoint{Origin: s.origin, Size: size, Root: root}.Text()}, s.signer)
}

// SignText signs any text (ending in a newline) as a signed note with the checkpoint key: export
// manifests and erasure receipts are signed this way, checkable with the same verifier key.
func (s *Signer) SignText(text string) ([]byte, error) {
	return note.Sign(&note.Note{Text: text}, s.signer)
}

// OpenCheckpoint verifies a signed note against v and parses it.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, errors.New("checkpoint origin does not match the key")
	}
	return c, nil
}

// NewVerifier parses a verifier key (the public half, as in the ".pub" file) for Verify and OpenCheckpoint.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	return v, nil
}
