package signin_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

func orgOf(t *testing.T, d *db.DB, slug string) string {
	t.Helper()
	o := &tenant.Organization{Slug: slug, Name: slug}
	if err := d.InTx(context.Background(), func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(context.Background(), tx, o) }); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestThrottle(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := orgOf(t, d, "clinic-a"), orgOf(t, d, "clinic-b")
		th := signin.NewThrottle(d)
		var mu sync.Mutex
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		th.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
		advance := func(dur time.Duration) { mu.Lock(); now = now.Add(dur); mu.Unlock() }
		l := signin.Limit{Failures: 3, Window: 10 * time.Minute, Block: 5 * time.Minute}

		for i := 1; i <= 2; i++ {
			n, blocked, err := th.Fail(ctx, a, "account:u1", l)
			if err != nil || n != i || blocked {
				t.Fatalf("failure %d: %d %v %v", i, n, blocked, err)
			}
			if err := th.Check(ctx, a, "account:u1"); err != nil {
				t.Fatalf("blocked after %d failures: %v", i, err)
			}
		}
		if _, blocked, _ := th.Fail(ctx, a, "account:u1", l); !blocked {
			t.Fatal("the third failure did not block")
		}
		err := th.Check(ctx, a, "account:u1")
		var be *signin.BlockedError
		if errs.CodeOf(err) != errs.RateLimited || !errors.As(err, &be) || !be.Until.Equal(now.Add(5*time.Minute)) ||
			!strings.Contains(errs.MessageOf(err), "try again in 5 minutes") {
			t.Fatalf("check while blocked: %v (%q)", err, errs.MessageOf(err))
		}
		// Other keys and organisations are not affected.
		if err := th.Check(ctx, b, "account:u1"); err != nil {
			t.Errorf("another organisation: %v", err)
		}
		if err := th.Check(ctx, a, "account:u2"); err != nil {
			t.Errorf("another account: %v", err)
		}
		advance(4*time.Minute + 30*time.Second)
		if err := th.Check(ctx, a, "account:u1"); !strings.Contains(errs.MessageOf(err), "try again in 1 minute.") {
			t.Errorf("half a minute left: %q", errs.MessageOf(err))
		}
		advance(31 * time.Second)
		if err := th.Check(ctx, a, "account:u1"); err != nil {
			t.Fatalf("after the block: %v", err)
		}
		// After a block, a fresh count.
		if n, blocked, _ := th.Fail(ctx, a, "account:u1", l); n != 1 || blocked {
			t.Errorf("first failure after the block: %d %v", n, blocked)
		}
		// Failures older than the window are forgotten.
		th.Fail(ctx, a, "account:u1", l)
		advance(11 * time.Minute)
		if n, blocked, _ := th.Fail(ctx, a, "account:u1", l); n != 1 || blocked {
			t.Errorf("failure after the window: %d %v", n, blocked)
		}
		// Success resets.
		th.Fail(ctx, a, "account:u1", l)
		if err := th.Reset(ctx, a, "account:u1"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := th.Fail(ctx, a, "account:u1", l); n != 1 {
			t.Errorf("failure after reset: %d", n)
		}
		// Concurrent failures are all counted.
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, _, err := th.Fail(ctx, a, "address:10.0.0.9", signin.Limit{Failures: 100, Window: time.Hour, Block: time.Minute}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n, _, _ := th.Fail(ctx, a, "address:10.0.0.9", signin.Limit{Failures: 100, Window: time.Hour, Block: time.Minute}); n != 11 {
			t.Errorf("11th failure counted as %d", n)
		}
	})
}
