// Package dbtest gives tests a fresh, migrated careloop database on every
// engine the run covers, so one contract suite runs on SQLite and PostgreSQL.
//
// SQLite always runs. PostgreSQL runs when CARELOOP_TEST_POSTGRES holds the
// URL of a server where the test may create databases (each test gets its
// own, dropped afterwards). Without it the PostgreSQL cases skip with a
// message, except when CI is set: then they fail, because CI must never
// silently skip. CARELOOP_TEST_ENGINES (sqlite, postgres, or both comma
// separated) narrows a run to some engines.
package dbtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// Engines returns the engines this test run covers.
func Engines() []db.Dialect {
	want := os.Getenv("CARELOOP_TEST_ENGINES")
	if want == "" {
		return []db.Dialect{db.SQLite, db.Postgres}
	}
	var out []db.Dialect
	for _, e := range strings.Split(want, ",") {
		out = append(out, db.Dialect(strings.TrimSpace(e)))
	}
	return out
}

// Run runs fn as a subtest per engine with a fresh migrated database.
func Run(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e))
		})
	}
}

// Open returns a fresh, migrated database of the engine, closed and removed
// when t ends.
func Open(t testing.TB, e db.Dialect) *db.DB {
	t.Helper()
	d, _ := OpenWithOptions(t, e)
	return d
}

// OpenWithOptions is Open that also returns the options that open the same
// database again, from another process for example.
func OpenWithOptions(t testing.TB, e db.Dialect) (*db.DB, db.Options) {
	t.Helper()
	d, opts := openEmpty(t, e)
	ctx := context.Background()
	if err := jobs.Migrate(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return d, opts
}

// OpenEmpty is Open without migrations.
func OpenEmpty(t testing.TB, e db.Dialect) *db.DB {
	t.Helper()
	d, _ := openEmpty(t, e)
	return d
}

func openEmpty(t testing.TB, e db.Dialect) (*db.DB, db.Options) {
	t.Helper()
	ctx := context.Background()
	var opts db.Options
	switch e {
	case db.SQLite:
		opts.SQLitePath = filepath.Join(t.TempDir(), "careloop.db")
	case db.Postgres:
		opts.PostgresURL = PostgresURL(t)
	default:
		t.Fatalf("dbtest: unknown engine %q in CARELOOP_TEST_ENGINES", e)
	}
	d, err := db.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, opts
}

// PostgresURL creates a fresh PostgreSQL database for t and returns its URL;
// the database is dropped when t ends. It skips t (fails it under CI) when no
// server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("CARELOOP_TEST_POSTGRES")
	if admin == "" {
		msg := "PostgreSQL tests need CARELOOP_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set: not skipping)")
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect to CARELOOP_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	name := "careloop_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("dbtest: CARELOOP_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// MustExec runs statements on d's write pool and fails t on error.
func MustExec(t testing.TB, d *db.DB, query string, args ...any) {
	t.Helper()
	if _, err := d.Write.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", query, err))
	}
}
