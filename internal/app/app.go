// Package app wires careloop's modules into one running service: the
// database, the job queue, the stores and the HTTP handler. cmd/careloop
// parses the command line and calls it; tests and benchmarks build the same
// service through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/fhir/validate"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/oauth"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/platform/outbox"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// App is a migrated database with the services built on it.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	DB        *db.DB
	Jobs      *jobs.Queue
	Orgs      *tenant.Store
	Resources *fhir.Store
	Search    *fhir.Searcher
	Indexer   *fhir.SpecIndexer
	FHIR      *fhir.API
	Accounts  *identity.Store
	Sessions  *session.Store   // sign-in sessions; nil without --addr
	OAuth     *oauth.Service   // backend clients and their tokens; nil without --addr
	Policy    *access.Policy   // the policy point of the FHIR API; nil without --addr
	Audit     *audit.Log       // the audit log; nil without --addr
	Journeys  *journey.Service // every order's and result's journey
	Notify    *notify.Service  // messages to people: planned, sent, tracked
	// NotifyProviders are the organisations' email and SMS providers.
	NotifyProviders *notify.Providers
	Registry        *prometheus.Registry
	Handler         http.Handler
	// AuditWorker, when set, is how Run starts the audit log's background
	// work in a process of its own at idle CPU priority; nil: Run does
	// that work in this process.
	AuditWorker *AuditWorker

	journeyDeps *journeyDeps
}

// Open opens and migrates the database of cfg and builds the services. The
// job queue is built but not started: Run starts it. Close releases all.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	d, err := OpenDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: d, Registry: prometheus.NewRegistry()}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	key, err := keys.LoadOrCreate(cfg.KeyFile())
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := a.openNotify(key); err != nil {
		d.Close()
		return nil, err
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, fhir.NewCountWorker(d))
	river.AddWorker(workers, fhir.NewExportWorker(d))
	a.addAccountWorkers(workers)
	if err := a.addJourneyWorkers(workers); err != nil {
		d.Close()
		return nil, err
	}
	a.Jobs, err = jobs.New(d, jobs.Config{
		Workers:      workers,
		MaxWorkers:   cfg.JobWorkers,
		PollInterval: cfg.JobPollInterval,
		Logger:       quieter(log, slog.LevelWarn).With("component", "jobs"),
		Registry:     a.Registry,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	a.Orgs = tenant.NewStore(d)
	a.Indexer = fhir.NewSpecIndexer()
	a.Resources = fhir.NewStore(d, a.Jobs, a.Indexer)
	if cfg.BaseURL != nil {
		// Absolute references count when they are under this base URL; a
		// resource written without one has its patients read from the JSON.
		a.Resources.KeepCompartments(access.Compartments(cfg.BaseURL.String() + "/fhir"))
	}
	m, err := outbox.NewMetrics(a.Registry)
	if err != nil {
		d.Close()
		return nil, err
	}
	a.Jobs.AddConsumer(outbox.New(outbox.Config{DB: d, Topic: fhir.CountsTopic, Handler: fhir.ApplyCounts,
		Poll: cfg.JobPollInterval, Log: log.With("component", "fhir"), Metrics: m}))
	a.wireJourneys(m)
	a.Search = fhir.NewSearcher(d, fhir.LookupParam)
	a.Accounts = identity.NewStore(d)

	if cfg.Addr != "" {
		base := cfg.BaseURL.String() + "/fhir"
		a.OAuth = oauth.New(d, oauth.Config{BaseURL: cfg.BaseURL.String(), Log: log.With("component", "oauth")})
		a.Policy = access.NewPolicy(a.Accounts, a.OAuth)
		if err := a.openAudit(); err != nil {
			d.Close()
			return nil, err
		}
		sec := securityAudit{a.Audit}
		a.Accounts.Audit = sec
		a.FHIR = fhir.NewAPI(fhir.APIConfig{
			DB: d, Store: a.Resources, Search: a.Search,
			Access:       a.Policy,
			Audit:        fhirAudit{log: a.Audit, base: base},
			Validate:     validateResource,
			IsType:       spec.IsResourceType,
			Log:          log.With("component", "fhir"),
			BaseURL:      base,
			Capabilities: fhir.Capabilities(base, Version, cfg.BaseURL.String()+oauth.TokenPath, a.Indexer.Unsupported),
		})
		if a.Handler, err = a.routes(); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// OpenDB opens the database of cfg and brings its schema up to date.
func OpenDB(ctx context.Context, cfg *config.Config, log *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, db.Options{SQLitePath: cfg.SQLitePath(), PostgresURL: cfg.PostgresURL(), Logger: log})
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, d, log); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Migrate brings the job tables and the application schema up to date.
func Migrate(ctx context.Context, d *db.DB, log *slog.Logger) error {
	// Refuse a newer application schema before touching anything.
	cur, known, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur > known {
		return &db.SchemaTooNewError{DBVersion: cur, KnownVersion: known}
	}
	if err := jobs.Migrate(ctx, d); err != nil {
		return err
	}
	applied, err := d.Migrate(ctx, log)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "db", d.String(), "applied", applied)
	}
	return nil
}

func (a *App) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	opts := httpx.Options{
		Logger:         a.Log.With("component", "http"),
		Registry:       a.Registry,
		Gatherer:       a.Registry,
		MaxBodyBytes:   a.Config.MaxBodyBytes,
		TLS:            a.Config.TLSCert != "" || a.Config.BaseURL.Scheme == "https",
		TrustedOrigins: []string{a.Config.BaseURL.Scheme + "://" + a.Config.BaseURL.Host},
		ReadyCheck:     a.DB.Ping,
		// The FHIR API authenticates with bearer tokens, not cookies, and the
		// token endpoint with signed assertions; both are called by other
		// systems: cross-origin checks do not apply to them.
		CrossOriginBypass: []string{"/fhir", "/fhir/", "POST " + oauth.TokenPath},
		ErrorRenderers:    map[string]httpx.ErrorRenderer{"/fhir": fhir.RenderOutcome, oauth.TokenPath: oauth.RenderError},
	}
	httpx.RegisterHealth(mux, opts)
	a.FHIR.Register(mux)
	a.OAuth.Register(mux)
	signIn, err := a.signInAPI()
	if err != nil {
		return nil, err
	}
	signIn.Register(mux)
	a.auditSecurity(signIn)
	accessAPI := a.accessAPI(signIn.Cookies, opts.TrustedOrigins)
	if err := a.registerPages(mux, signIn, accessAPI, &opts); err != nil {
		return nil, err
	}
	accessAPI.Register(mux)
	book := a.bookingService()
	book.API(accessAPI.Users.Authenticate).Register(mux)
	if err := a.registerPortal(mux, accessAPI, book); err != nil {
		return nil, err
	}
	a.journeyAPI(accessAPI.Users).Register(mux)
	a.notifyAPI().Register(mux)
	(&audit.API{Log: a.Audit, Viewers: auditViewers{accessAPI.Users}, BaseURL: a.Config.BaseURL.String() + "/audit"}).Register(mux)
	mux.Handle("GET /{$}", a.statusPage())
	return httpx.Handler(mux, opts)
}

// Run starts the job workers and serves HTTP until ctx is cancelled, then
// shuts down gracefully: the server stops accepting and finishes in-flight
// requests, then the workers stop taking jobs and finish or release running
// ones, all within the configured shutdown timeout. ready, if not nil, is
// called with the bound address once the server listens.
func (a *App) Run(ctx context.Context, ready func(addr string)) error {
	if a.Handler == nil {
		return errors.New("app: Run needs the server settings (--addr)")
	}
	srv, err := httpx.NewServer(httpx.Config{
		Addr:            a.Config.Addr,
		TLSCertFile:     a.Config.TLSCert,
		TLSKeyFile:      a.Config.TLSKey,
		ShutdownTimeout: a.Config.ShutdownTimeout,
	}, a.Handler, a.Log.With("component", "http"))
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
	}
	if err := a.Jobs.Start(ctx); err != nil {
		return err
	}
	// The audit log's sequencer and checkpoints run until shutdown, in a
	// worker process where one can run at idle priority.
	auditDone := make(chan error, 1)
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	go func() { auditDone <- a.runAudit(auditCtx) }()
	// The notification planner and dispatcher run until shutdown too; on
	// stop they finish the sends under way and record them.
	notifyDone := make(chan struct{})
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	go func() { defer close(notifyDone); _ = a.Notify.Run(notifyCtx) }()
	if ready != nil {
		ready(srv.Addr().String())
	}
	serveErr := srv.Serve(ctx) // returns after graceful shutdown
	stopNotify()
	<-notifyDone
	stopAudit()
	if err := <-auditDone; err != nil && !errors.Is(err, context.Canceled) {
		a.Log.Error("audit log", "err", err)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	jobErr := a.Jobs.Stop(stopCtx)
	a.Log.Info("stopped", "jobs_stop", time.Since(start).Round(time.Millisecond))
	return errors.Join(serveErr, jobErr)
}

// Importer returns an API for command-line imports, acting as the operator.
func (a *App) Importer() *fhir.API {
	return fhir.NewAPI(fhir.APIConfig{
		DB: a.DB, Store: a.Resources, Search: a.Search, Access: fhir.OperatorAccess{},
		Validate: validateResource, IsType: spec.IsResourceType, Log: a.Log, BaseURL: "",
	})
}

// Version is the version of this build, set by cmd/careloop.
var Version = "dev"

// validateResource adapts the R4 validator to the FHIR API.
func validateResource(resourceType string, raw []byte) []fhir.Issue {
	issues := validate.Resource(resourceType, raw)
	out := make([]fhir.Issue, len(issues))
	for i, is := range issues {
		out[i] = fhir.Issue{Severity: is.Severity, Code: is.Code, Expression: is.Expression, Message: is.Message}
	}
	return out
}

// Close closes the database.
// Close stops the audit log's writer, after the entries handed to it, and
// closes the database.
func (a *App) Close() error {
	var err error
	if a.Audit != nil {
		err = a.Audit.Close()
	}
	return errors.Join(err, a.DB.Close())
}

// quieter returns a logger like log that drops records below min: River
// reports routine statistics at Info every few seconds.
func quieter(log *slog.Logger, min slog.Level) *slog.Logger {
	return slog.New(&minLevel{Handler: log.Handler(), min: min})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h *minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
