package seglog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/datadir"
)

// Import builds a new log in dir from a trail kept elsewhere until now: entries already numbered from 1 and
// chained (audit.Assemble), read in order from entries, and the checkpoints signed over them, oldest first.
// Every entry must continue the one before, and every checkpoint's root must be the tree of the entries it
// covers, or nothing is imported. dir must not hold a log yet: the log is built in a directory beside it
// and renamed into place, so an import that stops halfway leaves nothing behind. Open writes the tiles.
// It returns the number of entries imported.
func Import(dir string, entries func(yield func(canonical []byte) error) error, checkpoints []audit.StoredCheckpoint) (int64, error) {
	if names, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log")); len(names) > 0 {
		return 0, fmt.Errorf("seglog: import into %s: a log is already there", dir)
	}
	tmp := dir + ".import"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "segments"), 0o700); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(filepath.Join(tmp, "segments", fmt.Sprintf("%020d.log", 1)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	roots := map[int64]audit.Checkpoint{}
	for _, sc := range checkpoints {
		c, err := parseNote(sc.Note)
		if err == nil && c.Size != sc.Size {
			err = fmt.Errorf("the note signs size %d", c.Size)
		}
		if err != nil {
			return 0, fmt.Errorf("seglog: import checkpoint at size %d: %w", sc.Size, err)
		}
		roots[c.Size] = c
	}
	var (
		tree   audit.Tree
		size   int64
		head   = audit.GenesisHash
		frames []byte
	)
	err = entries(func(canonical []byte) error {
		one := [][]byte{canonical}
		next, leaf, ok := audit.Continues(size, head, size+1, one, nil)
		if !ok {
			return fmt.Errorf("%w: entry %d is not numbered and chained after entry %d", ErrOutOfOrder, size+1, size)
		}
		size, head = size+1, next
		tree.IntegrateHashed(one, leaf)
		if c, ok := roots[size]; ok && tree.Frontier.Root() != c.Root {
			return fmt.Errorf("%w: the checkpoint at size %d does not sign the tree of the entries", ErrCorrupt, size)
		}
		if frames = appendFrame(frames, canonical); len(frames) >= 1<<20 {
			if _, err := f.Write(frames); err != nil {
				return err
			}
			frames = frames[:0]
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, sc := range checkpoints {
		if sc.Size > size {
			return 0, fmt.Errorf("%w: a checkpoint covers %d entries but only %d were imported", ErrCorrupt, sc.Size, size)
		}
	}
	if _, err := f.Write(frames); err != nil {
		return 0, err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return 0, err
	}
	var notes []byte
	for _, sc := range checkpoints {
		notes = appendFrame(notes, sc.Note)
	}
	if err := os.WriteFile(filepath.Join(tmp, "checkpoints"), notes, 0o600); err != nil {
		return 0, err
	}
	if n := len(checkpoints); n > 0 {
		if err := writeFileAtomic(filepath.Join(tmp, "checkpoint"), checkpoints[n-1].Note); err != nil {
			return 0, err
		}
	}
	if err := errors.Join(datadir.SyncDir(filepath.Join(tmp, "segments")), datadir.SyncDir(tmp)); err != nil {
		return 0, err
	}
	// dir may exist, empty (created by a first Open that found nothing to import): replace it.
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return 0, err
	}
	return size, datadir.SyncDir(filepath.Dir(dir))
}

// parseNote reads the checkpoint a signed note carries (without checking its signature).
func parseNote(signed []byte) (audit.Checkpoint, error) {
	text := string(signed)
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i+1]
	}
	if !bytes.HasSuffix([]byte(text), []byte("\n")) {
		return audit.Checkpoint{}, errors.New("not a signed note")
	}
	return audit.ParseCheckpoint(text)
}
