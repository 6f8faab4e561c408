// Package httpx is careloop's HTTP platform: the middleware chain every
// request passes through, the one place errors become HTTP responses, JSON
// helpers, health and metrics endpoints, and a server with graceful shutdown.
//
// Routing is the standard [http.ServeMux] with method patterns
// ("GET /healthz"). [Handler] wraps a mux in the chain; [RegisterHealth] adds
// the operational endpoints; [Server] runs the result:
//
//	opts := httpx.Options{Logger: log, Registry: reg, Gatherer: reg, ReadyCheck: db.PingContext}
//	mux := http.NewServeMux()
//	httpx.RegisterHealth(mux, opts)
//	mux.HandleFunc("GET /api/patients/{id}", api.getPatient)
//	h, err := httpx.Handler(mux, opts)
//	if err != nil { ... }
//	err = httpx.ListenAndServe(ctx, httpx.Config{Addr: ":8080"}, h, log)
//
// Handlers report failures with [WriteError], which maps an [errs.Error] to a
// status and a body and logs the internal cause with the request id. The body
// is JSON by default; a module can render its own format (FHIR renders an
// OperationOutcome) for a URL path prefix through [Options.ErrorRenderers].
package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careloop/careloop/internal/platform/errs"
)

// DefaultMaxBodyBytes is the request body limit used when
// Options.MaxBodyBytes is zero: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Options configures [Handler] and [RegisterHealth]. The zero value is usable:
// no logs, no metrics, a 1 MiB body limit, no trusted cross origins, and a
// readiness check that always succeeds. Pass the same Options to both.
type Options struct {
	// Logger receives the access log (Info), error logs from WriteError and
	// panics. Nil discards logs.
	Logger *slog.Logger

	// Registry is where the HTTP metrics are registered. Nil disables them.
	// Handler reuses collectors already registered by an earlier call with
	// the same Registry.
	Registry prometheus.Registerer

	// Gatherer is served at GET /metrics by RegisterHealth. Nil means
	// Registry, if it is also a Gatherer; if neither, /metrics is not
	// registered.
	Gatherer prometheus.Gatherer

	// MaxBodyBytes limits every request body. Zero means
	// DefaultMaxBodyBytes; a negative value disables the limit. A handler
	// that reads past the limit gets an [*http.MaxBytesError], which
	// WriteError and DecodeJSON answer with 413.
	MaxBodyBytes int64

	// TLS says clients reach the server over HTTPS (served by Server or by a
	// TLS-terminating proxy), so responses carry Strict-Transport-Security.
	// Requests that arrive over TLS directly get it regardless.
	TLS bool

	// TrustedOrigins are origins ("https://app.example.org") whose
	// cross-origin unsafe requests (POST, PUT, DELETE...) are allowed. Each
	// must be scheme://host[:port] with nothing else.
	TrustedOrigins []string

	// CrossOriginBypass are ServeMux patterns exempt from cross-origin
	// protection, for APIs that authenticate with bearer tokens rather than
	// cookies and are called from other origins (for example "/fhir/").
	CrossOriginBypass []string

	// ReadyCheck reports whether the service can serve traffic (database
	// reachable, migrations applied). GET /readyz calls it with a 2 s
	// timeout. Nil means always ready.
	ReadyCheck func(context.Context) error

	// ErrorRenderers chooses how WriteError renders an error body for
	// requests whose URL path starts with a given prefix ("/fhir/"). The
	// longest matching prefix wins; requests matching none get
	// RenderJSONError. The choice depends only on the path, so it also
	// applies to unmatched routes (404), wrong methods (405), panics and
	// cross-origin rejections under that prefix.
	ErrorRenderers map[string]ErrorRenderer
}

// prefixRenderer is one entry of Options.ErrorRenderers.
type prefixRenderer struct {
	prefix string
	render ErrorRenderer
}

// chain is the compiled middleware chain returned by Handler.
type chain struct {
	next      *http.ServeMux
	log       *slog.Logger
	maxBody   int64
	hsts      bool
	cop       *http.CrossOriginProtection
	metrics   *metrics // nil when Options.Registry is nil
	renderers []prefixRenderer

	// Header values shared by every response. net/http and this package
	// only ever replace header slices, never write into them, and each has
	// capacity 1 so that Header.Add copies instead of appending in place.
	hdrCSP, hdrNoSniff, hdrReferrer, hdrFrame, hdrCOOP, hdrPerms, hdrHSTS, hdrNoStore []string
}

// Handler returns mux wrapped in careloop's middleware chain. For each
// request, from the outside in, the chain:
//
//  1. takes a well-formed X-Request-Id from the request (1 to 128 characters
//     of A-Z a-z 0-9 . _ -) or generates a random one, sets it on the
//     response, and makes it available through [RequestID];
//  2. sets the security headers (CSP, nosniff, no referrer, frame denial,
//     COOP, Permissions-Policy, HSTS when TLS) and Cache-Control: no-store,
//     which a handler may override for cacheable responses;
//  3. after the request, writes one access-log line at Info (method, path
//     without the query, route, status, bytes, duration, request id, remote
//     address) and records the Prometheus metrics
//     careloop_http_requests_total{method,route,code} and
//     careloop_http_request_duration_seconds{method,route}, where route is
//     the matched ServeMux pattern or "unmatched";
//  4. recovers panics: it logs the panic and stack with the request id and
//     answers 500 with the safe error body; [http.ErrAbortHandler], and any
//     panic after the response has started, abort the response as net/http
//     expects;
//  5. limits the request body to Options.MaxBodyBytes with
//     [http.MaxBytesReader];
//  6. rejects cross-origin unsafe requests with 403 using
//     [http.CrossOriginProtection] (Options.TrustedOrigins allowed);
//  7. routes through mux. The mux's own 404 and 405 answers are replaced by
//     WriteError bodies (the Allow header is kept).
//
// The security header values are shared between responses: handlers change
// them with Header.Set or Header.Del, never by writing into the slices.
//
// Handler returns an error if an option is invalid or the metrics cannot be
// registered. The returned handler is safe for concurrent use.
func Handler(mux *http.ServeMux, o Options) (http.Handler, error) {
	if mux == nil {
		return nil, errors.New("httpx: Handler: nil mux")
	}
	c := &chain{
		next:        mux,
		log:         o.Logger,
		maxBody:     o.MaxBodyBytes,
		hsts:        o.TLS,
		cop:         http.NewCrossOriginProtection(),
		hdrCSP:      one("default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'"),
		hdrNoSniff:  one("nosniff"),
		hdrReferrer: one("no-referrer"),
		hdrFrame:    one("DENY"),
		hdrCOOP:     one("same-origin"),
		hdrPerms:    one("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
		hdrHSTS:     one("max-age=63072000; includeSubDomains"),
		hdrNoStore:  one("no-store"),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	for _, origin := range o.TrustedOrigins {
		if err := checkOrigin(origin); err != nil {
			return nil, err
		}
		if err := c.cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("httpx: trusted origin %q: %w", origin, err)
		}
	}
	for _, pattern := range o.CrossOriginBypass {
		if err := addBypass(c.cop, pattern); err != nil {
			return nil, err
		}
	}
	for prefix, render := range o.ErrorRenderers {
		if !strings.HasPrefix(prefix, "/") || render == nil {
			return nil, fmt.Errorf("httpx: error renderer prefix %q: must start with / and have a renderer", prefix)
		}
		c.renderers = append(c.renderers, prefixRenderer{prefix, render})
	}
	slices.SortFunc(c.renderers, func(a, b prefixRenderer) int { return len(b.prefix) - len(a.prefix) })
	if o.Registry != nil {
		m, err := newMetrics(o.Registry)
		if err != nil {
			return nil, err
		}
		c.metrics = m
	}
	return c, nil
}

// one returns a one-element slice with capacity 1.
func one(v string) []string { return []string{v}[:1:1] }

// checkOrigin adds to AddTrustedOrigin's checks those that catch origins a
// browser would never send: another scheme, user information, a trailing
// slash or upper-case letters (browsers serialise origins in lower case).
func checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
		strings.HasSuffix(origin, "/") || origin != strings.ToLower(origin) {
		return fmt.Errorf("httpx: trusted origin %q: want a lower-case http:// or https:// origin with host and optional port only", origin)
	}
	return nil
}

// addBypass adds pattern to cop, turning the panic ServeMux raises for a bad
// pattern into an error.
func addBypass(cop *http.CrossOriginProtection, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("httpx: cross-origin bypass pattern %q: %v", pattern, p)
		}
	}()
	cop.AddInsecureBypassPattern(pattern)
	return nil
}

// ServeHTTP runs the chain documented on Handler.
func (c *chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ex := &exchange{chain: c, w: w}

	hdr := w.Header()
	if v := r.Header["X-Request-Id"]; len(v) == 1 && validRequestID(v[0]) {
		ex.id = v[0]
	} else {
		ex.id = newRequestID()
	}
	ex.idHdr[0] = ex.id
	hdr["X-Request-Id"] = ex.idHdr[:1:1]
	hdr["Content-Security-Policy"] = c.hdrCSP
	hdr["X-Content-Type-Options"] = c.hdrNoSniff
	hdr["Referrer-Policy"] = c.hdrReferrer
	hdr["X-Frame-Options"] = c.hdrFrame
	hdr["Cross-Origin-Opener-Policy"] = c.hdrCOOP
	hdr["Permissions-Policy"] = c.hdrPerms
	hdr["Cache-Control"] = c.hdrNoStore
	if c.hsts || r.TLS != nil {
		hdr["Strict-Transport-Security"] = c.hdrHSTS
	}

	ex.ctx = exchangeCtx{Context: r.Context(), ex: ex}
	r = r.WithContext(&ex.ctx)
	if c.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		// The limit reader gets the original writer, so that net/http can
		// close the connection after an oversized body.
		r.Body = http.MaxBytesReader(w, r.Body, c.maxBody)
	}
	ex.req = r
	defer c.finish(ex, r, start)

	if err := c.cop.Check(r); err != nil {
		WriteError(ex, r, errs.Wrap(err, errs.Forbidden, "Cross-origin request rejected."))
		return
	}
	c.next.ServeHTTP(ex, r)
}
