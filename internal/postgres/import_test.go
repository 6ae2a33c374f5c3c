package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/audit/logtest"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// A row that does not fit its table fails the import's COPY without its values in the error: a migrated
// table can hold clear text, and the error goes to vaultd migrate's stderr.
func TestCopyErrorsNameNoValue(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const secret = "Zhang San, +8613800138000"
	for _, tc := range []struct {
		name string
		rows [][]any
	}{
		{"a value pgx cannot encode", [][]any{{secret, "x"}}},
		{"a duplicate key", [][]any{{int64(1), secret}, {int64(2), secret}}},
	} {
		im, err := db.BeginImport(ctx, logtest.NewSigner(t).Verifier(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Exec(ctx, `CREATE TEMP TABLE copy_probe (n bigint NOT NULL, note text UNIQUE)`); err != nil {
			t.Fatal(err)
		}
		err = im.Copy(ctx, "copy_probe", []string{"n", "note"}, tc.rows)
		im.Rollback(ctx)
		if err == nil {
			t.Fatalf("%s: the copy succeeded", tc.name)
		}
		if strings.Contains(err.Error(), "Zhang") || strings.Contains(err.Error(), "8613800138000") {
			t.Fatalf("%s: the error quotes the row: %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), "copy_probe") {
			t.Fatalf("%s: the error does not name the table: %v", tc.name, err)
		}
		t.Logf("%s: %v", tc.name, err)
	}
}
