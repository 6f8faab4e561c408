package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointerSettings checks that the writer leaves checkpoints to the
// checkpointer, whose connection gives up quickly on a busy database rather
// than hold the writer's lock.
func TestCheckpointerSettings(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var auto, busy int
	if err := d.Write.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Errorf("writer wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	if err := d.checkpointer.conn.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(checkpointBusy.Milliseconds()) {
		t.Errorf("checkpointer busy_timeout = %d (%v), want %d", busy, err, checkpointBusy.Milliseconds())
	}
	if err := d.Write.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 10000 {
		t.Errorf("writer busy_timeout = %d (%v)", busy, err)
	}
}

// TestCheckpointerRestartsTheWALUnderSteadyWrites: with a writer that holds
// its lock nearly all the time, the WAL is still started again from its
// beginning once it passes its bound, and writes go on meanwhile.
func TestCheckpointerRestartsTheWALUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.checkpointer.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write.Exec("CREATE TABLE filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	c := d.checkpointer
	c.every, c.restartFrames, c.restartEvery = 10*time.Millisecond, 64, 0
	c.conn, err = sql.Open(sqliteDriverName, "file:"+d.location[len("sqlite:"):]+"?"+sqlitePragmas+"&_pragma=busy_timeout(50)")
	if err != nil {
		t.Fatal(err)
	}
	c.conn.SetMaxOpenConns(1)
	c.start()
	// Transactions of 20 ms back to back, each dirtying a few pages.
	stop := time.Now().Add(1500 * time.Millisecond)
	writes := 0
	for time.Now().Before(stop) {
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			for range 8 {
				if _, err := tx.Exec("INSERT INTO filler (b) VALUES (randomblob(4000))"); err != nil {
					return err
				}
			}
			time.Sleep(20 * time.Millisecond)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		writes++
	}
	if n := c.restarts.Load(); n == 0 {
		t.Fatalf("the WAL was never started again in %d transactions", writes)
	}
	t.Logf("%d restarts in %d transactions", c.restarts.Load(), writes)
}
