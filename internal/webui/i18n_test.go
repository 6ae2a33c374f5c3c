package webui

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestEveryPhraseExists finds every phrase key the templates, the scripts and the page table use and checks
// that it has a text in each language: a missing key would render as nothing.
func TestEveryPhraseExists(t *testing.T) {
	uses := map[string]bool{}
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`index \$?\.T "([a-z_.]+)"`), // templates
		regexp.MustCompile(`T\['([a-z_.]+)'\]`),         // scripts
	}
	for _, root := range []fs.FS{templateFS, staticFS} {
		err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(root, path)
			for _, re := range patterns {
				for _, m := range re.FindAllStringSubmatch(string(b), -1) {
					uses[m[1]] = true
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range consolePages {
		uses[p.Title] = true
	}
	for _, k := range []string{"signin.title", "demo.title", "refused.title", "csrf.title", "csrf.lead", "signin.bad", "signin.full",
		"privacy.title", "console.title", "identity.distinct", "identity.same_person"} {
		uses[k] = true // used through a view's Title or Error, or built in a script
	}
	if len(uses) < 50 {
		t.Fatalf("found only %d phrase uses: the patterns are stale", len(uses))
	}
	for k := range uses {
		v, ok := phrases[k]
		if !ok || strings.TrimSpace(v[0]) == "" || strings.TrimSpace(v[1]) == "" {
			t.Errorf("phrase %q is used but has no text in both languages", k)
		}
	}
}
