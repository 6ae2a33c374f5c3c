package policies

import "testing"

func BenchmarkAllowed(b *testing.B) {
	s := loadEmbedded(b)
	roles := []Role{"marketing"}
	b.ReportAllocs()
	for b.Loop() {
		if !s.Allowed(roles, PurposeMarketing, "field:phone", ActRead) {
			b.Fatal("not allowed")
		}
	}
}

func BenchmarkAllowedMultiRole(b *testing.B) {
	s := loadEmbedded(b)
	roles := []Role{"marketing", "data_steward", "customer_service"}
	b.ReportAllocs()
	for b.Loop() {
		if s.Allowed(roles, PurposeRiskControl, "field:id_number", ActRead) {
			b.Fatal("allowed despite the deny")
		}
	}
}

func BenchmarkFieldGrantsSingleRole(b *testing.B) {
	s := loadEmbedded(b)
	roles := []Role{"marketing"}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.FieldGrants(roles, PurposeMarketing, ActRead)) == 0 {
			b.Fatal("no grants")
		}
	}
}

func BenchmarkFieldGrantsMultiRole(b *testing.B) {
	s := loadEmbedded(b)
	roles := []Role{"marketing", "customer_service"}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.FieldGrants(roles, PurposeCustomerService, ActRead)) == 0 {
			b.Fatal("no grants")
		}
	}
}

// BenchmarkFieldGrantsMultiRoleUncached measures the union computed on a cache miss.
func BenchmarkFieldGrantsMultiRoleUncached(b *testing.B) {
	s := loadEmbedded(b)
	roles := []Role{"marketing", "customer_service"}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.unionGrants(roles, PurposeCustomerService, ActRead)) == 0 {
			b.Fatal("no grants")
		}
	}
}

func BenchmarkCasbinEnforce(b *testing.B) {
	s := loadEmbedded(b)
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.Enforce("marketing", string(PurposeMarketing), "field:phone", string(ActRead))
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(""); err != nil {
			b.Fatal(err)
		}
	}
}
