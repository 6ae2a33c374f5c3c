package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/profilevault/profilevault/internal/datadir"
)

const (
	// ringFormat is the ring file format this package writes. Format 1 (no retirement marks) is still read.
	ringFormat = 2
	// keySize is the size of every key in the ring and of every DEK (AES-256).
	keySize = 32
	// maxRingFileSize bounds how much of a ring file is read.
	maxRingFileSize = 1 << 20
)

// kek is one key-encryption-key version with its AEAD built once. A retired version still unwraps (so a
// reader holding an older snapshot of a DEK row keeps working) but never wraps; a purged version is a
// tombstone without key material.
type kek struct {
	version uint32
	key     secret // nil once purged
	created time.Time
	retired time.Time // zero while live
	purged  time.Time // zero unless purged
	aead    cipher.AEAD
}

// live reports whether the version is neither retired nor purged.
func (k *kek) live() bool { return k.retired.IsZero() }

// KEKInfo describes one KEK version of the ring, without key material.
type KEKInfo struct {
	Version   uint32
	Active    bool
	CreatedAt time.Time
	RetiredAt time.Time // zero while live
	PurgedAt  time.Time // zero unless the key material was destroyed
}

// Ring is the versioned key-encryption-key ring, persisted as one JSON file (mode 0600), plus an
// independent blind-index root key and a pseudonym root key that are not rotated with the KEK.
// The highest version is the active KEK: new DEKs are wrapped under it. Older versions only unwrap;
// Retire marks a version that nothing uses any more (it keeps unwrapping), and only Purge destroys its
// key material. Every change is written atomically, and the file it replaces is kept beside it as
// PATH.prev until the next successful write. A Ring is safe for concurrent use.
//
// A Ring never reveals key material through fmt, encoding/json or log/slog.
type Ring struct {
	mu     sync.RWMutex
	path   string
	active uint32
	keks   map[uint32]*kek // every version, purged ones as tombstones; replaced (never mutated) on change

	// Immutable after construction; key material sits behind pointers so that even a
	// formatted Ring value shows addresses, not bytes.
	index  *BlindIndex
	pseudo *Pseudonymizer
	notes  *NoteSealer
	now    func() time.Time
	file   refreshState // the file as last read or written (refresh.go)
}

// ringFile is the on-disk JSON document; see the package documentation.
type ringFile struct {
	Format       int           `json:"format"`
	Active       uint32        `json:"active"`
	KEKs         []ringFileKEK `json:"keks"`
	IndexKey     []byte        `json:"index_key"`
	PseudonymKey []byte        `json:"pseudonym_key"`
}

// ringFileKEK is one entry of ringFile.KEKs. A purged entry has no key.
type ringFileKEK struct {
	Version   uint32     `json:"version"`
	Key       []byte     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	PurgedAt  *time.Time `json:"purged_at,omitempty"`
}

// LoadOrCreateRing opens the ring stored at path, or creates a new one (KEK version 1 plus fresh
// index and pseudonym root keys) if no file exists there, creating missing parent directories
// with mode 0700 and the file with mode 0600. created reports whether a new ring was written.
//
// It returns ErrInsecurePermissions if the existing file grants any permission to group or
// other, and ErrMalformedRing if the file cannot be parsed or validated; an existing file is
// never overwritten. If another process creates the file concurrently, the one written first
// wins and is loaded by the other.
func LoadOrCreateRing(path string) (r *Ring, created bool, err error) {
	if path == "" {
		return nil, false, fmt.Errorf("keys: ring path is empty: %w", ErrInvalidArgument)
	}
	r, err = openRing(path)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if _, perr := os.Stat(path + prevSuffix); perr == nil {
		// A new ring would make every DEK wrapped under the lost one unreadable.
		return nil, false, fmt.Errorf("keys: ring %s is missing but its previous copy %s exists; restore it instead of starting a new ring: %w",
			path, path+prevSuffix, ErrMalformedRing)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: create ring directory: %w", err)
	}
	r, err = newRing(path, time.Now)
	if err != nil {
		return nil, false, err
	}
	data, err := r.encodeLocked(r.active, r.keks)
	if err != nil {
		return nil, false, err
	}
	defer wipe(data)
	err = createExclusive(path, data)
	if errors.Is(err, fs.ErrExist) {
		// Lost a creation race: load whatever the winner wrote.
		r, err = openRing(path)
		return r, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// newRing builds a ring with fresh random keys and KEK version 1.
func newRing(path string, now func() time.Time) (*Ring, error) {
	k, err := newKEK(1, randomKey(), now())
	if err != nil {
		return nil, err
	}
	r := &Ring{path: path, active: 1, keks: map[uint32]*kek{1: k}, now: now}
	if err := r.initDerived(randomKey(), randomKey()); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRing opens the ring stored at path and never creates one: for a data directory whose database
// already holds wrapped DEKs, a new ring would make all of them unreadable. Errors are those of
// LoadOrCreateRing; a missing file matches fs.ErrNotExist.
func OpenRing(path string) (*Ring, error) {
	r, err := openRing(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keys: ring %s does not exist: %w", path, err)
	}
	return r, err
}

// openRing reads and validates the ring file at path. A missing file yields an error
// matching fs.ErrNotExist.
func openRing(path string) (*Ring, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keys: open ring: %w", err)
	}
	defer f.Close()

	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: stat ring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: ring %s is not a regular file: %w", path, ErrMalformedRing)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keys: ring %s has mode %#o, want 0600: %w", path, perm, ErrInsecurePermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRingFileSize+1))
	defer wipe(data)
	if err != nil {
		return nil, fmt.Errorf("keys: read ring: %w", err)
	}
	if len(data) > maxRingFileSize {
		return nil, fmt.Errorf("keys: ring %s is larger than %d bytes: %w", path, maxRingFileSize, ErrMalformedRing)
	}
	r, err := decodeRing(path, data)
	if err != nil {
		return nil, fmt.Errorf("keys: ring %s: %w", path, err)
	}
	r.file.size, r.file.mod = fi.Size(), fi.ModTime()
	return r, nil
}

// decodeRing parses and validates a ring document. Error messages describe the problem but
// never include key material.
func decodeRing(path string, data []byte) (*Ring, error) {
	var doc ringFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		// json errors quote offending tokens, which may be key bytes: report only the kind.
		return nil, fmt.Errorf("invalid JSON (%s): %w", jsonErrorKind(err), ErrMalformedRing)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the ring document: %w", ErrMalformedRing)
	}
	if doc.Format != 1 && doc.Format != ringFormat {
		return nil, fmt.Errorf("unsupported format %d: %w", doc.Format, ErrMalformedRing)
	}
	if len(doc.KEKs) == 0 {
		return nil, fmt.Errorf("no KEKs: %w", ErrMalformedRing)
	}
	if len(doc.IndexKey) != keySize {
		return nil, fmt.Errorf("index_key is not %d bytes: %w", keySize, ErrMalformedRing)
	}
	if len(doc.PseudonymKey) != keySize {
		return nil, fmt.Errorf("pseudonym_key is not %d bytes: %w", keySize, ErrMalformedRing)
	}
	keks := make(map[uint32]*kek, len(doc.KEKs))
	var highest uint32
	for i, e := range doc.KEKs {
		purged := e.PurgedAt != nil
		switch {
		case e.Version == 0:
			return nil, fmt.Errorf("keks[%d]: version 0: %w", i, ErrMalformedRing)
		case keks[e.Version] != nil:
			return nil, fmt.Errorf("keks[%d]: duplicate version %d: %w", i, e.Version, ErrMalformedRing)
		case !purged && len(e.Key) != keySize:
			return nil, fmt.Errorf("keks[%d]: key is not %d bytes: %w", i, keySize, ErrMalformedRing)
		case purged && len(e.Key) != 0:
			return nil, fmt.Errorf("keks[%d]: purged version still holds a key: %w", i, ErrMalformedRing)
		case purged && e.RetiredAt == nil:
			return nil, fmt.Errorf("keks[%d]: purged version was never retired: %w", i, ErrMalformedRing)
		case e.CreatedAt.IsZero():
			return nil, fmt.Errorf("keks[%d]: created_at missing: %w", i, ErrMalformedRing)
		}
		k := &kek{version: e.Version, created: e.CreatedAt.UTC()}
		if !purged {
			var err error
			if k, err = newKEK(e.Version, e.Key, e.CreatedAt); err != nil {
				return nil, err
			}
		} else {
			k.purged = e.PurgedAt.UTC()
		}
		if e.RetiredAt != nil {
			k.retired = e.RetiredAt.UTC()
		}
		keks[e.Version] = k
		highest = max(highest, e.Version)
	}
	if keks[doc.Active] == nil {
		return nil, fmt.Errorf("active version %d is not among the KEKs: %w", doc.Active, ErrMalformedRing)
	}
	if !keks[doc.Active].live() {
		return nil, fmt.Errorf("active version %d is retired: %w", doc.Active, ErrMalformedRing)
	}
	if doc.Active != highest {
		return nil, fmt.Errorf("active version %d is not the highest version %d: %w", doc.Active, highest, ErrMalformedRing)
	}
	r := &Ring{path: path, active: doc.Active, keks: keks, now: time.Now}
	if err := r.initDerived(doc.IndexKey, doc.PseudonymKey); err != nil {
		return nil, err
	}
	return r, nil
}

// jsonErrorKind names the class of a JSON decoding error without quoting input.
func jsonErrorKind(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at offset %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("wrong type for %q", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown member"
	default:
		return "undecodable"
	}
}

// initDerived sets up the blind index and pseudonymizer from their root keys.
func (r *Ring) initDerived(indexKey, pseudonymKey []byte) error {
	b, err := newBlindIndex(indexKey)
	if err != nil {
		return err
	}
	p, err := newPseudonymizer(pseudonymKey)
	if err != nil {
		return err
	}
	n, err := newNoteSealer(indexKey)
	if err != nil {
		return err
	}
	r.index, r.pseudo, r.notes = b, p, n
	return nil
}

// newKEK builds a kek, including its AES-256-GCM AEAD.
func newKEK(version uint32, key []byte, created time.Time) (*kek, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &kek{version: version, key: key, created: created.UTC().Truncate(time.Second), aead: aead}, nil
}

// newAEAD builds AES-256-GCM with a 12-byte nonce over a 32-byte key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("keys: key is not %d bytes: %w", keySize, ErrInvalidArgument)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: build AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: build GCM: %w", err)
	}
	return aead, nil
}

// randomKey returns 32 bytes from crypto/rand (which never fails on supported platforms).
func randomKey() []byte {
	k := make([]byte, keySize)
	_, _ = rand.Read(k)
	return k
}

// Path returns the file the ring is persisted to.
func (r *Ring) Path() string { return r.path }

// ActiveVersion returns the KEK version new DEKs are wrapped under.
func (r *Ring) ActiveVersion() uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.active
}

// Versions returns the live (neither retired nor purged) KEK versions in ascending order.
func (r *Ring) Versions() []uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []uint32
	for _, v := range slices.Sorted(maps.Keys(r.keks)) {
		if r.keks[v].live() {
			out = append(out, v)
		}
	}
	return out
}

// KEKs describes every version the ring knows, purged ones included, in ascending order.
func (r *Ring) KEKs() []KEKInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]KEKInfo, 0, len(r.keks))
	for _, v := range slices.Sorted(maps.Keys(r.keks)) {
		k := r.keks[v]
		out = append(out, KEKInfo{Version: v, Active: v == r.active, CreatedAt: k.created, RetiredAt: k.retired, PurgedAt: k.purged})
	}
	return out
}

// Rotate adds KEK version ActiveVersion()+1, makes it active and persists the ring atomically
// (temporary file in the same directory, fsync, rename, fsync of the directory). Existing wrapped
// DEKs keep unwrapping under their old version until Rewrap moves them. If persisting fails the
// ring is unchanged.
func (r *Ring) Rotate() (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == math.MaxUint32 {
		return 0, fmt.Errorf("keys: KEK versions exhausted: %w", ErrInvalidArgument)
	}
	v := r.active + 1
	k, err := newKEK(v, randomKey(), r.now())
	if err != nil {
		return 0, err
	}
	keks := maps.Clone(r.keks)
	keks[v] = k
	if err := r.persistLocked(v, keks); err != nil {
		return 0, err
	}
	r.active, r.keks = v, keks
	return v, nil
}

// Retire marks versions as retired: they are never wrapped under again (only the active version ever
// is) and keep unwrapping until Purge destroys them. The caller must have established, in the same
// write transaction that records the retirement, that no stored DEK is wrapped under them. Retiring
// the active or an unknown version is an error (ErrInvalidArgument) and changes nothing; an already
// retired version is left as it is. If persisting fails the ring is unchanged.
func (r *Ring) Retire(versions []uint32) error {
	return r.change(versions, func(k *kek, now time.Time) (*kek, error) {
		if !k.live() {
			return nil, nil
		}
		n := *k
		n.retired = now
		return &n, nil
	})
}

// Purge destroys the key material of retired versions; wrapped DEKs under a purged version can never be
// unwrapped again (ErrKEKUnavailable). The caller must have re-checked, in a write transaction, that no
// stored DEK is wrapped under them. Purging a live or unknown version is an error (ErrInvalidArgument)
// and changes nothing. If persisting fails the ring is unchanged.
func (r *Ring) Purge(versions []uint32) error {
	var purged []*kek
	err := r.change(versions, func(k *kek, now time.Time) (*kek, error) {
		switch {
		case k.live():
			return nil, fmt.Errorf("keys: KEK version %d is not retired: %w", k.version, ErrInvalidArgument)
		case !k.purged.IsZero():
			return nil, nil
		}
		purged = append(purged, k)
		return &kek{version: k.version, created: k.created, retired: k.retired, purged: now}, nil
	})
	if err == nil {
		for _, k := range purged {
			// Best effort: the AEAD's expanded key schedule is dropped with the kek, not zeroed.
			wipe(k.key)
		}
	}
	return err
}

// ForgetPrevious makes the copy of the ring kept beside it (PATH.prev, the ring before its last write)
// the current ring: after a deliberate purge, the copy would still hold the purged keys. (Ring.Purge
// alone keeps it, so that a purge nobody meant can be undone from it.)
func (r *Ring) ForgetPrevious() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return keepPrevious(r.path)
}

// change applies fn to each named non-active version (nil from fn: leave it) and persists the result.
func (r *Ring) change(versions []uint32, fn func(*kek, time.Time) (*kek, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now().UTC().Truncate(time.Second)
	var keks map[uint32]*kek
	for _, v := range versions {
		k := r.keks[v]
		switch {
		case k == nil:
			return fmt.Errorf("keys: unknown KEK version %d: %w", v, ErrInvalidArgument)
		case v == r.active:
			return fmt.Errorf("keys: KEK version %d is active: %w", v, ErrInvalidArgument)
		}
		n, err := fn(k, now)
		if err != nil {
			return err
		}
		if n != nil {
			if keks == nil {
				keks = maps.Clone(r.keks)
			}
			keks[v] = n
		}
	}
	if keks == nil {
		return nil
	}
	if err := r.persistLocked(r.active, keks); err != nil {
		return err
	}
	r.keks = keks
	return nil
}

// persistLocked writes the given state to r.path atomically. r.mu must be held for writing.
func (r *Ring) persistLocked(active uint32, keks map[uint32]*kek) error {
	data, err := r.encodeLocked(active, keks)
	if err != nil {
		return err
	}
	defer wipe(data)
	if err := writeAtomic(r.path, data); err != nil {
		return err
	}
	r.noteFile()
	return nil
}

// encodeLocked renders the given state as the ring JSON document.
func (r *Ring) encodeLocked(active uint32, keks map[uint32]*kek) ([]byte, error) {
	doc := ringFile{
		Format:       ringFormat,
		Active:       active,
		IndexKey:     r.index.s.root,
		PseudonymKey: r.pseudo.s.root,
	}
	for _, v := range slices.Sorted(maps.Keys(keks)) {
		k := keks[v]
		e := ringFileKEK{Version: v, Key: k.key, CreatedAt: k.created}
		if !k.retired.IsZero() {
			e.RetiredAt = &k.retired
		}
		if !k.purged.IsZero() {
			e.PurgedAt = &k.purged
		}
		doc.KEKs = append(doc.KEKs, e)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keys: encode ring: %w", err)
	}
	return append(data, '\n'), nil
}

// writeTemp writes data to a new 0600 temporary file beside path and fsyncs it. The caller
// removes the file when it no longer needs it.
func writeTemp(path string, data []byte) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("keys: create temporary ring file: %w", err)
	}
	name := f.Name()
	fail := func(op string, err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(name)
		return "", fmt.Errorf("keys: %s temporary ring file: %w", op, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("keys: close temporary ring file: %w", err)
	}
	return name, nil
}

// prevSuffix names the copy of the ring file that the last successful write replaced.
const prevSuffix = ".prev"

// writeAtomic replaces path with data: temporary file, fsync, rename, fsync of the directory. The file
// it replaces stays beside it as path+".prev" (hard-linked there before the rename), so at every
// instant of a crash both the current ring and the one before it exist on disk.
func writeAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := keepPrevious(path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keys: replace ring file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// keepPrevious hard-links the current file at path to path+".prev" (replacing an older copy atomically).
func keepPrevious(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+".prev-tmp")
	_ = os.Remove(tmp)
	if err := os.Link(path, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("keys: keep previous ring file: %w", err)
	}
	if err := os.Rename(tmp, path+prevSuffix); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keys: keep previous ring file: %w", err)
	}
	return nil
}

// createExclusive writes data to path only if path does not exist yet (an error matching
// fs.ErrExist otherwise), so a concurrently created ring is never replaced. It hard-links a
// fully written temporary file into place; where links are unsupported it falls back to an
// O_EXCL create.
func createExclusive(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	linkErr := os.Link(tmp, path)
	_ = os.Remove(tmp)
	switch {
	case linkErr == nil:
	case errors.Is(linkErr, fs.ErrExist):
		return linkErr
	default:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("keys: create ring file: %w", err)
		}
		_, werr := f.Write(data)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("keys: write ring file: %w", werr)
		}
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs the ring's directory so that a rename or link in it is durable.
func syncDir(dir string) error {
	if err := datadir.SyncDir(dir); err != nil {
		return fmt.Errorf("keys: fsync ring directory: %w", err)
	}
	return nil
}

// BlindIndex returns the ring's blind-index token generator. Its keys derive from the index root
// key, which KEK rotation never changes.
func (r *Ring) BlindIndex() *BlindIndex { return r.index }

// Pseudonymizer returns the ring's pseudonym generator for audit subject references. Its key
// derives from the pseudonym root key, which KEK rotation never changes.
func (r *Ring) Pseudonymizer() *Pseudonymizer { return r.pseudo }

// NoteSealer returns the sealer of audit notes (justifications), keyed independently of KEK rotation.
func (r *Ring) NoteSealer() *NoteSealer { return r.notes }

// describe is the redacted description shared by String, GoString and Format.
func (r *Ring) describe() string {
	if r == nil {
		return "keys.Ring(nil)"
	}
	return fmt.Sprintf("keys.Ring{path: %q, active: %d, versions: %v, keys: %s}",
		r.path, r.ActiveVersion(), r.Versions(), redacted)
}

// String returns a description of the ring without key material.
func (r *Ring) String() string { return r.describe() }

// GoString returns a description of the ring without key material.
func (r *Ring) GoString() string { return r.describe() }

// Format writes a description of the ring without key material, whatever the verb.
func (r *Ring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.describe()) }

// MarshalJSON returns the ring's path and versions with its keys redacted. It is not the ring
// file format; the ring is only ever persisted by the ring itself.
func (r *Ring) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Path     string   `json:"path"`
		Active   uint32   `json:"active"`
		Versions []uint32 `json:"versions"`
		Keys     string   `json:"keys"`
	}{r.path, r.ActiveVersion(), r.Versions(), redacted})
}

// LogValue returns the ring's path and versions with its keys redacted.
func (r *Ring) LogValue() slog.Value {
	if r == nil {
		return slog.StringValue("keys.Ring(nil)")
	}
	return slog.GroupValue(
		slog.String("path", r.path),
		slog.Any("active", r.ActiveVersion()),
		slog.Any("versions", r.Versions()),
		slog.String("keys", redacted),
	)
}
