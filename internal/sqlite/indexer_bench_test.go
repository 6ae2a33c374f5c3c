package sqlite

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
)

// BenchmarkIndexerFlush measures the review index's CPU per row as the indexer writes it: rows of audited
// reads spread over 1,000 subjects (so each flush touches the index at 1,000 places), written in
// transactions of the given size. ns/op is per row.
//
//	go test -run '^$' -bench IndexerFlush -benchtime 200000x ./internal/sqlite
func BenchmarkIndexerFlush(b *testing.B) {
	refs := make([]string, 1000)
	for i := range refs {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		refs[i] = hex.EncodeToString(sum[:])
	}
	for _, per := range []int{4096, indexFlushRows} {
		b.Run("rows="+strconv.Itoa(per), func(b *testing.B) {
			s := openTest(b, Options{})
			ts := time.Now()
			rows := make([]any, 0, per*indexWidth)
			b.ResetTimer()
			for i := range b.N {
				ix := audit.IndexRow{TS: ts.Add(time.Duration(i)), Action: "subject.read", SubjectRef: refs[(i*7919)%len(refs)],
					Actor: "demo-customer_service", Purpose: "customer_service", Decision: audit.Allow}
				rows = append(rows, indexArgs(int64(i+1), ix)...)
				if len(rows) == per*indexWidth || i == b.N-1 {
					if err := s.indexer.insert(rows); err != nil {
						b.Fatal(err)
					}
					rows = rows[:0]
				}
			}
		})
	}
}
