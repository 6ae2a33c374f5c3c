package vault_test

import (
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// TestAccessMatrix reads a subject with every field set, for every role × purpose × consent state, and
// checks each field's fate against the rules stated here: returned only if the role's policy lets it read
// the field for the purpose and — under a consent basis — a consent of a fitting kind is granted now.
func TestAccessMatrix(t *testing.T) {
	svc, _ := newService(t, 1000)
	ctx := t.Context()
	pol := svc.Policy()
	full := profile()
	full["id_number"] = str("11010519491231002X")
	full["bank_account"] = str("6222020200112233445")
	states := []struct {
		name  string
		kind  consent.Kind
		grant bool
		// withdraw after granting
		withdraw bool
	}{{"none", "", false, false}, {"general", consent.General, true, false}, {"separate", consent.Separate, true, false}, {"withdrawn", consent.Separate, true, true}}
	checked := 0
	for _, p := range pol.Purposes().All() {
		for _, st := range states {
			c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: full})
			if err != nil {
				t.Fatal(err)
			}
			if st.grant && p.NeedsConsent() {
				g := consent.Grant{Purpose: p.Name, Kind: st.kind, NoticeVersion: p.Notice.Version, Method: "test"}
				if len(p.Recipients) > 0 {
					g.Recipient = p.Recipients[0]
				}
				if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, g); err != nil {
					if st.kind == consent.General && p.ConsentKind == "separate" {
						continue // refused at recording time, as it should be
					}
					t.Fatalf("grant %s %s: %v", p.Name, st.name, err)
				}
				if st.withdraw {
					if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, c.ID, p.Name); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, role := range pol.Roles() {
				a := vault.Access{Caller: vault.Caller{Subject: "m-" + role, Roles: []policies.Role{policies.Role(role)}}, Purpose: p.Name}
				if len(p.Recipients) > 0 {
					a.Recipient = p.Recipients[0]
				}
				grants := pol.FieldGrants(a.Caller.Roles, p.Name, "read")
				v, err := svc.Profiles().Read(ctx, a, c.ID, nil)
				if policies.Role(role) == vault.RoleSubject || len(grants) == 0 {
					if vault.ErrorCode(err) != vault.CodePermissionDenied {
						t.Fatalf("%s/%s: want 403, got %v", role, p.Name, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s/%s/%s: %v", role, p.Name, st.name, err)
				}
				for _, f := range pol.Schema().Fields() {
					_, permitted := grants[f.Name]
					consentOK := !p.NeedsConsent() || (st.grant && !st.withdraw &&
						(st.kind == consent.Separate || (!f.Sensitive && p.ConsentKind != "separate")))
					_, got := v.Fields[f.Name]
					if want := permitted && consentOK; got != want {
						t.Errorf("%s/%s/%s field %s: returned=%v, want %v", role, p.Name, st.name, f.Name, got, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d field decisions checked", checked)
	}
	t.Logf("%d field decisions checked", checked)
}
