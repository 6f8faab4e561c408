package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/platform/config"
)

// openApp parses the flags of command name and opens the service on its
// database.
func openApp(ctx context.Context, name string, set config.Set, args []string, stdout, stderr io.Writer, getenv func(string) string) (*app.App, error) {
	cfg, err := config.Parse(name, set, args, getenv, stdout)
	if err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return nil, err
	}
	if selfExe != "" && a.Audit != nil {
		a.AuditWorker = &app.AuditWorker{Exe: selfExe, Output: stderr}
	}
	return a, nil
}

// selfExe is this careloop executable, which serve and demo start again as
// their audit worker; main sets it. Tests that run commands in their own
// process leave it empty, and the server then does that work itself.
var selfExe string

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := openApp(ctx, "serve", config.Store|config.Server, args, stdout, stderr, getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx, func(addr string) {
		a.Log.Info("careloop serving", "addr", addr, "url", a.Config.BaseURL.String(), "db", a.Config.RedactedDB(), "version", version)
	})
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := config.Parse("migrate", config.Store, args, getenv, stdout)
	if err != nil {
		return err
	}
	d, err := app.OpenDB(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer d.Close()
	cur, _, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: schema at version %d\n", cfg.RedactedDB(), cur)
	return nil
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := openApp(ctx, "demo", config.Store|config.Server|config.Demo, args, stdout, stderr, getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	cfg := a.Config

	bar := newProgressBar(stderr, "Seeding demo patients")
	seeder := &demo.Seeder{DB: a.DB, Orgs: a.Orgs, Resources: a.Resources, Accounts: a.Accounts, Journeys: a.Journeys, Progress: bar.update}
	start := time.Now()
	res, err := seeder.Seed(ctx, demo.Config{Seed: cfg.DemoSeed, Patients: cfg.DemoPatients})
	bar.finish()
	if err != nil {
		return err
	}
	if err := a.UseDemoTimeZone(ctx, res.Org.ID, res.TimeZone); err != nil {
		return err
	}
	switch {
	case res.Seeded == 0:
		fmt.Fprintf(stdout, "Using the demo data already in %s (seed %d, %d patients).\n", cfg.RedactedDB(), res.Config.Seed, res.Patients)
	case res.Resumed:
		fmt.Fprintf(stdout, "Completed an interrupted seeding: %d more patients in %s.\n", res.Seeded, time.Since(start).Round(time.Millisecond))
	default:
		fmt.Fprintf(stdout, "Seeded %q with %d synthetic patients and 12 months of lab results in %s.\n", res.Org.Name, res.Seeded, time.Since(start).Round(time.Millisecond))
	}
	return a.Run(ctx, func(addr string) {
		fmt.Fprint(stdout, demoBanner(cfg.BaseURL.String(), res))
	})
}

func demoBanner(url string, res *demo.SeedResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ncareloop demo is running at %s\n\n", url)
	fmt.Fprintf(&b, "Demo sign-ins of %s (password for all: %s):\n", res.Org.Name, demo.DemoPassword)
	for _, acct := range res.Accounts {
		fmt.Fprintf(&b, "  %-18s %-34s %s\n", acct.Role, acct.Email, acct.Name)
	}
	fmt.Fprintf(&b, "\nFHIR R4 API at %s/fhir with the demo API key:\n  curl -H 'Authorization: Bearer %s' '%s/fhir/Patient?_count=5'\n", url, res.APIToken, url)
	fmt.Fprint(&b, "\nThe data is synthetic. Press Ctrl+C to stop; run the same command again to continue with the same data.\n")
	return b.String()
}

// progressBar draws seeding progress: a bar redrawn in place on a terminal,
// a line every tenth otherwise (logs, CI).
type progressBar struct {
	w        io.Writer
	label    string
	terminal bool
	lastStep int
	drawn    bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	p := &progressBar{w: w, label: label, lastStep: -1}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progressBar) update(done, total int) {
	if total <= 0 || (done == total && p.lastStep < 0) {
		return // nothing to seed: stay quiet
	}
	const width = 30
	filled := done * width / total
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
		p.drawn = true
		return
	}
	if step := done * 10 / total; step != p.lastStep {
		p.lastStep = step
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.label, done, total, done*100/total)
	}
}

func (p *progressBar) finish() {
	if p.terminal && p.drawn {
		fmt.Fprintln(p.w)
	}
}
