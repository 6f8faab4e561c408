package audit

import (
	"context"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// BenchmarkSpoolWrite measures one read's entry written to the spool
// (encoding excluded), through the mapping and through WriteAt.
func BenchmarkSpoolWrite(b *testing.B) {
	for _, mapped := range []bool{true, false} {
		name := "write"
		if mapped {
			name = "mapped"
		}
		b.Run(name, func(b *testing.B) {
			d := dbtest.Open(b, db.SQLite)
			sp, err := openSpool(context.Background(), d, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer sp.close()
			if !mapped {
				_ = unmapSpool(sp.mm)
				sp.mm = nil
			}
			e := spoolEntry(1)
			if err := e.normalize(time.Now()); err != nil {
				b.Fatal(err)
			}
			rec := appendRecord(nil, &e)
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if err := sp.write(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
