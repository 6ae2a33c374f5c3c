package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/app"
)

// commonFlags are the flags shared by commands that open a data directory. Defaults come from the VAULT_*
// environment variables, and a flag given on the command line wins over both.
type commonFlags struct {
	dataDir, db, kekFile, policyDir, timeZone, issuer, audience, jwtKeys, logLevel, logFormat, erasureLedger string
	recordCache, dekCache, minFreeMiB                                                                        int
	halfLifeDays                                                                                             int
	envErr                                                                                                   error // a VAULT_* variable that does not parse
	// commitTimeout is how long a change waits for its audit entry before failing closed: a minute for the
	// offline commands, which have no interactive client and commit large batches (serve and demo set 5 s).
	commitTimeout time.Duration
}

func (c *commonFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.dataDir, "data-dir", env("VAULT_DATA_DIR", "data"), "data directory (VAULT_DATA_DIR)")
	fs.StringVar(&c.db, "db", env("VAULT_DB", ""), "storage: empty for the embedded SQLite in the data dir, or postgres://… for a PostgreSQL database several nodes share (VAULT_DB)")
	fs.StringVar(&c.kekFile, "kek-file", env("VAULT_KEK_FILE", ""), "key-encryption key ring file; default DATA_DIR/kek.json (VAULT_KEK_FILE)")
	fs.StringVar(&c.erasureLedger, "erasure-ledger", env("VAULT_ERASURE_LEDGER", ""), "erasure ledger file, best on another volume; default DATA_DIR/erasures.ledger (VAULT_ERASURE_LEDGER)")
	fs.StringVar(&c.timeZone, "tz", env("VAULT_TZ", "Asia/Shanghai"), "local time zone of time-of-day tags (VAULT_TZ)")
	fs.StringVar(&c.policyDir, "policy-dir", env("VAULT_POLICY_DIR", ""), "directory overriding the embedded policy files (VAULT_POLICY_DIR)")
	fs.StringVar(&c.issuer, "jwt-issuer", env("VAULT_JWT_ISSUER", "vaultd"), "required JWT iss (VAULT_JWT_ISSUER)")
	fs.StringVar(&c.audience, "jwt-audience", env("VAULT_JWT_AUDIENCE", "profile-vault"), "required JWT aud (VAULT_JWT_AUDIENCE)")
	fs.StringVar(&c.jwtKeys, "jwt-keys", env("VAULT_JWT_KEYS", ""), "JSON file of extra JWT verification keys (VAULT_JWT_KEYS)")
	fs.StringVar(&c.logLevel, "log-level", env("VAULT_LOG_LEVEL", "info"), "debug, info, warn or error (VAULT_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", env("VAULT_LOG_FORMAT", "json"), "json or text (VAULT_LOG_FORMAT)")
	intEnv := func(name string, def int) int {
		n, err := envInt(getenv, name, def)
		if err != nil {
			c.envErr = err
		}
		return n
	}
	var err error
	if c.commitTimeout, err = envDuration(getenv, "VAULT_COMMIT_TIMEOUT", time.Minute); err != nil {
		c.envErr = err
	}
	fs.IntVar(&c.recordCache, "record-cache", intEnv("VAULT_RECORD_CACHE", 20_000),
		"sealed subject records kept in memory, 3–8 KiB each; negative for none (VAULT_RECORD_CACHE)")
	fs.IntVar(&c.dekCache, "dek-cache", intEnv("VAULT_DEK_CACHE", 50_000),
		"unwrapped data keys kept in memory, about 1 KiB each (VAULT_DEK_CACHE)")
	fs.IntVar(&c.halfLifeDays, "interest-half-life-days", intEnv("VAULT_INTEREST_HALF_LIFE_DAYS", 30),
		"half-life of the interest tags' weights, in days, 1–3650 (VAULT_INTEREST_HALF_LIFE_DAYS)")
	fs.IntVar(&c.minFreeMiB, "min-free-mib", intEnv("VAULT_MIN_FREE_MIB", app.DefaultMinFreeBytes>>20),
		"free-space watermark in MiB: below it on the data dir's or the erasure ledger's volume /readyz fails; 0 or negative for none (VAULT_MIN_FREE_MIB)")
}

func (c *commonFlags) config(stderr io.Writer) (app.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return app.Config{}, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(c.logFormat) {
	case "json":
		h = slog.NewJSONHandler(stderr, opts)
	case "text":
		h = slog.NewTextHandler(stderr, opts)
	default:
		return app.Config{}, fmt.Errorf("--log-format must be json or text")
	}
	if c.envErr != nil {
		return app.Config{}, c.envErr
	}
	if c.dekCache <= 0 {
		return app.Config{}, fmt.Errorf("--dek-cache must be positive")
	}
	if c.halfLifeDays < 1 || c.halfLifeDays > 3650 {
		return app.Config{}, fmt.Errorf("--interest-half-life-days must be 1 to 3650")
	}
	return app.Config{
		CommitTimeout: c.commitTimeout, RecordCache: c.recordCache, DEKCache: c.dekCache, MinFreeBytes: minFreeBytes(c.minFreeMiB),
		DataDir: c.dataDir, DB: c.db, KEKFile: c.kekFile, ErasureLedger: c.erasureLedger, PolicyDir: c.policyDir, TimeZone: c.timeZone,
		InterestHalfLifeDays: float64(c.halfLifeDays),
		JWTIssuer:            c.issuer, JWTAudience: c.audience, JWTKeysFile: c.jwtKeys,
		Logger: slog.New(h), Notices: stderr,
	}, nil
}

// parse parses args and turns -h into a clean exit.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError{code: 0}
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: fmt.Sprintf("vaultd %s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// rolesFlag collects repeated --role flags.
type rolesFlag []string

func (r *rolesFlag) String() string     { return strings.Join(*r, ",") }
func (r *rolesFlag) Set(v string) error { *r = append(*r, v); return nil }

// envInt reads an integer from the environment variable name; def when it is unset.
func envInt(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def, fmt.Errorf("%s must be an integer", name)
	}
	return n, nil
}

func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return def, fmt.Errorf("%s must be a positive duration such as 5s", name)
	}
	return d, nil
}

// startCPUProfile writes a CPU profile to path until stop is called (a no-op for an empty path).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes the live heap (after a collection) to path; a no-op for an empty path. Serve
// calls it as it stops, so a long run shows what it still holds.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// minFreeBytes turns --min-free-mib into Config.MinFreeBytes, where 0 would mean the default: 0 or
// negative MiB is no watermark.
func minFreeBytes(mib int) int64 {
	if mib <= 0 {
		return -1
	}
	return int64(mib) << 20
}
