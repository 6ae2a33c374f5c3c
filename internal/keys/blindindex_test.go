package keys

import (
	"github.com/profilevault/profilevault/internal/normalize"

	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestBlindIndexToken(t *testing.T) {
	r := newTestRing(t)
	b := r.BlindIndex()

	t.Run("deterministic and 32 bytes", func(t *testing.T) {
		a1, a2 := b.Token("phone", "+8613800001234"), b.Token("phone", "+8613800001234")
		if len(a1) != 32 || !bytes.Equal(a1, a2) {
			t.Fatalf("tokens differ or are not 32 bytes: %d", len(a1))
		}
	})
	t.Run("differs per field and value", func(t *testing.T) {
		seen := map[string]string{}
		for _, c := range []struct{ field, value string }{
			{"phone", "+8613800001234"},
			{"email", "+8613800001234"},
			{"id_number", "+8613800001234"},
			{"phone", "+8613800001235"},
			{"", "+8613800001234"},
		} {
			tok := string(b.Token(c.field, c.value))
			if prev, ok := seen[tok]; ok {
				t.Errorf("token of %s/%s equals token of %s", c.field, c.value, prev)
			}
			seen[tok] = c.field + "/" + c.value
		}
	})
	t.Run("equal after normalisation", func(t *testing.T) {
		groups := []struct {
			field string
			norm  func(string) (string, error)
			in    []string
		}{
			{"phone", normalize.Phone, []string{"+86 138-0000-1234", "13800001234", "008613800001234", "+8613800001234", "(+86) 138 0000 1234"}},
			{"email", normalize.Email, []string{"LiLei@Example.CN", " lilei@example.cn ", "lilei@example.cn"}},
			{"id_number", normalize.IDNumber, []string{"11010519491231002x", " 11010519491231002X"}},
		}
		for _, g := range groups {
			var want []byte
			for _, in := range g.in {
				n, err := g.norm(in)
				if err != nil {
					t.Fatalf("%s: normalise %q: %v", g.field, in, err)
				}
				tok := b.Token(g.field, n)
				if want == nil {
					want = tok
				} else if !bytes.Equal(tok, want) {
					t.Errorf("%s: %q has a different token", g.field, in)
				}
			}
		}
	})
	t.Run("matches the documented construction", func(t *testing.T) {
		doc := ringFileKeys(t, r.Path())
		key, err := hkdf.Key(sha256.New, doc.IndexKey, nil, "profile-vault blind-index v1 phone", 32)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte("+8613800001234"))
		if !bytes.Equal(b.Token("phone", "+8613800001234"), m.Sum(nil)) {
			t.Error("token differs from HMAC-SHA256(HKDF-SHA256(index_key, info), value)")
		}
	})
	t.Run("independent of KEK rotation and reload", func(t *testing.T) {
		before := b.Token("phone", "+8613800001234")
		if _, err := r.Rotate(); err != nil {
			t.Fatal(err)
		}
		if err := r.Retire([]uint32{1}); err != nil {
			t.Fatal(err)
		}
		if err := r.Purge([]uint32{1}); err != nil {
			t.Fatal(err)
		}
		r2, _, err := LoadOrCreateRing(r.Path())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*BlindIndex{r.BlindIndex(), r2.BlindIndex()} {
			if !bytes.Equal(x.Token("phone", "+8613800001234"), before) {
				t.Error("token changed after rotation/reload")
			}
		}
	})
	t.Run("differs between rings", func(t *testing.T) {
		other := newTestRing(t)
		if bytes.Equal(other.BlindIndex().Token("phone", "x"), b.Token("phone", "x")) {
			t.Error("two rings produce the same token")
		}
	})
	t.Run("beyond the field key cache", func(t *testing.T) {
		for i := range maxCachedFields + 10 {
			f := "field-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i)
			if !bytes.Equal(b.Token(f, "v"), b.Token(f, "v")) {
				t.Fatalf("uncached field %q not deterministic", f)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		want := b.Token("email", "a@b.cn")
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 200 {
					if !bytes.Equal(b.Token("email", "a@b.cn"), want) {
						t.Error("concurrent token differs")
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestPseudonym(t *testing.T) {
	r := newTestRing(t)
	p := r.Pseudonymizer()
	format := regexp.MustCompile(`^ps_[a-z2-7]{32}$`)
	a := p.Pseudonym("7f1c2e5a-subject")
	if !format.MatchString(a) {
		t.Fatalf("pseudonym %q does not match %s", a, format)
	}
	if p.Pseudonym("7f1c2e5a-subject") != a {
		t.Error("pseudonym not deterministic")
	}
	if p.Pseudonym("7f1c2e5a-subjecu") == a || p.Pseudonym("") == a {
		t.Error("different subjects share a pseudonym")
	}
	if newTestRing(t).Pseudonymizer().Pseudonym("7f1c2e5a-subject") == a {
		t.Error("two rings give the same pseudonym")
	}
	if strings.Contains(a, "7f1c2e5a") {
		t.Error("pseudonym contains the subject id")
	}

	doc := ringFileKeys(t, r.Path())
	key, err := hkdf.Key(sha256.New, doc.PseudonymKey, nil, "profile-vault pseudonym v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("7f1c2e5a-subject"))
	want := "ps_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:20]))
	if a != want {
		t.Errorf("pseudonym = %q, want %q from the documented construction", a, want)
	}
	if bytes.Equal(doc.PseudonymKey, doc.IndexKey) {
		t.Error("pseudonym and index root keys are equal")
	}

	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if p.Pseudonym("7f1c2e5a-subject") != a {
		t.Error("pseudonym changed with KEK rotation")
	}
}
