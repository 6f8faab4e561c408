package db

import (
	"context"
	"path/filepath"
	"testing"
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
