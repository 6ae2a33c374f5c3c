package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// BenchmarkStore measures the sequencer on one node with 64 concurrent callers: guarded releases (an
// audited read: Guard, the record, Release) and changes (a field written with its entry, one transaction
// each), and reports operations/s.
//
//	eval "$(bash .ci/postgres.sh start)"; go test -run '^$' -bench Store -benchtime 5000x ./internal/postgres
func BenchmarkStore(b *testing.B) {
	s := openStore(b)
	at := time.Now().UTC()
	const subjects = 1000
	if _, err := s.Commit(b.Context(), func(tx vault.Tx) error {
		for i := range subjects {
			id := fmt.Sprintf("sub_%04d", i)
			if err := tx.CreateSubject(id, "", nil, at); err != nil {
				return err
			}
			if err := tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("sealed"), UpdatedAt: at}); err != nil {
				return err
			}
		}
		return nil
	}, readEntry("subject.create")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		op   func(subject string) error
	}{
		{"read", func(subject string) error {
			g := s.Guard(subject)
			if _, err := s.Subject(b.Context(), subject); err != nil {
				return err
			}
			_, err := s.Release(b.Context(), g, readEntry("subject.read")(nil))
			return err
		}},
		{"change", func(subject string) error {
			_, err := s.Commit(b.Context(), func(tx vault.Tx) error {
				return tx.PutField(subject, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("new"), UpdatedAt: at})
			}, readEntry("subject.update"))
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			work := make(chan int)
			var wg sync.WaitGroup
			start := time.Now()
			for range 64 {
				wg.Go(func() {
					for i := range work {
						if err := c.op("sub_" + fmt.Sprintf("%04d", i%subjects)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), c.name+"s/s")
		})
	}
}
