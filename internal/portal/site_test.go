package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// site is a running careloop with the demo clinic seeded (a few patients)
// and its journeys settled: the demo patient's showcase results are
// shared with them.
type site struct {
	base    string
	app     *app.App
	seed    *demo.SeedResult
	patient string // the demo patient's Patient id
}

// startSite runs careloop on engine e on a loopback port, seeds the demo
// with 3 patients and waits until the demo patient's results have been
// shared.
func startSite(t testing.TB, e db.Dialect) *site { return startSiteN(t, e, 3) }

// startSiteN is startSite with that many demo patients.
func startSiteN(t testing.TB, e db.Dialect, patients int) *site {
	t.Helper()
	dbFlag := ""
	switch e {
	case db.SQLite:
		_, opts := dbtest.OpenWithOptions(t, db.SQLite)
		dbFlag = "sqlite:" + opts.SQLitePath
	default:
		dbFlag = dbtest.PostgresURL(t)
	}
	cfg, err := config.Parse("serve", config.Store|config.Server, []string{"--db", dbFlag, "--data-dir", t.TempDir(),
		"--addr", "127.0.0.1:0", "--base-url", "http://localhost"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()
	seeder := &demo.Seeder{DB: a.DB, Orgs: a.Orgs, Resources: a.Resources, Accounts: a.Accounts, Journeys: a.Journeys}
	res, err := seeder.Seed(ctx, demo.Config{Patients: patients})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.UseDemoTimeZone(ctx, res.Org.ID, res.TimeZone); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, func(a string) { addr <- a }) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	s := &site{app: a, seed: res}
	select {
	case got := <-addr:
		s.base = "http://" + got
	case err := <-done:
		t.Fatalf("careloop stopped: %v", err)
	}
	g, err := demo.NewGenerator(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	s.patient = g.Patient(0).PatientID
	s.settle(t)
	return s
}

// settle waits until the journeys have caught up with the demo data: the
// demo patient's showcase results (normal, abnormal and critical) shared.
func (s *site) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		js, _, _, err := s.app.Journeys.OfPatients(context.Background(), s.seed.Org.ID, []string{s.patient}, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		flags := map[journey.Flag]bool{}
		for _, j := range js {
			if j.ReleasedAt != nil && !j.Historical() {
				flags[j.Flag] = true
			}
		}
		if flags[journey.Normal] && flags[journey.Abnormal] && flags[journey.Critical] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo patient's results were not shared within a minute: %d journeys, shared flags %v", len(js), flags)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client is a browser-like HTTP client with its own cookies that does not
// follow redirects.
type client struct {
	t    testing.TB
	s    *site
	http *http.Client
	lang string // Accept-Language
}

func (s *site) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, s: s, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs in with the demo password.
func (c *client) signIn(email string) {
	c.t.Helper()
	body := fmt.Sprintf(`{"org":%q,"email":%q,"password":%q}`, c.s.seed.Org.Slug, email, demo.DemoPassword)
	req, _ := http.NewRequest("POST", c.s.base+"/auth/signin", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Stage string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK || out.Stage != "signed-in" {
		c.t.Fatalf("sign in %s: %d %q", email, resp.StatusCode, out.Stage)
	}
}

// get returns the status, the Location and the body of GET path.
func (c *client) get(path string) (int, string, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.s.base+path, nil)
	req.Header.Set("Accept", "text/html")
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	return c.do(req)
}

// post sends a form as a browser on careloop's own page would.
func (c *client) post(path string, form url.Values) (int, string, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", c.s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	return c.do(req)
}

func (c *client) do(req *http.Request) (int, string, string) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// page GETs path, expects 200 and returns the body.
func (c *client) page(path string) string {
	c.t.Helper()
	st, loc, body := c.get(path)
	if st != http.StatusOK {
		c.t.Fatalf("GET %s: %d (to %q): %.400s", path, st, loc, text(body))
	}
	return body
}

// text is a page without its tags and with collapsed spaces, for
// assertions on what a person reads.
func text(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	return strings.NewReplacer("&#39;", "'", "&amp;", "&", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(out)
}
