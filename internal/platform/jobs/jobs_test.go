package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// markArgs asks the worker to confirm the mark row written with the job.
type markArgs struct {
	Key string `json:"key"`
}

func (markArgs) Kind() string { return "test.mark" }

// markWorker reads the row its job was inserted with, proving the data was
// committed together with the job, and reports the key.
type markWorker struct {
	river.WorkerDefaults[markArgs]
	d    *db.DB
	done chan string
}

func (w *markWorker) Work(ctx context.Context, job *river.Job[markArgs]) error {
	var n int
	if err := w.d.Read.QueryRowContext(ctx, "SELECT count(*) FROM test_marks WHERE key = $1", job.Args.Key).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("mark %s: %d rows", job.Args.Key, n)
	}
	w.done <- job.Args.Key
	return nil
}

func setup(t testing.TB, d *db.DB) {
	dbtest.MustExec(t, d, "CREATE TABLE test_marks (org_id TEXT NOT NULL, key TEXT NOT NULL PRIMARY KEY)")
}

func newQueue(t testing.TB, d *db.DB, add func(*river.Workers)) *jobs.Queue {
	t.Helper()
	w := river.NewWorkers()
	add(w)
	q, err := jobs.New(d, jobs.Config{Workers: w, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func insertMark(ctx context.Context, d *db.DB, q *jobs.Queue, key string, fail error) error {
	return d.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO test_marks (org_id, key) VALUES ('org', $1)", key); err != nil {
			return err
		}
		if _, err := q.InsertTx(ctx, tx, markArgs{Key: key}, nil); err != nil {
			return err
		}
		return fail
	})
}

func jobCount(t testing.TB, d *db.DB, kind string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM river_job WHERE kind = $1", kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJobCommitsAndRollsBackWithItsData(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		setup(t, d)
		done := make(chan string, 10)
		q := newQueue(t, d, func(w *river.Workers) { river.AddWorker(w, &markWorker{d: d, done: done}) })

		rollback := errors.New("caller changed its mind")
		if err := insertMark(ctx, d, q, "rolled-back", rollback); !errors.Is(err, rollback) {
			t.Fatalf("got %v", err)
		}
		if n := jobCount(t, d, "test.mark"); n != 0 {
			t.Fatalf("%d jobs survived a rolled-back transaction", n)
		}
		if err := insertMark(ctx, d, q, "committed", nil); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		select {
		case key := <-done:
			if key != "committed" {
				t.Fatalf("worker saw %q", key)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("job not worked within 10s")
		}
	})
}

// blockArgs is a job that runs until its context ends, then fails so that
// it is stored for a retry, and succeeds on its second attempt.
type blockArgs struct{}

func (blockArgs) Kind() string { return "test.block" }

type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	started  chan struct{}
	finished atomic.Int32
}

func (w *blockWorker) Work(ctx context.Context, job *river.Job[blockArgs]) error {
	if job.Attempt > 1 {
		w.finished.Add(1)
		return nil
	}
	close(w.started)
	<-ctx.Done()
	return ctx.Err()
}

func TestStopReleasesRunningJobsAndLosesNone(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := &blockWorker{started: make(chan struct{})}
		q := newQueue(t, d, func(ws *river.Workers) { river.AddWorker(ws, w) })
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := q.Client().Insert(ctx, blockArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.started:
		case <-time.After(10 * time.Second):
			t.Fatal("job did not start")
		}
		stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		job, err := q.Client().JobGet(ctx, res.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != rivertype.JobStateRetryable && job.State != rivertype.JobStateAvailable {
			t.Fatalf("after shutdown the job is %s, want it released for a retry", job.State)
		}

		// A new process picks it up and finishes it.
		q2 := newQueue(t, d, func(ws *river.Workers) { river.AddWorker(ws, w) })
		if err := q2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q2.Stop(ctx)
		deadline := time.Now().Add(30 * time.Second)
		for w.finished.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("released job was not run again within 30s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestInsertOnlyQueue(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	setup(t, d)
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := insertMark(context.Background(), d, q, "k", nil); err != nil {
		t.Fatal(err)
	}
	if n := jobCount(t, d, "test.mark"); n != 1 {
		t.Fatalf("%d jobs", n)
	}
}

// BenchmarkJobRoundTrip measures the time from the commit of a transaction
// holding data and its job to the start of the worker on that job.
func BenchmarkJobRoundTrip(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			setup(b, d)
			ctx := context.Background()
			done := make(chan string, 1)
			q := newQueue(b, d, func(w *river.Workers) { river.AddWorker(w, &markWorker{d: d, done: done}) })
			if err := q.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer q.Stop(ctx)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := insertMark(ctx, d, q, fmt.Sprint("k", i), nil); err != nil {
					b.Fatal(err)
				}
				<-done
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// countArgs is a job that only counts.
type countArgs struct{}

func (countArgs) Kind() string { return "test.count" }

type countWorker struct {
	river.WorkerDefaults[countArgs]
	n    atomic.Int64
	want int64
	all  chan struct{}
}

func (w *countWorker) Work(ctx context.Context, job *river.Job[countArgs]) error {
	if w.n.Add(1) == w.want {
		close(w.all)
	}
	return nil
}

// BenchmarkJobThroughput inserts b.N jobs in transactions of 500 and
// measures how fast workers drain them; it reports jobs per second.
func BenchmarkJobThroughput(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			ctx := context.Background()
			w := &countWorker{want: int64(b.N), all: make(chan struct{})}
			ws := river.NewWorkers()
			river.AddWorker(ws, w)
			q, err := jobs.New(d, jobs.Config{Workers: ws, MaxWorkers: benchWorkers})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += 500 {
				n := min(500, b.N-i)
				params := make([]river.InsertManyParams, n)
				for j := range params {
					params[j] = river.InsertManyParams{Args: countArgs{}}
				}
				if err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := q.Client().InsertManyFastTx(ctx, tx, params)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			if err := q.Start(ctx); err != nil {
				b.Fatal(err)
			}
			<-w.all
			elapsed := time.Since(start)
			b.StopTimer()
			q.Stop(ctx)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}

var benchWorkers = 100

// TestQueueRunsConsumers: the queue runs its outbox consumers from Start
// to Stop, once however often it is started, and reports their backlog.
func TestQueueRunsConsumers(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		setup(t, d)
		q := newQueue(t, d, func(w *river.Workers) { river.AddWorker(w, &markWorker{d: d, done: make(chan string, 1)}) })
		var calls atomic.Int64
		q.AddConsumer(outbox.New(outbox.Config{DB: d, Topic: "test.marks", Poll: 5 * time.Millisecond,
			Handler: func(ctx context.Context, tx *sql.Tx, items []outbox.Item) (func(), error) {
				calls.Add(1)
				for _, it := range items {
					if _, err := tx.ExecContext(ctx, "INSERT INTO test_marks (org_id, key) VALUES ($1, $2)", it.OrgID, string(it.Payload)); err != nil {
						return nil, err
					}
				}
				return nil, nil
			}}))
		enqueue := func(key string) {
			t.Helper()
			if err := d.InTx(ctx, func(tx *sql.Tx) error { return outbox.Enqueue(ctx, tx, "test.marks", "org", []byte(key)) }); err != nil {
				t.Fatal(err)
			}
		}
		waitIdle := func() {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				b, err := jobs.BacklogOf(ctx, d, "test.")
				if err != nil {
					t.Fatal(err)
				}
				if b.Waiting == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d items still waiting", b.Waiting)
				}
			}
		}
		enqueue("first")
		if b, err := jobs.BacklogOf(ctx, d, "test."); err != nil || b.Waiting != 1 {
			t.Fatalf("backlog before the start: %+v, %v", b, err)
		}
		for range 2 {
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		waitIdle()
		if err := q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		enqueue("while stopped")
		time.Sleep(50 * time.Millisecond)
		if b, _ := jobs.BacklogOf(ctx, d, "test."); b.Waiting != 1 {
			t.Fatalf("a stopped queue applied items: %+v", b)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		waitIdle()
		var n int
		if err := d.Read.QueryRow("SELECT count(*) FROM test_marks").Scan(&n); err != nil || n != 2 || calls.Load() < 2 {
			t.Fatalf("%d marks in %d batches, %v; want 2", n, calls.Load(), err)
		}
	})
}
