// Package backup owns the vault's backup archive: a consistent online snapshot of a data directory's
// database, key files and audit log, written as a tar stream encrypted with age (filippo.io/age) to one
// or more X25519 recipients, and its restore into a new data directory.
//
// The archive is a standard format on purpose: `age -d -i KEY backup.age | tar -t` lists it with
// off-the-shelf tools. Its last member, MANIFEST.json, holds the SHA-256 and size of every other
// member; Restore refuses an archive whose members do not match it, and removes what it wrote.
//
// Consistency without stopping the server rests on three facts of the data directory's design:
//   - the database copy is the database as of one commit (for SQLite, VACUUM INTO inside one read
//     transaction: sqlite.Snapshot);
//   - the audit log is append-only and every change's entry is on disk before its COMMIT (write-ahead
//     intents), so a log copied after the database holds every entry the copy's changes need; entries
//     beyond (reads, or changes committed after the snapshot) are kept, and at the restored vault's
//     first start the recovery records each such change as aborted: it is not in the restored data;
//   - the checkpoints file is copied before the segments, so no copied checkpoint covers more entries
//     than the copied segments hold (a segment's last frame may be cut mid-write; the log's recovery
//     cuts such a torn frame off, as after a crash). Tiles are not copied: the log rebuilds them.
//
// The key ring is read before and after the database copy and the copy is retried if a key rotation
// changed the ring in between, so every DEK in the copy is wrapped under a KEK the copied ring holds.
//
// The erasure ledger (internal/erasures) is never part of a backup: it is what a restore reads to erase
// again everyone erased after the backup was taken.
//
// A vault kept in PostgreSQL is archived the same way (WritePostgres, format 2): the key files and a dump
// of the database taken in one snapshot — its rows and its audit log, written in the same transactions,
// so the dump holds every change with its entries — with what that snapshot held (the log's head, row
// counts) in the manifest, for the restore to check the restored database against.
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"

	"filippo.io/age"
	"syscall"
)

// Archive member names: the data directory's layout (internal/datadir).
const (
	nameDB          = "vault.db"
	nameKEK         = "kek.json"
	nameJWTKey      = "jwt-signing-key.pem"
	nameAuditKey    = "audit-checkpoint.key"
	nameAuditPub    = "audit-checkpoint.key.pub"
	nameCheckpoints = "audit/checkpoints"
	segmentsDir     = "audit/segments/"
	nameManifest    = "MANIFEST.json"
	nameDump        = "postgres.dump"
	formatVersion   = 1 // a data dir of the embedded store
	// FormatPostgres is the format of an archive of a vault kept in PostgreSQL: the key files and a dump.
	FormatPostgres = 2
)

var segmentName = regexp.MustCompile(`^audit/segments/[0-9]{20}\.log$`)

// Sources are what a backup copies: a data directory's files, or files kept elsewhere (--kek-file), and
// the database, which the store's own driver copies (SnapshotDB writes a consistent copy to dst).
type Sources struct {
	SnapshotDB                             func(ctx context.Context, dst string) error
	KEKRing, JWTKey, AuditKey, AuditLogDir string
}

// Manifest describes an archive: its format, when it was taken, and every member's size and SHA-256.
type Manifest struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Files     []File    `json:"files"`
	// Postgres is what the dump of a PostgreSQL archive holds (postgres.DumpInfo), read in its snapshot.
	Postgres json.RawMessage `json:"postgres,omitempty"`
}

// PostgresSources are what a backup of a vault kept in PostgreSQL copies: the key files, and the database,
// which Dump writes to dst in one snapshot, returning what that snapshot held (kept in the manifest).
type PostgresSources struct {
	Dump                      func(ctx context.Context, dst string) (json.RawMessage, error)
	KEKRing, JWTKey, AuditKey string
}

// DumpFile is where Restore leaves a PostgreSQL archive's dump in the restored directory (for the caller
// to restore into the database and remove).
func DumpFile(dir string) string { return filepath.Join(dir, nameDump) }

// File is one archive member.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// member is a file to archive: its bytes (small files read at snapshot time) or a prefix of a file on disk.
type member struct {
	name string
	data []byte
	path string
	size int64
}

// maxRingRetries bounds how often a key rotation may force the snapshot to start over.
const maxRingRetries = 5

// Write takes a consistent snapshot of src and writes it to w, encrypted to recipients. staging is a
// directory for the database copy (removed afterwards; see StagingDir); it needs room for one compacted
// copy.
func Write(ctx context.Context, src Sources, staging string, recipients []age.Recipient, w io.Writer) (Manifest, error) {
	tmp, done, err := stagingDir(staging, recipients)
	if err != nil {
		return Manifest{}, err
	}
	defer done()
	members, err := snapshot(ctx, src, tmp)
	if err != nil {
		return Manifest{}, err
	}
	return writeArchive(members, Manifest{Format: formatVersion, CreatedAt: time.Now().UTC()}, recipients, w)
}

// stagingPrefix names the directories a backup stages its unencrypted database copy in.
const stagingPrefix = ".backup-staging-"

// stagingDir refuses a backup without recipients (a backup is always encrypted), removes what backups
// killed before they could clean up left behind (CleanStaging), and makes the temporary directory (0700)
// under staging, locked while this backup uses it; done removes it.
func stagingDir(staging string, recipients []age.Recipient) (dir string, done func(), err error) {
	if len(recipients) == 0 {
		return "", nil, errors.New("backup: no recipient: a backup is always encrypted")
	}
	if err := CleanStaging(staging); err != nil {
		return "", nil, err
	}
	if dir, err = os.MkdirTemp(staging, stagingPrefix); err != nil {
		return "", nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("backup: lock staging dir: %w", err)
	}
	return dir, func() { os.RemoveAll(dir); lock.Close() }, nil
}

// CleanStaging removes the staging directories under dir that no running backup holds: a backup killed
// (kill -9, a power cut) leaves an unencrypted copy of the database there, with the wrapped keys of people
// erased since, which no erasure would ever reach. Backups and the server's start call it.
func CleanStaging(dir string) error {
	stale, err := filepath.Glob(filepath.Join(dir, stagingPrefix+"*"))
	if err != nil {
		return err
	}
	for _, d := range stale {
		lock, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_RDWR, 0)
		if err == nil {
			if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				lock.Close()
				continue // a backup is using it
			}
		}
		rmErr := os.RemoveAll(d)
		if lock != nil {
			lock.Close()
		}
		if rmErr != nil {
			return fmt.Errorf("backup: remove a stale staging dir: %w", rmErr)
		}
	}
	return nil
}

// WritePostgres takes a consistent backup of a vault kept in PostgreSQL — the key files and src.Dump's
// dump, the ring read before and after it (a rotation in between starts it over) — and writes it to w,
// encrypted to recipients. staging is a directory for the dump (removed afterwards).
func WritePostgres(ctx context.Context, src PostgresSources, staging string, recipients []age.Recipient, w io.Writer) (Manifest, error) {
	tmp, done, err := stagingDir(staging, recipients)
	if err != nil {
		return Manifest{}, err
	}
	defer done()
	var info json.RawMessage
	members, err := underStableRing(src.KEKRing, src.JWTKey, src.AuditKey, func() ([]member, error) {
		dump := filepath.Join(tmp, nameDump)
		_ = os.Remove(dump)
		var err error
		if info, err = src.Dump(ctx, dump); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		fi, err := os.Stat(dump)
		if err != nil {
			return nil, err
		}
		return []member{{name: nameDump, path: dump, size: fi.Size()}}, nil
	})
	if err != nil {
		return Manifest{}, err
	}
	return writeArchive(members, Manifest{Format: FormatPostgres, CreatedAt: time.Now().UTC(), Postgres: info}, recipients, w)
}

// underStableRing reads the key files, runs capture (the copy of what the ring's keys open: the database,
// the log), then reads the ring again: a key rotation in between starts over, at most maxRingRetries
// times. It returns the key files' members, then capture's.
func underStableRing(ringPath, jwtKey, auditKey string, capture func() ([]member, error)) ([]member, error) {
	for attempt := 0; attempt < maxRingRetries; attempt++ {
		ring, small, err := keyFiles(ringPath, jwtKey, auditKey)
		if err != nil {
			return nil, err
		}
		captured, err := capture()
		if err != nil {
			return nil, err
		}
		after, err := os.ReadFile(ringPath)
		if err != nil {
			return nil, fmt.Errorf("backup: key ring: %w", err)
		}
		if !bytes.Equal(ring, after) {
			continue // a key rotation changed the ring while the data was copied: start over
		}
		out := append([]member{{name: nameKEK, data: ring, size: int64(len(ring))}}, small...)
		return append(out, captured...), nil
	}
	return nil, errors.New("backup: the key ring kept changing (a key rotation is running); try again when it is done")
}

// keyFiles reads the key ring and the other key files (the verifier key beside the checkpoint key is
// optional).
func keyFiles(ringPath, jwtKey, auditKey string) (ring []byte, small []member, err error) {
	if ring, err = os.ReadFile(ringPath); err != nil {
		return nil, nil, fmt.Errorf("backup: key ring: %w", err)
	}
	for _, f := range []struct {
		name, path string
		optional   bool
	}{{nameJWTKey, jwtKey, false}, {nameAuditKey, auditKey, false}, {nameAuditPub, auditKey + ".pub", true}} {
		b, err := os.ReadFile(f.path)
		if errors.Is(err, os.ErrNotExist) && f.optional {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("backup: %s: %w", f.name, err)
		}
		small = append(small, member{name: f.name, data: b, size: int64(len(b))})
	}
	return ring, small, nil
}

// writeArchive writes members and then m, completed with their sizes and digests, as an age-encrypted tar.
func writeArchive(members []member, m Manifest, recipients []age.Recipient, w io.Writer) (Manifest, error) {
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return Manifest{}, err
	}
	tw := tar.NewWriter(enc)
	for _, mb := range members {
		f, err := writeMember(tw, mb, m.CreatedAt)
		if err != nil {
			return Manifest{}, fmt.Errorf("backup %s: %w", mb.name, err)
		}
		m.Files = append(m.Files, f)
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if _, err := writeMember(tw, member{name: nameManifest, data: body, size: int64(len(body))}, m.CreatedAt); err != nil {
		return Manifest{}, err
	}
	if err := tw.Close(); err != nil {
		return Manifest{}, err
	}
	return m, enc.Close()
}

// snapshot captures the members in the order that keeps them consistent (see the package comment).
func snapshot(ctx context.Context, src Sources, tmp string) ([]member, error) {
	return underStableRing(src.KEKRing, src.JWTKey, src.AuditKey, func() ([]member, error) {
		cps, err := os.ReadFile(filepath.Join(src.AuditLogDir, "checkpoints"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("backup: checkpoints: %w", err)
		}
		db := filepath.Join(tmp, nameDB)
		_ = os.Remove(db)
		if err := src.SnapshotDB(ctx, db); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		segs, err := segmentPrefixes(filepath.Join(src.AuditLogDir, "segments"))
		if err != nil {
			return nil, fmt.Errorf("backup: audit log: %w", err)
		}
		fi, err := os.Stat(db)
		if err != nil {
			return nil, err
		}
		out := []member{{name: nameDB, path: db, size: fi.Size()}, {name: nameCheckpoints, data: cps, size: int64(len(cps))}}
		return append(out, segs...), nil
	})
}

// segmentPrefixes lists the log's segments with their sizes now: the archive copies exactly that much of
// each, whatever is appended while it is written.
func segmentPrefixes(dir string) ([]member, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []member
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			return nil, err
		}
		out = append(out, member{name: segmentsDir + filepath.Base(n), path: n, size: fi.Size()})
	}
	return out, nil
}

func writeMember(tw *tar.Writer, mb member, at time.Time) (File, error) {
	if err := tw.WriteHeader(&tar.Header{Name: mb.name, Mode: 0o600, Size: mb.size, ModTime: at, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return File{}, err
	}
	h := sha256.New()
	var r io.Reader = bytes.NewReader(mb.data)
	if mb.path != "" {
		f, err := os.Open(mb.path)
		if err != nil {
			return File{}, err
		}
		defer f.Close()
		r = io.LimitReader(f, mb.size)
	}
	n, err := io.Copy(io.MultiWriter(tw, h), r)
	if err != nil {
		return File{}, err
	}
	if n != mb.size {
		return File{}, fmt.Errorf("%d bytes of %d: the file shrank while it was copied", n, mb.size)
	}
	return File{Name: mb.name, Size: n, SHA256: hexSum(h)}, nil
}

// ErrNotEmpty means the restore target already holds files: a restore never overwrites a data directory.
var ErrNotEmpty = errors.New("restore target is not empty: restore into a new directory")

// Restore decrypts the archive from r with identities and writes its files into dir (created, mode
// 0700; it must not exist or be empty), checking every member against the manifest. On any error it
// removes what it wrote.
func Restore(r io.Reader, identities []age.Identity, dir string) (_ Manifest, err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return Manifest{}, ErrNotEmpty
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Manifest{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Manifest{}, err
	}
	defer func() {
		if err != nil {
			cleanDir(dir)
		}
	}()
	dec, err := age.Decrypt(r, identities...)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: decrypt: %w", err)
	}
	tr := tar.NewReader(dec)
	got := map[string]File{}
	var m *Manifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("restore: archive: %w", err)
		}
		if m != nil {
			return Manifest{}, errors.New("restore: archive: members after the manifest")
		}
		if hdr.Name == nameManifest {
			var mf Manifest
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&mf); err != nil {
				return Manifest{}, fmt.Errorf("restore: manifest: %w", err)
			}
			m = &mf
			continue
		}
		if hdr.Typeflag != tar.TypeReg || !knownMember(hdr.Name) {
			return Manifest{}, fmt.Errorf("restore: archive: unexpected member %q", hdr.Name)
		}
		if _, dup := got[hdr.Name]; dup {
			return Manifest{}, fmt.Errorf("restore: archive: member %q twice", hdr.Name)
		}
		f, err := extract(tr, filepath.Join(dir, filepath.FromSlash(hdr.Name)))
		if err != nil {
			return Manifest{}, fmt.Errorf("restore %s: %w", hdr.Name, err)
		}
		f.Name = hdr.Name
		got[hdr.Name] = f
	}
	if m == nil {
		return Manifest{}, errors.New("restore: archive has no manifest (cut short?)")
	}
	if m.Format != formatVersion && m.Format != FormatPostgres {
		return Manifest{}, fmt.Errorf("restore: archive format %d, this vaultd reads %d and %d", m.Format, formatVersion, FormatPostgres)
	}
	if len(m.Files) != len(got) {
		return Manifest{}, fmt.Errorf("restore: the manifest names %d files, the archive holds %d", len(m.Files), len(got))
	}
	for _, want := range m.Files {
		if have, ok := got[want.Name]; !ok || have != want {
			return Manifest{}, fmt.Errorf("restore: %s does not match the manifest", want.Name)
		}
	}
	need := []string{nameDB, nameKEK, nameJWTKey, nameAuditKey}
	if m.Format == FormatPostgres {
		need = []string{nameDump, nameKEK, nameJWTKey, nameAuditKey}
		if len(m.Postgres) == 0 {
			return Manifest{}, errors.New("restore: the manifest of a PostgreSQL archive does not say what its dump holds")
		}
	}
	for _, n := range need {
		if _, ok := got[n]; !ok {
			return Manifest{}, fmt.Errorf("restore: the archive lacks %s", n)
		}
	}
	for name := range got {
		if !memberOf(m.Format, name) {
			return Manifest{}, fmt.Errorf("restore: archive: member %q does not belong in an archive of format %d", name, m.Format)
		}
	}
	return *m, nil
}

func knownMember(name string) bool {
	return memberOf(formatVersion, name) || memberOf(FormatPostgres, name)
}

// memberOf reports whether name is a member of an archive of format.
func memberOf(format int, name string) bool {
	if slices.Contains([]string{nameKEK, nameJWTKey, nameAuditKey, nameAuditPub}, name) {
		return true
	}
	if format == FormatPostgres {
		return name == nameDump
	}
	return name == nameDB || name == nameCheckpoints || segmentName.MatchString(name)
}

func extract(r io.Reader, path string) (File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return File{}, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return File{Size: n, SHA256: hexSum(h)}, err
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// cleanDir removes what a failed restore wrote (the directory stays if it existed empty).
func cleanDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
