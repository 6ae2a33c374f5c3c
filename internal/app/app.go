// Package app wires Profile Vault together: it opens and locks the data directory, loads (or creates) the
// key ring and the JWT signing key, loads the policy files, opens the store and builds the enforcement
// point and the HTTP server. cmd/vaultd and the end-to-end tests both start the service through it.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // VAULT_TZ works on machines without a zoneinfo database

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/backup"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/dsr"
	"github.com/profilevault/profilevault/internal/erasures"
	"github.com/profilevault/profilevault/internal/httpapi"
	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/normalize"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/profiling"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/internal/webui"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Config is everything the service needs to start. Zero values take the documented defaults.
type Config struct {
	// InterestHalfLifeDays is the half-life of the interest tags' weights (TAGS.md; default 30 days).
	InterestHalfLifeDays float64
	// TimeZone is the local zone of time-of-day tags (VAULT_TZ); default Asia/Shanghai.
	TimeZone string
	DataDir  string // default ./data
	// Existing refuses a data dir that holds no vault instead of creating one (the offline commands that
	// work on a vault: keys, tags, retention, events, audiences; a mistyped --data-dir must not pass).
	Existing bool
	// Offline marks a command that works on the vault without serving it (import, keys, tags, retention,
	// events, audiences): the policy it loads is not recorded as the one in force — the processing record
	// (PIPL Art. 55–56) is the servers', and each of the command's entries names its own policy hash. A
	// `keys check` without --policy-dir recorded the built-in policy in force over the one the server ran.
	Offline bool
	// DB is the store: "" or "sqlite" → DataDir/vault.db and its audit log in DataDir; postgres://… (or
	// postgresql://…) → that PostgreSQL database, shared with the other nodes that name it (the data dir
	// then keeps the lock, the key files and the erasure ledger).
	DB string
	// DBPool is the least number of connections a PostgreSQL node's pool may open (default pgx's: the
	// larger of 4 and the cores); pool_max_conns in DB wins.
	DBPool       int32
	KEKFile      string // default DataDir/kek.json
	AuditKeyFile string // checkpoint signing key; default DataDir/audit-checkpoint.key
	// ErasureLedger is the erasure ledger file (VAULT_ERASURE_LEDGER); default DataDir/erasures.ledger.
	ErasureLedger string
	PolicyDir     string // "" → embedded policy files
	JWTIssuer     string // default vaultd
	JWTAudience   string // default profile-vault
	JWTKeysFile   string // extra verification keys (external identity providers)
	CommitTimeout time.Duration
	// CheckpointInterval is how long an audit entry may stay uncovered by a signed checkpoint (default 1s).
	CheckpointInterval time.Duration
	Logger             *slog.Logger
	// Notices receives one line per file created on first start (stderr in the CLI).
	Notices io.Writer
	// WriteStall cuts a streamed response whose client stops reading for this long (default 60 s).
	WriteStall time.Duration
	// AuthTarpit holds each authentication failure refused beyond the auth-failure budget this long before
	// its 429 (default 1 s; negative: at once), at most AuthTarpitSlots (default 2,048) at a time.
	AuthTarpit      time.Duration
	AuthTarpitSlots int
	// RecordCache bounds the sealed subject records kept in memory (default 20,000, 3–8 KiB each;
	// negative: none); DEKCache the unwrapped data keys (default 50,000, about 1 KiB each). Both fill as
	// subjects are read and stay at their bound (vault_cache_entries).
	RecordCache int
	DEKCache    int
	// ScanReads has SQLite's readers read through a small page cache of their own instead of mapping the
	// database (sqlite.Options.ScanReads): for a run that reads most of it once (vaultd tags compute).
	ScanReads bool
	// BulkWrites lets SQLite's WAL grow between checkpoints (sqlite.Options.BulkWrites): for an offline
	// bulk load (vaultd import, tags compute, events reseal).
	BulkWrites bool
	// MinFreeBytes is the free-space watermark: below it on the volume of the data dir or of the erasure
	// ledger, /readyz answers 503, so a load balancer drains the node before its disk is full and every
	// write would fail closed (default 512 MiB; negative: no watermark).
	MinFreeBytes int64
	// Per-subject limits (vault.Config): requests filed a day (default 20), exports an hour (default 60;
	// negative: none), and exports running at once over all subjects (default 4).
	RequestsPerDay, ExportsPerHour, MaxExports int
	// MaxBulkBody caps the body of POST /v1/events in bytes (default 64 MiB).
	MaxBulkBody int64
	// RequestRules are the data-subject requests' deadlines and holiday calendar (nil: dsr.NewRules, 15
	// working days for every type on the PRC calendar).
	RequestRules vault.RequestRules
	// DemoSignIn adds the web consoles' demo sign-in page, which mints tokens for demo people and staff
	// roles (vaultd demo only; never serve).
	DemoSignIn bool
}

// App is a running vault: every part, wired. It exposes services — the enforcement point, the HTTP API,
// the tag runner — never the store or the keys, so that nothing outside this package can reach data
// without going through the vault (tests that inspect storage use Internals).
type App struct {
	Config   Config
	Dir      *datadir.Dir
	store    storage
	trail    audit.Store
	pgDB     *postgres.DB // until the PostgreSQL store owns it
	ring     *keys.Ring
	crypto   *keys.VaultCrypto
	Auditor  *audit.Signer
	Signer   *authn.Signer
	Verifier *authn.Verifier
	Vault    *vault.Service
	HTTP     *httpapi.Server
	// Tags runs the tag engine through the vault; Jobs runs it in the background for the HTTP API.
	Tags     *tagrun.Runner
	Jobs     *tagrun.Jobs
	stopJobs context.CancelFunc
	watching chan struct{} // closed when the policy watcher (PostgreSQL) has stopped
	// Sessions are the web consoles' signed-in browsers.
	Sessions *webui.Sessions
	erasures *erasures.Ledger
}

// storage is the store behind the vault — the embedded SQLite one or PostgreSQL: every storer the vault
// needs, and what the app itself asks of it.
type storage interface {
	vault.Store
	vault.IdentityStore
	vault.RequestStore
	vault.PolicyStore
	vault.IncidentStore
	vault.AccessStore
	vault.AudienceStore
	vault.RevocationStore
	vault.KeyStore
	// Ready reports whether the store can commit.
	Ready(ctx context.Context) error
	CountActiveSubjects(ctx context.Context) (int, error)
	ActiveSubjectIDs(ctx context.Context, limit int) ([]string, error)
	// CachedRecords is how many sealed records the store keeps in memory; IndexLag how many entries the
	// review index does not cover yet.
	CachedRecords() int
	IndexLag() int64
	// Close commits what is queued and closes the store.
	Close() error
}

var (
	_ storage = (*sqlite.Store)(nil)
	_ storage = (*postgres.Store)(nil)
)

// postgresDSN reports whether db names a PostgreSQL database.
func postgresDSN(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Defaults fills in the documented defaults.
func (c Config) Defaults() Config {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.JWTIssuer == "" {
		c.JWTIssuer = "vaultd"
	}
	if c.JWTAudience == "" {
		c.JWTAudience = "profile-vault"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Notices == nil {
		c.Notices = io.Discard
	}
	return c
}

// Open starts the vault on cfg's data directory, creating what is missing.
func Open(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg = cfg.Defaults()
	onPG := postgresDSN(cfg.DB)
	if cfg.DB != "" && cfg.DB != "sqlite" && !onPG {
		return nil, fmt.Errorf("unknown --db value (want sqlite or postgres://…)")
	}
	a := &App{Config: cfg}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	openDir := datadir.Open
	if cfg.Existing && !onPG {
		openDir = datadir.OpenExisting
	}
	if a.Dir, err = openDir(cfg.DataDir); err != nil {
		return nil, err
	}
	// An unencrypted database copy a killed backup left behind (see backup.CleanStaging).
	if err := backup.CleanStaging(a.Dir.Path); err != nil {
		return nil, err
	}
	kekPath := cfg.KEKFile
	if kekPath == "" {
		kekPath = a.Dir.File(datadir.KEKFile)
	}
	var created bool
	dbPath := a.Dir.File(datadir.DatabaseFile)
	_, statErr := os.Stat(dbPath)
	// On PostgreSQL, keys that the database's other nodes already use are never created here: a new one
	// would write what they cannot read.
	var known map[string]string
	if onPG {
		// Migrations run under the database's advisory lock, so nodes starting together migrate once.
		if a.pgDB, err = postgres.OpenPool(ctx, cfg.DB, cfg.DBPool); err != nil {
			return nil, err
		}
		if known, err = a.pgDB.KnownKeys(ctx); err != nil {
			return nil, fmt.Errorf("postgres: node keys: %w", err)
		}
		var missing []string
		for _, k := range []struct{ name, path string }{{keyRing, kekPath}, {keyAudit, orDefault(cfg.AuditKeyFile, a.Dir.File(datadir.AuditKeyFile))},
			{keyJWT, a.Dir.File(datadir.JWTKeyFile)}} {
			if _, ok := known[k.name]; !ok {
				continue
			}
			if _, err := os.Stat(k.path); errors.Is(err, os.ErrNotExist) {
				missing = append(missing, fmt.Sprintf("%s (%s)", k.name, k.path))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("no file for the %s, which the database's other nodes already use: copy theirs there (the key ring and the checkpoint key may also be shared files: --kek-file, --audit-key-file; the JWT signing key is always %s in the data dir); a new key would write what they cannot read",
				strings.Join(missing, ", "), datadir.JWTKeyFile)
		}
		if _, ok := known[keyRing]; ok {
			statErr = nil // open the ring, never create one
		}
	}
	if statErr == nil {
		// The database holds DEKs wrapped under this ring: a new ring would make all of them unreadable.
		if a.ring, err = keys.OpenRing(kekPath); err != nil {
			return nil, fmt.Errorf("key ring (the data dir already has a database, so no new ring is created): %w", err)
		}
	} else if a.ring, created, err = keys.LoadOrCreateRing(kekPath); err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	if created {
		fmt.Fprintf(cfg.Notices, "vaultd: created key-encryption key ring %s (mode 0600)\n", kekPath)
	}
	auditKey := cfg.AuditKeyFile
	if auditKey == "" {
		auditKey = a.Dir.File(datadir.AuditKeyFile)
	}
	if statErr == nil && !onPG {
		// As the ring: beside an existing database a missing key is a mistake (a forgotten --audit-key-file,
		// a file moved away), and a new one would sign checkpoints no pinned key or witness accepts, or
		// make every token issued so far fail.
		for _, k := range []struct{ what, path, flag string }{{"audit checkpoint signing key", auditKey, "--audit-key-file (VAULT_AUDIT_KEY_FILE)"},
			{"JWT signing key", a.Dir.File(datadir.JWTKeyFile), "the data dir"}} {
			if _, err := os.Stat(k.path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s %s is missing and the data dir already has a database, so no new key is created: check %s, or restore the key from a backup", k.what, k.path, k.flag)
			}
		}
	}
	if a.Signer, created, err = authn.LoadOrCreateSigner(a.Dir.File(datadir.JWTKeyFile)); err != nil {
		return nil, fmt.Errorf("jwt signing key: %w", err)
	}
	if created {
		fmt.Fprintf(cfg.Notices, "vaultd: created JWT signing key %s (mode 0600)\n", a.Dir.File(datadir.JWTKeyFile))
	}
	ks := authn.NewKeySet()
	if err = ks.AddEd25519(a.Signer.KeyID(), a.Signer.PublicKey()); err != nil {
		return nil, err
	}
	if cfg.JWTKeysFile != "" {
		if err = ks.AddFromFile(cfg.JWTKeysFile); err != nil {
			return nil, fmt.Errorf("jwt keys file: %w", err)
		}
	}
	if a.Verifier, err = authn.NewVerifier(ks, authn.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}); err != nil {
		return nil, err
	}
	if a.Auditor, created, err = loadOrCreateAuditSigner(auditKey); err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	if created {
		fmt.Fprintf(cfg.Notices, "vaultd: created audit checkpoint signing key %s (mode 0600; verifier key in %s.pub)\n", auditKey, auditKey)
	}
	pol, err := policies.Load(cfg.PolicyDir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if onPG {
		if err := a.openPostgres(ctx); err != nil {
			return nil, err
		}
	} else if err := a.openSQLite(ctx, dbPath, errors.Is(statErr, os.ErrNotExist)); err != nil {
		return nil, err
	}
	if a.crypto, err = keys.NewVaultCrypto(a.ring, cmp.Or(cfg.DEKCache, 50_000)); err != nil {
		return nil, err
	}
	if a.erasures, err = erasures.Open(a.erasureLedgerPath()); err != nil {
		return nil, err
	}
	if a.Vault, err = vault.New(vault.Config{
		Store: a.store, Trail: a.trail, Requests: a.store, Identity: a.store, Policies: a.store, Incidents: a.store, Access: a.store, Audiences: a.store, Revocations: a.store, Erasures: a.erasures, Rules: requestRules(cfg.RequestRules), Checkpoints: a.Auditor, Crypto: a.crypto,
		// On PostgreSQL other nodes use the store: a rotation lease another node holds is waited out.
		KeyRing: a.crypto, KeyStore: a.store, ExclusiveStore: !onPG,
		NameSimilarity: ingest.NameSimilarity, Normalize: normalize.ByType, Policy: pol, Logger: cfg.Logger,
		RequestsPerDay: cfg.RequestsPerDay, ExportsPerHour: cfg.ExportsPerHour, MaxConcurrentExports: cfg.MaxExports,
	}); err != nil {
		return nil, err
	}
	if err := a.Vault.LoadRevocations(ctx); err != nil {
		return nil, err
	}
	// The policy this process serves is kept with the date it came into force.
	if !cfg.Offline {
		if err := a.Vault.RecordPolicyInForce(ctx, SystemAccess("policy-load")); err != nil {
			return nil, err
		}
	}
	// Every stored DEK must unwrap; serve refuses to start otherwise (RequireKeys), and /readyz reports it.
	if _, err = a.Vault.Keys().CheckKeys(ctx); err != nil {
		return nil, err
	}
	vocab := profiling.DefaultVocabulary()
	a.Vault.Tags().SetTagAttributes(profiling.EventAttributes())
	a.Vault.Tags().SetTagVocabulary(vocab)
	if cfg.TimeZone == "" {
		cfg.TimeZone = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone (--tz, VAULT_TZ): %w", err)
	}
	a.Tags = tagrun.NewRunner(a.Vault, loc)
	a.Tags.Extract.HalfLifeDays = cfg.InterestHalfLifeDays
	jobCtx, stop := context.WithCancel(context.Background())
	a.stopJobs = stop
	a.Jobs = tagrun.NewJobs(jobCtx, a.Tags)
	a.Jobs.OnError = func(id string, err error) { cfg.Logger.Error("tag computation failed", "job", id, "err", err) }
	if pg, ok := a.store.(*postgres.Store); ok {
		// A policy version put in force by another node of the database (its reload, or its start with other
		// files) is put in force here too, and a token another node revoked is refused here too, within
		// milliseconds (LISTEN/NOTIFY; see Watch).
		a.watching = make(chan struct{})
		go func() {
			defer close(a.watching)
			pg.Watch(jobCtx, policyCheckInterval, postgres.Refresh{
				Policy: func(ctx context.Context, hash string) error {
					_, err := a.Vault.AdoptPolicy(ctx, hash)
					return err
				},
				Revocations: a.Vault.LoadRevocations,
			}, func(err error) { cfg.Logger.Warn("watch of the shared database", "err", err) })
		}()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sq, ok := a.store.(*sqlite.Store); ok { // the embedded writer's counters
		st := sq.Stats()
		for _, m := range []struct {
			name, help string
			value      func() float64
		}{
			{"vault_audit_entries_total", "Audit entries appended.", func() float64 { return float64(st.Ops.Load()) }},
			{"vault_audit_commits_total", "Group commits of the audit writer.", func() float64 { return float64(st.Batches.Load()) }},
			{"vault_audit_commit_failures_total", "Group commits that failed (their requests failed closed).", func() float64 { return float64(st.Failures.Load()) }},
			{"vault_audit_abandoned_total", "Requests that gave up waiting for their audit entry (503).", func() float64 { return float64(st.Abandoned.Load()) }},
			{"vault_audit_commit_seconds_total", "Time spent in group commits.", func() float64 { return time.Duration(st.CommitNanos.Load()).Seconds() }},
			{"vault_audit_sync_seconds_total", "Time spent in database COMMIT (WAL write and fsync).", func() float64 { return time.Duration(st.SyncNanos.Load()).Seconds() }},
			{"vault_audit_log_sync_seconds_total", "Time spent appending to the audit log (write and fdatasync).", func() float64 { return time.Duration(st.LogSyncNanos.Load()).Seconds() }},
		} {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, m.value))
		}
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vault_audit_index_lag_entries",
		Help: "Audit log entries the review index does not cover yet."}, func() float64 { return float64(a.store.IndexLag()) }))
	for name, dir := range a.volumes() {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vault_disk_free_bytes", ConstLabels: prometheus.Labels{"volume": name},
			Help: "Free space on a volume the vault writes to (data: database and audit log; erasure_ledger); /readyz fails below the watermark."},
			func() float64 { free, _ := datadir.FreeBytes(dir); return float64(free) }))
	}
	for name, n := range map[string]func() int{"records": a.store.CachedRecords, "deks": a.crypto.CachedDEKs} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vault_cache_entries", ConstLabels: prometheus.Labels{"cache": name},
			Help: "Entries held by a bounded in-memory cache (records: sealed subject records; deks: unwrapped data keys)."},
			func() float64 { return float64(n()) }))
	}
	a.Sessions = webui.NewSessions(0, nil)
	var demo *webui.Demo
	if cfg.DemoSignIn {
		demo = &webui.Demo{Mint: a.Mint, People: func(ctx context.Context) ([]string, error) { return a.DemoSubjects(ctx, 5) }}
	}
	ui, err := webui.New(webui.Config{Verifier: a.Verifier, Policy: a.Vault.Policy, Sessions: a.Sessions, Demo: demo,
		Revoked: func(p authn.Principal) bool { return a.Vault.TokenRevoked(p.TokenID, p.Subject, p.IssuedAt) },
		AuthFailed: func(ctx context.Context, requestID, clientAddr, reason string) bool {
			_, err := a.Vault.RecordAuthFailure(ctx, requestID, clientAddr, reason)
			return vault.ErrorCode(err) == vault.CodeRateLimited
		}})
	if err != nil {
		return nil, err
	}
	if a.HTTP, err = httpapi.New(httpapi.Config{
		Registry: reg,
		Vault:    a.Vault, Verifier: a.Verifier, Logger: cfg.Logger, Ready: a.ready,
		LoadPolicy: func() (*policies.Set, error) { return policies.Load(cfg.PolicyDir) },
		Jobs:       a.Jobs,
		Background: jobCtx,
		Pages:      ui,
		Sessions:   a.Sessions,
		WriteStall: cfg.WriteStall,
		AuthTarpit: cfg.AuthTarpit, AuthTarpitSlots: cfg.AuthTarpitSlots,
		MaxBulkBody: cfg.MaxBulkBody,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// policyCheckInterval is how often a node on PostgreSQL checks the policy version in force and the token
// revocations besides the notifications (the fallback of Watch). A variable for tests, which lengthen it to see that the
// notifications alone carry a reload.
var policyCheckInterval = 5 * time.Second

// Names of the keys the nodes of one PostgreSQL database must share (postgres.DB.AgreeOnKeys).
const (
	keyRing  = "key ring"
	keyJWT   = "JWT signing key"
	keyAudit = "audit checkpoint key"
)

// openSQLite opens the embedded store at dbPath with its audit log in the data dir.
func (a *App) openSQLite(ctx context.Context, dbPath string, creating bool) error {
	cfg := a.Config
	s, err := sqlite.Open(ctx, dbPath, sqlite.Options{CommitTimeout: cfg.CommitTimeout, Logger: cfg.Logger, Signer: a.Auditor,
		LogDir: a.Dir.File(datadir.AuditLogDir), CheckpointInterval: cfg.CheckpointInterval, RecordCache: cfg.RecordCache,
		ScanReads: cfg.ScanReads, BulkWrites: cfg.BulkWrites})
	if err != nil {
		return err
	}
	a.store, a.trail = s, s
	if creating {
		for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
			_ = os.Chmod(f, 0o600)
		}
		fmt.Fprintf(cfg.Notices, "vaultd: created database %s (mode 0600)\n", dbPath)
	}
	return nil
}

// openPostgres opens the store and the audit log in the PostgreSQL database (a.pgDB, migrated), after
// checking that this node's keys are those the database's other nodes use (the first node records them).
func (a *App) openPostgres(ctx context.Context) error {
	if err := a.pgDB.AgreeOnKeys(ctx, nodeKeyFingerprints(a.ring, a.Auditor, a.Signer)); err != nil {
		return fmt.Errorf("%w; give every node the same key files (copy the first node's, or point --kek-file and --audit-key-file at shared ones)", err)
	}
	l, err := a.pgDB.OpenLog(ctx, postgres.LogOptions{Signer: a.Auditor, CheckpointInterval: a.Config.CheckpointInterval, Node: nodeName()})
	if err != nil {
		return err
	}
	s, err := a.pgDB.NewStore(l, postgres.StoreOptions{CommitTimeout: a.Config.CommitTimeout})
	if err != nil {
		return errors.Join(err, l.Close())
	}
	a.store, a.trail = s, s.Trail()
	return nil
}

// nodeName names this process in the database's leases (audit_log_lease.holder): host, process id and a
// random suffix, so that an operator — or a test — can tell which process holds the integrator's lease.
func nodeName() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", cmp.Or(host, "vaultd"), os.Getpid(), hex.EncodeToString(b[:]))
}

// erasureLedgerPath is where this vault's erasure ledger lives.
func (a *App) erasureLedgerPath() string {
	if a.Config.ErasureLedger != "" {
		return a.Config.ErasureLedger
	}
	return a.Dir.File(datadir.ErasureLedgerFile)
}

// ready reports whether the store and the audit writer are healthy and every stored DEK unwraps.
func (a *App) ready(ctx context.Context) error {
	if err := a.store.Ready(ctx); err != nil {
		return err
	}
	if err := a.diskReady(); err != nil {
		return err
	}
	return a.Vault.Keys().KeyHealth()
}

// DefaultMinFreeBytes is the free-space watermark when Config.MinFreeBytes is 0.
const DefaultMinFreeBytes = 512 << 20

// volumes are the places the vault writes to, by the name vault_disk_free_bytes gives them: the data dir
// (database, audit log) and the erasure ledger, which may be on another volume.
func (a *App) volumes() map[string]string {
	return map[string]string{"data": a.Dir.Path, "erasure_ledger": filepath.Dir(a.erasureLedgerPath())}
}

// diskReady fails when a volume the vault writes to has less free space than the watermark.
func (a *App) diskReady() error {
	if a.Config.MinFreeBytes < 0 {
		return nil
	}
	minFree := uint64(cmp.Or(a.Config.MinFreeBytes, DefaultMinFreeBytes))
	vols := a.volumes()
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		free, err := datadir.FreeBytes(vols[name])
		if err != nil {
			return err
		}
		if free < minFree {
			return fmt.Errorf("%w: %d MiB free on the %s volume, below the watermark of %d MiB",
				ErrDiskLow, free>>20, name, minFree>>20)
		}
	}
	return nil
}

// ErrDiskLow means a volume the vault writes to is below the free-space watermark (Config.MinFreeBytes).
var ErrDiskLow = errors.New("disk space low")

// RequireKeys returns an error naming how many DEKs and subjects are affected if the key check at start
// found DEKs that do not unwrap (a KEK version missing from the ring): serving would answer 500 for every
// one of those subjects.
func (a *App) RequireKeys() error {
	if err := a.Vault.Keys().KeyHealth(); err != nil {
		return fmt.Errorf("%w; restore the key ring (%s; the previous ring is kept as %s.prev) and run `vaultd keys check`",
			err, a.ring.Path(), a.ring.Path())
	}
	return nil
}

// ResumeRotation finishes a key rotation that a crash or a shutdown interrupted, if there is one. It
// reports the rotation's result, or ok false when none was pending.
func (a *App) ResumeRotation(ctx context.Context, progress func(done, total int)) (res vault.RotationResult, ok bool, err error) {
	_, pending, err := a.Vault.Keys().PendingRotation(ctx)
	if err != nil || !pending {
		return vault.RotationResult{}, false, err
	}
	res, err = a.Vault.Keys().RotateKeys(ctx, SystemAccess("resume-key-rotation"), vault.RunOptions{Progress: progress})
	return res, true, err
}

// SystemAccess is the access of vaultd's own offline and background operations: the admin role, named
// as vaultd in the trail.
func SystemAccess(requestID string) vault.Access {
	return vault.Access{Caller: vault.Caller{Subject: "vaultd-cli", Roles: []policies.Role{policies.RoleAdmin}}, RequestID: requestID}
}

// Stats returns the embedded audit writer's counters (group commits, their time), for benchmarks and
// metrics; nil on PostgreSQL.
func (a *App) Stats() *sqlite.Metrics {
	if s, ok := a.store.(*sqlite.Store); ok {
		return s.Stats()
	}
	return nil
}

// CountActiveSubjects counts the subjects that are not erased (a number, for the demo's banner).
func (a *App) CountActiveSubjects(ctx context.Context) (int, error) {
	return a.store.CountActiveSubjects(ctx)
}

// KeyRingPath is the file the key ring is kept in.
func (a *App) KeyRingPath() string { return a.ring.Path() }

// Internals are the parts behind the services. Only tests may use them — to look at what storage holds
// or to break a key on purpose; the architecture test refuses any use of Internals in non-test code.
type Internals struct {
	Store    *sqlite.Store   // nil on PostgreSQL
	Postgres *postgres.Store // nil on SQLite
	Ring     *keys.Ring
	Crypto   *keys.VaultCrypto
}

// Internals returns the parts behind the services (tests only; see Internals).
func (a *App) Internals() Internals {
	in := Internals{Ring: a.ring, Crypto: a.crypto}
	in.Store, _ = a.store.(*sqlite.Store)
	in.Postgres, _ = a.store.(*postgres.Store)
	return in
}

// Mint signs a token with the server's own key for this deployment's issuer and audience.
func (a *App) Mint(sub string, roles []string, team string, ttl time.Duration) (string, error) {
	return a.Signer.Mint(authn.MintRequest{Subject: sub, Roles: roles, Team: team, TTL: ttl,
		Issuer: a.Config.JWTIssuer, Audience: a.Config.JWTAudience, Now: time.Now()})
}

// Close stops the store (committing what is queued) and releases the data directory.
func (a *App) Close() error {
	var errs []error
	if a.stopJobs != nil {
		a.stopJobs()
	}
	if a.watching != nil {
		<-a.watching
	}
	if a.Vault != nil {
		// A rotation stops at its next batch and stays resumable.
		a.Vault.Keys().WaitRotation()
		// Authentication failures folded since their last entry are recorded before the trail closes.
		if err := a.Vault.FlushAuthFailures(context.Background()); err != nil {
			errs = append(errs, err)
		}
		a.Vault.Profiles().WaitPurges()
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	} else if a.pgDB != nil {
		a.pgDB.Close()
	}
	if a.erasures != nil {
		errs = append(errs, a.erasures.Close())
	}
	if a.Dir != nil {
		errs = append(errs, a.Dir.Close())
	}
	return errors.Join(errs...)
}

// DemoSubjects returns a few active subject ids for printed examples.
func (a *App) DemoSubjects(ctx context.Context, n int) ([]string, error) {
	return a.store.ActiveSubjectIDs(ctx, n)
}

// Trail is the audit trail opened read-only for offline commands.
type Trail interface {
	audit.Store
	Close() error
}

// ReindexTrail rebuilds the audit trail's review index from its entries (vaultd audit reindex). It takes the
// data dir's lock, so it refuses while a server runs.
func ReindexTrail(ctx context.Context, dataDir string) (int, error) {
	dir, err := datadir.OpenExisting(dataDir)
	if err != nil {
		return 0, err
	}
	defer dir.Close()
	return sqlite.ReindexTrail(ctx, dir.File(datadir.DatabaseFile), dir.File(datadir.AuditLogDir))
}

// OpenTrailOn opens the audit trail of db (Config.DB) for reading: PostgreSQL's for a postgres:// DSN
// (beside the nodes serving it), else the embedded one in dataDir (OpenTrail).
func OpenTrailOn(ctx context.Context, db, dataDir string) (Trail, error) {
	switch {
	case postgresDSN(db):
		return postgres.OpenTrail(ctx, db)
	case db == "" || db == "sqlite":
		return OpenTrail(dataDir)
	}
	return nil, fmt.Errorf("unknown --db value (want sqlite or postgres://…)")
}

// OpenTrail opens the audit trail in dataDir read-only (no lock: it works beside a running server).
func OpenTrail(dataDir string) (Trail, error) {
	path := filepath.Join(dataDir, datadir.DatabaseFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s", path)
	}
	return sqlite.OpenTrail(path, filepath.Join(dataDir, datadir.AuditLogDir))
}

// requestRules are the configured request rules, or the defaults (dsr.NewRules). (cmp.Or would compare
// the interfaces, which panics on dsr.Rules: its deadlines hold a map.)
func requestRules(r vault.RequestRules) vault.RequestRules {
	if r == nil {
		return dsr.NewRules()
	}
	return r
}
