package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestNoKeyMaterialInOutput formats, marshals and logs every key-holding type and checks that no
// key (nor the wrapped DEK ciphertext) appears in any common encoding.
func TestNoKeyMaterialInOutput(t *testing.T) {
	r := newTestRing(t)
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	ref := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	c := newTestCipher(t, r, 2)
	mustSeal(t, c, ref, w, "name", []byte("李雷"))
	b, p := r.BlindIndex(), r.Pseudonymizer()
	b.Token("phone", "+8613800001234")

	doc := ringFileKeys(t, r.Path())
	secrets := [][]byte{doc.IndexKey, doc.PseudonymKey, w.Ciphertext}
	for _, k := range doc.KEKs {
		secrets = append(secrets, k.Key)
	}
	leaks := func(out string) string {
		for _, s := range secrets {
			for _, enc := range []string{
				b64(s), hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
				fmt.Sprint(s), fmt.Sprintf("%q", s), string(s),
			} {
				if strings.Contains(out, enc) {
					return enc
				}
			}
			// A shorter prefix of the decimal listing catches partial dumps.
			if dec := fmt.Sprint(s[:8]); strings.Contains(out, strings.TrimSuffix(dec, "]")) {
				return dec
			}
		}
		return ""
	}

	type holder struct {
		Ring    *Ring
		Index   *BlindIndex
		Pseudo  *Pseudonymizer
		Wrapped WrappedDEK
		Cipher  *FieldCipher
	}
	values := map[string]any{
		"ring": r, "blind index": b, "pseudonymizer": p, "wrapped DEK": w, "field cipher": c,
		"holder": holder{r, b, p, w, c}, "holder pointer": &holder{r, b, p, w, c},
		"secret": secret(doc.IndexKey),
	}
	for name, v := range values {
		outputs := map[string]string{}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%T %v"} {
			outputs[verb] = fmt.Sprintf(verb, v)
		}
		if j, err := json.Marshal(v); err == nil {
			outputs["json"] = string(j)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		outputs["slog json"] = buf.String()
		buf.Reset()
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		outputs["slog text"] = buf.String()
		for how, out := range outputs {
			if enc := leaks(out); enc != "" {
				t.Errorf("%s via %s leaks key material (%q) in %q", name, how, enc, out)
			}
		}
	}
	if s := r.String(); !strings.Contains(s, "REDACTED") || !strings.Contains(s, "active: 2") {
		t.Errorf("Ring.String() = %q", s)
	}
	if s := w.String(); !strings.Contains(s, "KEKVersion: 2") {
		t.Errorf("WrappedDEK.String() = %q", s)
	}
}
