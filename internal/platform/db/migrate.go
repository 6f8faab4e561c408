package db

import (
	"context"
	"embed"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// migrationTable is goose's bookkeeping table. It holds no tenant data.
const migrationTable = "careloop_schema_version"

// migrationLockID is the PostgreSQL advisory lock that serialises
// migrations of nodes starting at once ("careloop" in ASCII).
const migrationLockID = 0x636172656c6f6f70

// SchemaTooNewError reports a database migrated by a newer careloop.
type SchemaTooNewError struct{ DBVersion, KnownVersion int64 }

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("db: the database schema is at version %d but this careloop knows versions up to %d; it was migrated by a newer careloop: run that version or restore a backup", e.DBVersion, e.KnownVersion)
}

func (d *DB) provider(log *slog.Logger) (*goose.Provider, error) {
	fsys, err := d.migrationFS()
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	opts := []goose.ProviderOption{goose.WithTableName(migrationTable), goose.WithDisableGlobalRegistry(true)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(dialect, d.Write, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	return p, nil
}

// SchemaVersion returns the schema version of the database and the newest
// version this build knows.
func (d *DB) SchemaVersion(ctx context.Context) (current, known int64, err error) {
	p, err := d.provider(nil)
	if err != nil {
		return 0, 0, err
	}
	current, known, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("db: read schema version: %w", err)
	}
	return current, known, nil
}

// Migrate brings the application schema up to the newest version this build
// knows. Each migration runs in its own transaction, so a failure leaves the
// schema at the last complete version. A schema newer than this build is a
// *SchemaTooNewError and nothing is changed. It returns the versions applied.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger) ([]int64, error) {
	var applied []int64
	err := d.WithMigrationLock(ctx, func(ctx context.Context) error {
		p, err := d.provider(log)
		if err != nil {
			return err
		}
		current, known, err := p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("db: read schema version of %s: %w", d.location, err)
		}
		if current > known {
			return &SchemaTooNewError{DBVersion: current, KnownVersion: known}
		}
		results, err := p.Up(ctx)
		for _, r := range results {
			if r.Error == nil {
				applied = append(applied, r.Source.Version)
			}
		}
		if err != nil {
			return fmt.Errorf("db: migrate %s: %w", d.location, err)
		}
		return nil
	})
	return applied, err
}

// MigrateTo moves the schema up or down to version, each migration in its
// own transaction as in Migrate. Going down runs the migrations' Down
// sections, which undo what the later versions changed: for taking back
// an upgrade, and for tests of a migration that fill a database at the
// version before it.
func (d *DB) MigrateTo(ctx context.Context, version int64) error {
	return d.WithMigrationLock(ctx, func(ctx context.Context) error {
		p, err := d.provider(nil)
		if err != nil {
			return err
		}
		current, _, err := p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("db: read schema version of %s: %w", d.location, err)
		}
		if version < current {
			_, err = p.DownTo(ctx, version)
		} else {
			_, err = p.UpTo(ctx, version)
		}
		if err != nil {
			return fmt.Errorf("db: migrate %s to version %d: %w", d.location, version, err)
		}
		return nil
	})
}

// WithMigrationLock runs fn while holding the cluster-wide migration lock on
// PostgreSQL, so that nodes starting together migrate one at a time. On
// SQLite, whose single writer already serialises, it just runs fn.
func (d *DB) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if d.Dialect != Postgres {
		return fn(ctx)
	}
	conn, err := d.Listen.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("db: migration lock: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
		return fmt.Errorf("db: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockID)) //nolint:errcheck // the lock also ends with the session
	return fn(ctx)
}
