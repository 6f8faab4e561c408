// Package db opens careloop's database, SQLite or PostgreSQL, and keeps its
// schema current.
//
// Both engines are used through database/sql with the same SQL where the
// dialects agree: positional parameters ($1, $2 …) work on both. Where they
// differ, code asks DB.Dialect. For SQLite the DB holds two pools over one
// file in WAL mode: a write pool of exactly one connection, so writers queue
// in Go rather than fail with SQLITE_BUSY, and a read pool for concurrent
// readers. For PostgreSQL both pools are the same pgx pool, and a second pgx
// pool serves LISTEN for the job queue.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect names a database engine.
type Dialect string

// The engines careloop runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open careloop database. It is safe for concurrent use.
type DB struct {
	// Dialect is the engine behind the pools.
	Dialect Dialect
	// Write runs writes and transactions. On SQLite it has one connection:
	// code running inside a transaction must use that transaction and never
	// Write itself, or it waits forever.
	Write *sql.DB
	// Read runs reads that need no transaction. On PostgreSQL it is Write.
	Read *sql.DB
	// Listen is the pgx pool used for LISTEN/NOTIFY on PostgreSQL; nil on
	// SQLite.
	Listen *pgxpool.Pool

	location     string        // redacted, for messages
	checkpointer *checkpointer // SQLite only
}

// Options tells Open where the database is.
type Options struct {
	// SQLitePath is the database file; used when PostgresURL is empty.
	SQLitePath string
	// PostgresURL is a postgres:// URL.
	PostgresURL string
	// ReadConns bounds the SQLite read pool (default 2 × CPUs, at least 4)
	// and the PostgreSQL pool (default 4 × CPUs, at least 8).
	MaxConns int
	// Logger receives notices; nil discards them.
	Logger *slog.Logger
	// NoCheckpoints leaves the SQLite write-ahead log's checkpoints to
	// another process on the same file: for a helper process of a server
	// (the audit worker), which runs at idle CPU priority and must not
	// hold the checkpoint's locks while starved.
	NoCheckpoints bool
}

// Open connects to the database described by o and checks that it answers.
// It does not migrate: call Migrate. Errors say what is wrong in terms an
// operator can act on: a corrupt or read-only file, an unreachable server.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.PostgresURL != "" {
		return openPostgres(ctx, o)
	}
	return openSQLite(ctx, o)
}

// sqlitePragmas are set on every SQLite connection. busy_timeout matters even
// with one writer: readers and a second careloop process may hold locks.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_time_format=sqlite"

func openSQLite(ctx context.Context, o Options) (*DB, error) {
	path := o.SQLitePath
	if path == "" {
		return nil, errors.New("db: no SQLite path given")
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("db: %s is a folder, not a database file", path)
		}
		if st.Mode().Perm()&0o222 == 0 {
			return nil, fmt.Errorf("db: database file %s is read-only; careloop needs to write to it (chmod u+w)", path)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("db: cannot use database file %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	registerSQLite()
	base := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + sqlitePragmas
	// A large page cache for the writer keeps big transactions (a bundle of
	// hundreds of resources and their index rows) from spilling to the WAL
	// before commit.
	// The writer never checkpoints: the checkpointer does, beside it.
	write, err := sql.Open(sqliteDriverName, base+fmt.Sprintf("&_txlock=immediate&_pragma=cache_size(-65536)&_pragma=temp_store(memory)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(%d)", walSizeLimit))
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	read, err := sql.Open(sqliteDriverName, base+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	n := o.MaxConns
	if n <= 0 {
		n = max(4, 2*runtime.NumCPU())
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	ckptBase := strings.Replace(base, "busy_timeout(10000)", fmt.Sprintf("busy_timeout(%d)", checkpointBusy.Milliseconds()), 1)
	ckpt, err := sql.Open(sqliteDriverName, ckptBase+fmt.Sprintf("&_pragma=journal_size_limit(%d)", walSizeLimit))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)

	d := &DB{Dialect: SQLite, Write: write, Read: read, location: "sqlite:" + path}
	if err := d.checkSQLite(ctx, path); err != nil {
		d.Close()
		ckpt.Close()
		return nil, err
	}
	if o.NoCheckpoints {
		ckpt.Close()
		return d, nil
	}
	d.checkpointer = startCheckpointer(ckpt, write, o.Logger)
	return d, nil
}

// checkSQLite proves the file is a SQLite database in WAL mode that accepts
// writes, without changing anything in it.
func (d *DB) checkSQLite(ctx context.Context, path string) error {
	var mode string
	if err := d.Write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return sqliteOpenError(path, err)
	}
	var n int
	if err := d.Write.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return sqliteOpenError(path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("db: %s cannot be switched to write-ahead logging (journal mode %q); is the file or its folder read-only?", path, mode)
	}
	// BEGIN IMMEDIATE takes the write lock, which fails on a read-only file.
	tx, err := d.Write.BeginTx(ctx, nil)
	if err != nil {
		return sqliteOpenError(path, err)
	}
	return tx.Rollback()
}

func sqliteOpenError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a database"), strings.Contains(msg, "malformed"), strings.Contains(msg, "SQLITE_CORRUPT"), strings.Contains(msg, "SQLITE_NOTADB"):
		return fmt.Errorf("db: %s is not a valid careloop database (corrupt or another kind of file); restore it from a backup or move it away: %w", path, err)
	case strings.Contains(msg, "readonly"), strings.Contains(msg, "read-only"), strings.Contains(msg, "SQLITE_READONLY"):
		return fmt.Errorf("db: database file %s is read-only; careloop needs to write to it: %w", path, err)
	default:
		return fmt.Errorf("db: open %s: %w", path, err)
	}
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(o.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("db: PostgreSQL URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// Statements are prepared once per connection; PostgreSQL would soon
	// plan them once for any parameters (a generic plan). A FHIR search
	// for a patient's readings and one for a code every patient has need
	// different plans: a generic plan made searches 40 times slower.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	n := o.MaxConns
	if n <= 0 {
		n = max(8, 4*runtime.NumCPU())
	}
	cfg.MaxConns = int32(n)
	where := fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: cannot reach %s: %w", where, err)
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns = 2
	listen, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: %s: %w", where, err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	return &DB{Dialect: Postgres, Write: sqldb, Read: sqldb, Listen: listen, location: where}, nil
}

// String names the database without secrets.
func (d *DB) String() string { return d.location }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.Read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("db: ping %s: %w", d.location, err)
	}
	return nil
}

// InTx runs fn in a transaction on the write pool and commits if fn returns
// nil; otherwise, or if fn panics, it rolls back. fn must do all its
// database work through tx.
func (d *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := d.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Close closes every pool. It waits for nothing: stop users first.
func (d *DB) Close() error {
	var errs []error
	if d.checkpointer != nil {
		errs = append(errs, d.checkpointer.stop())
		d.checkpointer = nil
	}
	if d.Read != nil && d.Read != d.Write {
		errs = append(errs, d.Read.Close())
	}
	if d.Write != nil {
		errs = append(errs, d.Write.Close())
	}
	if d.Listen != nil {
		d.Listen.Close()
	}
	return errors.Join(errs...)
}

// migrationFS returns the embedded migrations of the dialect.
func (d *DB) migrationFS() (fs.FS, error) {
	return fs.Sub(migrations, "migrations/"+string(d.Dialect))
}
