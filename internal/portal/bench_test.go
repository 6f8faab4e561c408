package portal_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/loadgen"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// BenchmarkPortalPages measures the portal's home and result pages with
// 200 patients (CARELOOP_BENCH_USERS) signed in at once, each with their
// own session, on SQLite with the demo clinic, for 10 s
// (CARELOOP_BENCH_SECONDS) after a 2 s warm-up, in two ways:
//
//   - paced: the 200 people together open a page every 10 ms (each about
//     one page every 2 s, CARELOOP_BENCH_RATE requests per second in
//     all), timed from when each request was due;
//   - busy: each person opens their next page as soon as the last one
//     arrived (200 requests always in flight): the most the server can
//     answer, and the latency at that load.
//
// Latency is to the last byte of the page, an upper bound of the time to
// first byte (pages are written whole after rendering). Run:
//
//	go test -run XXX -bench PortalPages -benchtime 1x ./internal/portal/
func BenchmarkPortalPages(b *testing.B) {
	users := envInt("CARELOOP_BENCH_USERS", 200)
	seconds := envInt("CARELOOP_BENCH_SECONDS", 10)
	rate := envInt("CARELOOP_BENCH_RATE", 100)
	s := startSiteN(b, db.SQLite, users)
	ctx := context.Background()
	s.quiet(b)
	g, err := demo.NewGenerator(s.seed.Config)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := identity.HashPassword(demo.DemoPassword, identity.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	email := func(i int) string {
		if i == 0 {
			return demoPatient
		}
		return fmt.Sprintf("patient%d@example.com", i)
	}
	err = s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		for i := 1; i < users; i++ {
			p := g.Patient(i)
			a := &identity.Account{OrgID: s.seed.Org.ID, Email: email(i), DisplayName: p.Name, Role: identity.RolePatient, FHIRRef: "Patient/" + p.PatientID}
			if err := s.app.Accounts.CreateTx(ctx, tx, a, hash); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Each person signs in (8 at a time) and loads their home page and
	// their newest shared result.
	targets := make([][]loadgen.Target, users)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := s.client(b)
			c.signIn(email(i))
			u, _ := http.NewRequest("GET", s.base, nil)
			h := http.Header{"Accept": {"text/html"}}
			for _, ck := range c.http.Jar.Cookies(u.URL) {
				h.Add("Cookie", ck.Name+"="+ck.Value)
			}
			targets[i] = append(targets[i], loadgen.Target{URL: s.base + "/home", Header: h})
			js, _, _, err := s.app.Journeys.OfPatients(ctx, s.seed.Org.ID, []string{g.Patient(i).PatientID}, "", 50)
			if err != nil {
				b.Error(err)
				return
			}
			for _, j := range js {
				if j.ReleasedAt != nil && j.ReportRef != "" {
					targets[i] = append(targets[i], loadgen.Target{URL: s.base + "/results/" + j.ID, Header: h})
					break
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	for _, page := range []string{"home", "result"} {
		var rotate []loadgen.Target
		for _, ts := range targets {
			for _, t := range ts {
				if (page == "home") == (t.URL == s.base+"/home") {
					rotate = append(rotate, t)
				}
			}
		}
		for _, mode := range []struct {
			name string
			rate float64
		}{{"paced", float64(rate)}, {"busy", 0}} {
			res, err := loadgen.Run(ctx, loadgen.Options{Rotate: rotate, Concurrency: users, Rate: mode.rate,
				Duration: time.Duration(seconds) * time.Second, Warmup: 2 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s page, %s, %d people: %s", page, mode.name, len(rotate), res.String())
			if res.Non2xx > 0 || res.Errors > 0 {
				b.Errorf("%s: %d errors, statuses %v", page, res.Errors, res.StatusCounts)
			}
			name := page + "-" + mode.name
			b.ReportMetric(float64(res.P50.Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(res.P99.Microseconds())/1000, name+"-p99-ms")
			b.ReportMetric(res.RPS, name+"-req/s")
		}
	}
}

// quiet waits until the job queue has nothing to do now: every seeded
// result applied to its journey and every message planned.
func (s *site) quiet(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; {
		b, err := jobs.BacklogOf(context.Background(), s.app.DB, "")
		if err != nil {
			t.Fatal(err)
		}
		n := b.Waiting
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still due after 5 minutes", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
