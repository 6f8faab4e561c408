package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// systemTables hold no tenant data: the tenants themselves, the
// bookkeeping of the schema and the job queue, and the numbers of the FHIR
// search parameters (names from the specification, the same for every
// organisation).
func systemTable(name string) bool {
	return name == "organizations" || name == "careloop_schema_version" || name == "fhir_index_params" ||
		strings.HasPrefix(name, "river_") || strings.HasPrefix(name, "sqlite_") || strings.HasPrefix(name, "goose") ||
		auditTreeTable[name]
}

// auditTreeTable names the tables of the audit log's one Merkle tree for
// the whole installation: entries carry their organisation inside their
// signed bytes (and audit_leaf and audit_patient in a column), but the tree's
// nodes, state, checkpoints and append queue belong to no one organisation.
var auditTreeTable = map[string]bool{"audit_entry": true, "audit_node": true, "audit_tree": true,
	"audit_checkpoint": true, "audit_pending": true, "audit_spool": true}

func tables(t *testing.T, d *db.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
	if d.Dialect == db.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	rows, err := d.Read.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// column tells whether table has the column, and whether it is NOT NULL.
func column(t *testing.T, d *db.DB, table, column string) (found, notNull bool) {
	t.Helper()
	if d.Dialect == db.Postgres {
		var nullable string
		err := d.Read.QueryRow("SELECT is_nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2", table, column).Scan(&nullable)
		if errors.Is(err, sql.ErrNoRows) {
			return false, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true, nullable == "NO"
	}
	rows, err := d.Read.Query("SELECT name, \"notnull\" FROM pragma_table_info($1)", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var nn bool
		if err := rows.Scan(&name, &nn); err != nil {
			t.Fatal(err)
		}
		if name == column {
			return true, nn
		}
	}
	return false, false
}

// TestEveryDataTableCarriesTenant enforces the tenancy rule on the real
// schema: a new table without org_id fails here. The FHIR search index
// tables are the one kind of exception: each row belongs to a resource
// through res (fhir_resources.rk), and every search joins it to that
// resource's org_id.
func TestEveryDataTableCarriesTenant(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ts := tables(t, d)
		if len(ts) < 5 {
			t.Fatalf("only %d tables: %v", len(ts), ts)
		}
		for _, table := range ts {
			if systemTable(table) {
				continue
			}
			if strings.HasPrefix(table, "fhir_idx_") {
				if found, notNull := column(t, d, table, "res"); !found || !notNull {
					t.Errorf("search index table %s: res column present=%v not-null=%v; every row must belong to a resource", table, found, notNull)
				}
				continue
			}
			found, notNull := column(t, d, table, "org_id")
			if !found || !notNull {
				t.Errorf("table %s: org_id column present=%v not-null=%v; every data table must carry its organisation", table, found, notNull)
			}
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		applied, err := d.Migrate(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migration applied %v", applied)
		}
		cur, known, err := d.SchemaVersion(context.Background())
		if err != nil || cur != known || cur < 1 {
			t.Fatalf("version %d of %d, err %v", cur, known, err)
		}
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dbtest.MustExec(t, d, "INSERT INTO careloop_schema_version (version_id, is_applied) VALUES (9999, true)")
		before := tables(t, d)
		_, err := d.Migrate(ctx, nil)
		var tooNew *db.SchemaTooNewError
		if !errors.As(err, &tooNew) || tooNew.DBVersion != 9999 {
			t.Fatalf("got %v, want SchemaTooNewError for 9999", err)
		}
		if !strings.Contains(err.Error(), "newer careloop") {
			t.Errorf("message %q does not tell the operator what happened", err)
		}
		if after := tables(t, d); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("tables changed: %v -> %v", before, after)
		}
	})
}

func TestInTxRollsBackOnErrorAndPanic(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		insert := func(tx *sql.Tx, id string) {
			if _, err := tx.ExecContext(ctx, "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $1, $1, CURRENT_TIMESTAMP)", id); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("boom")
		if err := d.InTx(ctx, func(tx *sql.Tx) error { insert(tx, "a"); return boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		func() {
			defer func() { _ = recover() }()
			_ = d.InTx(ctx, func(tx *sql.Tx) error { insert(tx, "b"); panic("boom") })
		}()
		if err := d.InTx(ctx, func(tx *sql.Tx) error { insert(tx, "c"); return nil }); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.Read.QueryRow("SELECT count(*) FROM organizations").Scan(&n); err != nil || n != 1 {
			t.Fatalf("count %d err %v, want only the committed row", n, err)
		}
	})
}

func TestSQLitePools(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	if got := d.Write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool has %d connections, want 1", got)
	}
	if got := d.Read.Stats().MaxOpenConnections; got < 4 {
		t.Errorf("read pool has %d connections, want at least 4", got)
	}
	var mode string
	var fk, busy int
	if err := d.Read.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q err %v", mode, err)
	}
	if err := d.Read.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d err %v", fk, err)
	}
	if err := d.Read.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 1000 {
		t.Errorf("busy_timeout %d err %v", busy, err)
	}
	if _, err := d.Read.Exec("INSERT INTO organizations (id, slug, name, created_at) VALUES ('x','x','x',CURRENT_TIMESTAMP)"); err == nil {
		t.Error("read pool accepted a write")
	}
}

func TestSQLiteOpenFaults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("this is not a database file ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	readonly := filepath.Join(dir, "readonly.db")
	d, err := db.Open(ctx, db.Options{SQLitePath: readonly})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.Chmod(readonly, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"corrupt", corrupt, "not a valid careloop database"},
		{"read-only", readonly, "read-only"},
		{"folder", dir, "is a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			_, err := db.Open(ctx, db.Options{SQLitePath: tc.path})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if after, _ := os.ReadFile(tc.path); string(after) != string(before) {
				t.Error("the file was changed")
			}
		})
	}
}

func TestPostgresUnreachable(t *testing.T) {
	_, err := db.Open(context.Background(), db.Options{PostgresURL: "postgres://careloop@127.0.0.1:1/careloop?connect_timeout=2"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach PostgreSQL at 127.0.0.1:1/careloop") {
		t.Fatalf("got %v", err)
	}
}

// TestSQLiteStatementCacheNestedQueries runs the same statement again while
// rows from it are still open, which the per-connection statement cache
// must not confuse, and checks results stay right across reuse.
func TestSQLiteStatementCacheNestedQueries(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []string{"a", "b", "c"} {
			if _, err := tx.ExecContext(ctx, "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $1, $1, CURRENT_TIMESTAMP)", id); err != nil {
				return err
			}
		}
		const q = "SELECT id FROM organizations WHERE id >= $1 ORDER BY id"
		outer, err := tx.QueryContext(ctx, q, "a")
		if err != nil {
			return err
		}
		defer outer.Close()
		var got []string
		for outer.Next() {
			var id string
			if err := outer.Scan(&id); err != nil {
				return err
			}
			inner, err := tx.QueryContext(ctx, q, id)
			if err != nil {
				return err
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			got = append(got, fmt.Sprintf("%s:%d", id, n))
		}
		if strings.Join(got, ",") != "a:3,b:2,c:1" {
			t.Errorf("got %v", got)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	var created time.Time
	if err := d.Read.QueryRow("SELECT created_at FROM organizations WHERE id = $1", "a").Scan(&created); err != nil {
		t.Fatalf("scanning a timestamp through the cache: %v", err)
	}
}
