package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/vault"
)

// A dump taken while changes commit holds exactly what the snapshot it was exported from held (the same
// log head and row counts, read in that snapshot), so a restore checks out; a restored database that
// differs by one row, or a target that is not empty, is refused.
func TestDumpHoldsItsSnapshot(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Now().UTC()
	create := func(id string) error {
		_, err := s.Commit(ctx, func(tx vault.Tx) error { return tx.CreateSubject(id, "", nil, at) }, readEntry("subject.create"))
		return err
	}
	for i := range 20 {
		if err := create(fmt.Sprintf("sub_%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop, done := make(chan struct{}), make(chan int)
	var wg sync.WaitGroup
	wg.Go(func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if err := create(fmt.Sprintf("sub_w%04d", n)); err != nil {
				t.Error(err)
			}
		}
	})
	dump := filepath.Join(t.TempDir(), "vault.dump")
	info, err := Dump(ctx, s.db.Pool.Config().ConnString(), dump)
	close(stop)
	during := <-done
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if during == 0 {
		t.Fatal("no change committed beside the dump: the snapshot proves nothing")
	}
	if info.Tables["subjects"] < 20 || info.LogSize != info.Tables["audit_log_entries"] || info.Schema != "public" {
		t.Fatalf("the snapshot's info: %+v", info)
	}
	target := pgtest.NewDatabase(t)
	if err := RestoreDump(ctx, s.db.Pool.Config().ConnString(), dump, info); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("restore into the dumped database = %v, want ErrTargetNotEmpty", err)
	}
	if err := RestoreDump(ctx, target, dump, info); err != nil {
		t.Fatal(err)
	}
	if err := CheckRestored(ctx, target, info); err != nil {
		t.Fatalf("the restored database: %v", err)
	}
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "INSERT INTO subjects (subject_id, state, created_at, updated_at) VALUES ('sub_extra', 'active', now(), now())"); err != nil {
		t.Fatal(err)
	}
	if err := CheckRestored(ctx, target, info); err == nil || !strings.Contains(err.Error(), "subjects:") {
		t.Fatalf("a restored database with a row more = %v", err)
	}
}

// The programs get the DSN without its password (in PGPASSWORD instead) and without pgx's parameters.
func TestLibpqHidesThePassword(t *testing.T) {
	dsn, env, err := libpq("postgres://vault:s3cret@db.example:5432/vault?sslmode=require&pool_max_conns=16")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dsn, "s3cret") || strings.Contains(dsn, "pool_max_conns") || !strings.Contains(dsn, "sslmode=require") || !strings.Contains(dsn, "vault@db.example") {
		t.Fatalf("DSN for the programs: %s", dsn)
	}
	if env[len(env)-1] != "PGPASSWORD=s3cret" {
		t.Fatalf("the password is not in the environment: %v", env[len(env)-1])
	}
}

// A password given as the DSN's parameter goes to PGPASSWORD too, and a key's passphrase (sslpassword),
// which no variable carries, is refused rather than put on the programs' command line.
func TestLibpqHidesParameterSecrets(t *testing.T) {
	dsn, env, err := libpq("postgres://vault@db.example/vault?password=s3cret&sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dsn, "s3cret") || !strings.Contains(dsn, "sslmode=require") || env[len(env)-1] != "PGPASSWORD=s3cret" {
		t.Fatalf("DSN for the programs: %s, last variable %s", dsn, env[len(env)-1])
	}
	_, _, err = libpq("postgres://vault@db.example/vault?sslkey=/k.pem&sslpassword=s3cret")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a DSN with sslpassword = %v, want a refusal that does not name it", err)
	}
}
