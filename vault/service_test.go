package vault_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/dsr"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/normalize"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// newService builds the enforcement point on a real SQLite file, a real key ring and the built-in policy.
func newService(t testing.TB, lookupsPerSecond float64) (*vault.Service, *sqlite.Store) {
	t.Helper()
	cfg, store, _ := testConfig(t)
	cfg.LookupsPerSecond, cfg.LookupBurst = lookupsPerSecond, 1<<30
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// testConfig is a vault.Config over a real SQLite file and a real key ring in a temporary directory, with a
// real checkpoint signer and the built-in policy; tests adjust it before vault.New. It also returns the
// store and the crypto.
func testConfig(t testing.TB) (vault.Config, *sqlite.Store, *keys.VaultCrypto) {
	t.Helper()
	return testConfigIn(t, t.TempDir())
}

// testConfigIn is testConfig over the data in dir (created if missing): a benchmark's seeded population can
// be kept between runs.
func testConfigIn(t testing.TB, dir string) (vault.Config, *sqlite.Store, *keys.VaultCrypto) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "vault.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ring, _, err := keys.LoadOrCreateRing(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	crypto, err := keys.NewVaultCrypto(ring, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := audit.GenerateSignerKey("test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return vault.Config{Store: store, Trail: store, Requests: store, Identity: store, Policies: store, Incidents: store, Access: store, Audiences: store, Revocations: store, Rules: dsr.NewRules(), Checkpoints: signer,
		Crypto: crypto, Normalize: normalize.ByType, Policy: pol,
		NameSimilarity: func(a, b string) float64 {
			if strings.ReplaceAll(a, " ", "") == strings.ReplaceAll(b, " ", "") {
				return 1
			}
			return 0
		}}, store, crypto
}

func str(s string) *string { return &s }

var (
	steward = vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "account_management"}
	agent   = vault.Access{Caller: vault.Caller{Subject: "cs", Roles: []policies.Role{"customer_service"}}, Purpose: "customer_service"}
)

func profile() map[string]*string {
	return map[string]*string{
		"name": str("王芳"), "gender": str("female"), "birth_date": str("1990-04-01"), "phone": str("+8613800001234"),
		"email": str("wang.fang@example.cn"), "province": str("浙江"), "city": str("杭州"), "district": str("西湖区"),
		"address_line": str("文三路99号"), "occupation": str("teacher"), "industry": str("education"),
	}
}

func TestDecisionsAreRecorded(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: profile()})
	if err != nil {
		t.Fatal(err)
	}
	full, err := svc.Profiles().Read(ctx, agent, c.ID, []string{"name", "phone"})
	if err != nil || len(full.Fields) != 2 || len(full.Withheld) != 0 {
		t.Fatalf("allow: %+v %v", full, err)
	}
	part, err := svc.Profiles().Read(ctx, agent, c.ID, []string{"name", "occupation"})
	if err != nil || len(part.Fields) != 1 || part.Withheld[0].Field != "occupation" {
		t.Fatalf("partial: %+v %v", part, err)
	}
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	none, err := svc.Profiles().Read(ctx, mk, c.ID, []string{"phone"})
	if err != nil || len(none.Fields) != 0 || none.Withheld[0].Reason != vault.ReasonConsentRequired {
		t.Fatalf("deny: %+v %v", none, err)
	}
	if n := store.Size(); n != 4 {
		t.Fatalf("%d audit entries, want 4 (create + 3 reads)", n)
	}
	// A data-subject token never reaches staff operations, even with a purpose its role has.
	self := vault.Access{Caller: vault.Caller{Subject: c.ID, Roles: []policies.Role{"subject"}}, Purpose: "data_subject_request"}
	_, err = svc.Profiles().Read(ctx, self, c.ID, nil)
	if vault.ErrorCode(err) != vault.CodePermissionDenied || vault.AuditSeqOf(err) != 5 {
		t.Fatalf("subject on a staff route: %v (audit seq %d)", err, vault.AuditSeqOf(err))
	}
}

func TestClockIsInjected(t *testing.T) {
	svc, _ := newService(t, 1000)
	_, err := svc.Profiles().Create(t.Context(), steward, vault.NewSubject{Fields: map[string]*string{"birth_date": str(time.Now().AddDate(0, 0, 2).Format(time.DateOnly))}})
	if vault.ErrorCode(err) != vault.CodeInvalidArgument {
		t.Fatalf("birth date in the future accepted: %v", err)
	}
}

// BenchmarkLookup is a blind-index lookup through the enforcement point: normalise, HMAC token, indexed
// SQLite query, durable audit entry.
func BenchmarkLookup(b *testing.B) {
	svc, _ := newService(b, 1e9)
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		p := profile()
		p["phone"] = str("+86139" + pad8(i))
		if _, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: p}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			res, err := svc.Profiles().Lookup(ctx, steward, "phone", "139 "+pad8(i%1000))
			if err != nil || len(res.IDs) != 1 {
				b.Fatalf("lookup: %v %v", res, err)
			}
			i++
		}
	})
}

// BenchmarkRead is GET /v1/subjects/{id} without HTTP: policy, basis, durable audit entry, 9 fields opened.
func BenchmarkRead(b *testing.B) {
	svc, _ := newService(b, 1)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 200; i++ {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: profile()})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := svc.Profiles().Read(ctx, agent, ids[i%len(ids)], nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func pad8(i int) string { return fmt.Sprintf("%08d", i) }
