package audit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// benchEngine is the engine of the benchmarks: SQLite unless
// CARELOOP_BENCH_ENGINE=postgres.
func benchEngine() db.Dialect {
	if os.Getenv("CARELOOP_BENCH_ENGINE") == "postgres" {
		return db.Postgres
	}
	return db.SQLite
}

// BenchmarkRecordConcurrent measures Record (group commit) from 32
// goroutines. With CARELOOP_BENCH_SEQUENCER=1 the sequencer runs beside it
// as in a server, sharing the one SQLite writer.
func BenchmarkRecordConcurrent(b *testing.B) {
	d := dbtest.Open(b, benchEngine())
	l := newTestLog(b, d, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if os.Getenv("CARELOOP_BENCH_SEQUENCER") == "1" {
		go l.Run(ctx)
	}
	var n atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			e := readEntry("Practitioner/"+strconv.FormatInt(i%50, 10), "Patient/"+strconv.FormatInt(i%1000, 10))
			if err := l.Record(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendTxBatches measures AppendTx of 100 entries per transaction
// from 8 goroutines, as bundles of writes do. CARELOOP_BENCH_SEQUENCER=1
// runs the sequencer beside it.
func BenchmarkAppendTxBatches(b *testing.B) {
	d := dbtest.Open(b, benchEngine())
	l := newTestLog(b, d, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if os.Getenv("CARELOOP_BENCH_SEQUENCER") == "1" {
		go l.Run(ctx)
	}
	const batch = 100
	var wg sync.WaitGroup
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			es := make([]Entry, batch)
			for next.Add(1) <= int64(b.N) {
				for i := range es {
					es[i] = readEntry("Practitioner/1", "Patient/"+strconv.Itoa(i))
				}
				if err := d.InTx(ctx, func(tx *sql.Tx) error { return l.AppendTx(ctx, tx, es...) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "entries/s")
}

// seed stores n entries in large transactions and sequences them.
func seed(tb testing.TB, l *Log, n int) {
	tb.Helper()
	ctx := context.Background()
	const per = 20000
	for done := 0; done < n; {
		k := min(per, n-done)
		es := make([]Entry, k)
		for i := range es {
			es[i] = readEntry("Practitioner/"+strconv.Itoa((done+i)%50), "Patient/"+strconv.Itoa((done+i)%5000))
		}
		if err := l.db.InTx(ctx, func(tx *sql.Tx) error { return l.AppendTx(ctx, tx, es...) }); err != nil {
			tb.Fatal(err)
		}
		if _, err := l.Sequence(ctx); err != nil {
			tb.Fatal(err)
		}
		done += k
	}
}

// BenchmarkVerify measures Verify over a log of CARELOOP_BENCH_VERIFY_N
// entries (default 1,000,000), seeded before the timer starts.
func BenchmarkVerify(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("CARELOOP_BENCH_VERIFY_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	d := dbtest.Open(b, benchEngine())
	l := newTestLog(b, d, nil)
	start := time.Now()
	seed(b, l, n)
	if _, _, err := l.Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d entries in %s", n, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for b.Loop() {
		rep, err := l.Verify(context.Background(), VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Leaves != uint64(n) {
			b.Fatal(fmt.Sprint(rep.Findings))
		}
	}
	b.ReportMetric(float64(n), "entries")
}

// BenchmarkSequence measures the sequencer alone: entries stored by
// Record in commits of up to 32 are given leaves, nodes and search rows,
// 3,200 at a time (a backlog) and 50 at a time (what a server reading
// 2,000 times a second gathers between two turns of the sequencer).
func BenchmarkSequence(b *testing.B) {
	for _, per := range []int{3200, 50} {
		b.Run(fmt.Sprintf("batch-%d", per), func(b *testing.B) {
			d := dbtest.Open(b, benchEngine())
			l := newTestLog(b, d, nil)
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				for i := 0; i < per; i += 32 {
					es := make([]Entry, min(32, per-i))
					for j := range es {
						es[j] = readEntry("Practitioner/"+strconv.Itoa(j), "Patient/"+strconv.Itoa(i+j))
					}
					if err := l.Record(ctx, es...); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if n, err := l.Sequence(ctx); err != nil || n != per {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
