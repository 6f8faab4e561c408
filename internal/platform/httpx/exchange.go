package httpx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// exchangeKey is the context key under which the chain stores the *exchange.
type exchangeKey struct{}

// exchange is the chain's per-request state. It is also the
// http.ResponseWriter the rest of the chain and the handlers write to, so
// that one allocation serves both. It is used by one goroutine at a time, as
// net/http requires of a ResponseWriter.
type exchange struct {
	ctx   exchangeCtx // the request's context; embedded to save an allocation
	chain *chain
	id    string
	idHdr [1]string           // backing array of the X-Request-Id header value
	req   *http.Request       // the request passed to the mux; the mux sets its Pattern
	w     http.ResponseWriter // the writer from net/http

	status      int
	bytes       int64
	wroteHeader bool
	hijacked    bool
	swallow     bool // drop writes: the mux's own 404/405 body, replaced by WriteError's
	rendering   bool // WriteError is writing; never intercept
}

// exchangeCtx is the request context the chain installs: the incoming
// context plus the *exchange under exchangeKey. It does what
// context.WithValue does, but lives inside the exchange, so the chain
// allocates one object per request instead of two. Cancellation, deadlines
// and other values come from the embedded parent unchanged.
type exchangeCtx struct {
	context.Context
	ex *exchange
}

// Value returns the exchange for exchangeKey and defers to the parent for
// any other key.
func (c *exchangeCtx) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return c.ex
	}
	return c.Context.Value(key)
}

// RequestID returns the request id the chain assigned to the request whose
// context is ctx, or the empty string if the request did not pass through
// [Handler].
func RequestID(ctx context.Context) string {
	if ex, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return ex.id
	}
	return ""
}

// ClientAddress returns the network address (host, without port) of the
// peer of the request whose context is ctx, or "" if the request did not
// pass through [Handler]. It is what the audit log records as the address
// a request came from.
func ClientAddress(ctx context.Context) string {
	ex, ok := ctx.Value(exchangeKey{}).(*exchange)
	if !ok || ex.req == nil {
		return ""
	}
	return RemoteHost(ex.req)
}

// RemoteHost returns the host of r's peer address (RemoteAddr without its
// port), or RemoteAddr as it is when it has no port.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// exchangeOf returns the chain state of r, or nil.
func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

// Header returns the response header map.
func (ex *exchange) Header() http.Header { return ex.w.Header() }

// WriteHeader records the status and sends the header. When the mux itself
// answers 404 or 405 (no pattern matched), it writes a WriteError body
// instead and drops the mux's plain-text one.
func (ex *exchange) WriteHeader(code int) {
	if ex.wroteHeader {
		if !ex.swallow {
			ex.w.WriteHeader(code) // net/http logs the superfluous call
		}
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		ex.w.WriteHeader(code) // informational; the final status is still to come
		return
	}
	if !ex.rendering && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && ex.req.Pattern == "" {
		ex.swallow = true
		if code == http.StatusNotFound {
			WriteError(ex, ex.req, errs.E(errs.NotFound, "Not found."))
		} else {
			WriteError(ex, ex.req, errs.E(errs.MethodNotAllowed, "Method not allowed."))
		}
		return
	}
	ex.w.WriteHeader(code) // panics on an invalid code, before anything is recorded
	ex.wroteHeader = true
	ex.status = code
}

// Write writes the body, sending a 200 header first if none was sent.
func (ex *exchange) Write(p []byte) (int, error) {
	if ex.swallow && !ex.rendering {
		return len(p), nil
	}
	if !ex.wroteHeader {
		ex.WriteHeader(http.StatusOK)
	}
	n, err := ex.w.Write(p)
	ex.bytes += int64(n)
	return n, err
}

// WriteString is Write for strings without a copy.
func (ex *exchange) WriteString(s string) (int, error) {
	if ex.swallow && !ex.rendering {
		return len(s), nil
	}
	if !ex.wroteHeader {
		ex.WriteHeader(http.StatusOK)
	}
	n, err := io.WriteString(ex.w, s)
	ex.bytes += int64(n)
	return n, err
}

// ReadFrom copies src to the response, keeping net/http's sendfile path.
func (ex *exchange) ReadFrom(src io.Reader) (int64, error) {
	if ex.swallow && !ex.rendering {
		return io.Copy(io.Discard, src)
	}
	if !ex.wroteHeader {
		ex.WriteHeader(http.StatusOK)
	}
	n, err := io.Copy(ex.w, src)
	ex.bytes += n
	return n, err
}

// Flush sends buffered data to the client.
func (ex *exchange) Flush() { _ = ex.FlushError() }

// FlushError sends buffered data to the client and reports failure; it is
// what [http.ResponseController.Flush] calls.
func (ex *exchange) FlushError() error {
	if !ex.wroteHeader {
		ex.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(ex.w).Flush()
}

// Hijack lets the handler take over the connection (for WebSockets).
func (ex *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(ex.w).Hijack()
	if err == nil {
		ex.hijacked = true
		ex.wroteHeader = true
		ex.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// Unwrap returns the net/http writer, for [http.ResponseController].
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.w }

// finish runs deferred after the request: it recovers a panic, then logs the
// request and records metrics. It must be called directly by defer.
func (c *chain) finish(ex *exchange, r *http.Request, start time.Time) {
	p := recover()
	abort := false
	if p != nil {
		if p == http.ErrAbortHandler { // compared as net/http does
			abort = true
		} else {
			c.log.LogAttrs(r.Context(), slog.LevelError, "http: panic serving request",
				slog.String("request_id", ex.id),
				slog.String("method", r.Method),
				slog.String("path", truncate(r.URL.Path)),
				slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())))
			if ex.wroteHeader {
				abort = true // too late for a 500: cut the response short
			} else {
				ex.swallow = false
				renderError(ex, r, http.StatusInternalServerError, errs.Safe(nil))
			}
		}
	}

	status := ex.status
	if !ex.wroteHeader && !abort {
		status = http.StatusOK // the handler wrote nothing; net/http sends 200
	}
	d := time.Since(start)
	route := r.Pattern
	if route == "" || r.Method == http.MethodConnect {
		// CONNECT redirects carry a request path as their "pattern": keep
		// the label bounded.
		route = "unmatched"
	}
	if c.metrics != nil {
		c.metrics.observe(r.Method, route, status, d)
	}
	c.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("method", r.Method),
		slog.String("path", truncate(r.URL.Path)),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("bytes", ex.bytes),
		slog.Duration("duration", d),
		slog.String("request_id", ex.id),
		slog.String("remote", r.RemoteAddr))

	if abort {
		panic(http.ErrAbortHandler)
	}
}

// maxLoggedPath bounds the path written to logs.
const maxLoggedPath = 512

// truncate shortens a path for logging.
func truncate(path string) string {
	if len(path) > maxLoggedPath {
		return path[:maxLoggedPath] + "..."
	}
	return path
}

// maxRequestID is the longest incoming X-Request-Id accepted.
const maxRequestID = 128

// validRequestID reports whether s is an acceptable incoming request id:
// 1 to 128 characters of A-Z a-z 0-9 . _ -.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// requestIDAlphabet is Crockford's base32 in lower case: no i, l, o, u.
const requestIDAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newRequestID returns a random 20-character id (100 bits). It draws from
// math/rand/v2, whose top-level source is the runtime's per-thread ChaCha8
// generator seeded from the operating system: lock-free, fast and
// unpredictable, which is all a correlation id needs.
func newRequestID() string {
	var b [20]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := 0; i < 12; i++ { // 60 bits of x
		b[i] = requestIDAlphabet[x&31]
		x >>= 5
	}
	for i := 12; i < 20; i++ { // 40 bits of y
		b[i] = requestIDAlphabet[y&31]
		y >>= 5
	}
	return string(b[:])
}
