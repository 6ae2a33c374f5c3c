package policies

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Names of the policy files.
const (
	fileGrants     = "grants.json"
	fileInferences = "inferences.json"
	fileModel      = "model.conf"
	filePolicy     = "policy.csv"
	filePurposes   = "purposes.json"
	fileSchema     = "schema.json"
	fileStrategy   = "strategy.json"
	fileTaxonomy   = "taxonomy.json"
)

// maxFileSize bounds a policy file read from disk.
const maxFileSize = 4 << 20

//go:embed grants.json inferences.json model.conf policy.csv purposes.json schema.json strategy.json taxonomy.json
var embedded embed.FS

// FileNames returns the names of the policy files in canonical (sorted) order.
func FileNames() []string {
	return []string{fileGrants, fileInferences, fileModel, filePolicy, filePurposes, fileSchema, fileStrategy, fileTaxonomy}
}

// Embedded returns a copy of the built-in policy file with that name, or nil for an unknown name.
func Embedded(name string) []byte {
	b, err := embedded.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}

// readFiles returns the policy files: each from dir when dir is not empty and holds a file of that name,
// otherwise the embedded one.
func readFiles(dir string) (map[string][]byte, error) {
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: policy directory: %w", ErrInvalid, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%w: policy directory %q is not a directory", ErrInvalid, dir)
		}
	}
	files := make(map[string][]byte, 4)
	for _, name := range FileNames() {
		if dir != "" {
			b, err := readFile(filepath.Join(dir, name))
			switch {
			case err == nil:
				files[name] = b
				continue
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
			}
		}
		b, err := embedded.ReadFile(name)
		if err != nil { // cannot happen: the files are embedded at build time
			return nil, fmt.Errorf("%w: embedded %s: %w", ErrInvalid, name, err)
		}
		files[name] = b
	}
	return files, nil
}

// readFile reads a regular file of at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return os.ReadFile(path)
}

// hashFiles is the hex SHA-256 of the canonical concatenation of the files: for each file in sorted name
// order, its name, a newline, its length in decimal, a newline, and its bytes.
func hashFiles(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range FileNames() {
		b := files[name]
		h.Write([]byte(name))
		h.Write([]byte{'\n'})
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write([]byte{'\n'})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
