package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// secret stands for internal detail that must never reach a client.
const secret = "pq: connection to 10.9.8.7 refused; SSN 123-45-6789"

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a chain under test with its log and metrics registry.
type env struct {
	h   http.Handler
	log *logBuffer
	reg *prometheus.Registry
	srv *httptest.Server
}

// patient is the JSON body the echo route decodes.
type patient struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

// newEnv builds the chain over a mux with test routes. change, if not nil,
// adjusts the options first.
func newEnv(t *testing.T, change func(*httpx.Options)) *env {
	t.Helper()
	e := &env{log: &logBuffer{}, reg: prometheus.NewRegistry()}
	o := httpx.Options{
		Logger:   slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: e.reg,
		ErrorRenderers: map[string]httpx.ErrorRenderer{
			"/fhir/": func(w http.ResponseWriter, r *http.Request, status int, er *errs.Error) {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"code":%q,"diagnostics":%q}]}`, er.Code, er.Message)
			},
		},
	}
	if change != nil {
		change(&o)
	}
	mux := http.NewServeMux()
	httpx.RegisterHealth(mux, o)
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+httpx.RequestID(r.Context()))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var p patient
		if err := httpx.DecodeJSON(w, r, &p); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, p)
	})
	mux.HandleFunc("POST /read", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			httpx.WriteError(w, r, fmt.Errorf("read upload: %w", err))
			return
		}
		fmt.Fprintf(w, "read %d", len(b))
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		panic("boom: " + secret)
	})
	mux.HandleFunc("GET /late-panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("late boom")
	})
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, fmt.Errorf("lookup: %w", errs.Wrap(errors.New(secret), errs.NotFound, "Patient not found.")))
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, fmt.Errorf("store: %w", errors.New(secret)))
	})
	mux.HandleFunc("GET /cached", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "static")
	})
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, errs.NotFoundf("Patient/%s is not known.", r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/bypass", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bypassed") })

	h, err := httpx.Handler(mux, o)
	if err != nil {
		t.Fatalf("Handler: %v", err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// do sends one request to the env's loopback server.
func (e *env) do(t *testing.T, method, path string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

var securityHeaders = map[string]string{
	"Content-Security-Policy":    "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'",
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "no-referrer",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
}

func TestScenarios(t *testing.T) {
	e := newEnv(t, func(o *httpx.Options) {
		o.MaxBodyBytes = 64
		o.TrustedOrigins = []string{"https://portal.example.org"}
		o.CrossOriginBypass = []string{"POST /api/bypass"}
	})
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	withCT := func(h http.Header, kv ...string) http.Header {
		out := h.Clone()
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantHeader map[string]string
		wantBody   []string // substrings
		denyBody   []string // must not appear
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}, wantBody: []string{"ok"}},
		{name: "healthz HEAD", method: "HEAD", path: "/healthz", wantStatus: 200},
		{name: "handler may override cache control", method: "GET", path: "/cached", wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=60"}},
		{name: "unknown route is JSON 404", method: "GET", path: "/nope?ssn=1", wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			wantBody:   []string{`"code":"not_found"`, `"message":"Not found."`, `"request_id":"`}, denyBody: []string{"page not found"}},
		{name: "wrong method is JSON 405 with Allow", method: "DELETE", path: "/hello", wantStatus: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD", "Content-Type": "application/json"},
			wantBody:   []string{`"code":"method_not_allowed"`}, denyBody: []string{"Method Not Allowed\n"}},
		{name: "errs code and safe message", method: "GET", path: "/missing", wantStatus: 404,
			wantBody: []string{`"code":"not_found"`, `"message":"Patient not found."`}, denyBody: []string{"6789", "10.9.8.7"}},
		{name: "plain error is internal", method: "GET", path: "/broken", wantStatus: 500,
			wantBody: []string{`"code":"internal"`, `"message":"Internal error."`}, denyBody: []string{"6789", "pq:"}},
		{name: "panic is a safe 500", method: "GET", path: "/panic", wantStatus: 500,
			wantHeader: map[string]string{"Content-Type": "application/json", "Content-Security-Policy": securityHeaders["Content-Security-Policy"]},
			wantBody:   []string{`"code":"internal"`, `"message":"Internal error."`, `"request_id":"`}, denyBody: []string{"boom", "6789"}},
		{name: "fhir prefix renderer for handler error", method: "GET", path: "/fhir/Patient/7", wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": "application/fhir+json"},
			wantBody:   []string{`"resourceType":"OperationOutcome"`, `Patient/7 is not known.`}},
		{name: "fhir prefix renderer for unmatched route", method: "GET", path: "/fhir/Nope", wantStatus: 404,
			wantBody: []string{`"resourceType":"OperationOutcome"`, `"code":"not_found"`}},
		{name: "cross-site POST rejected", method: "POST", path: "/echo", header: withCT(jsonCT, "Sec-Fetch-Site", "cross-site"), body: `{"name":"a"}`,
			wantStatus: 403, wantBody: []string{`"code":"forbidden"`, `"message":"Cross-origin request rejected."`}},
		{name: "old browser cross-origin POST rejected", method: "POST", path: "/echo", header: withCT(jsonCT, "Origin", "https://evil.example"), body: `{"name":"a"}`,
			wantStatus: 403, wantBody: []string{`"code":"forbidden"`}},
		{name: "same-origin POST allowed", method: "POST", path: "/echo", header: withCT(jsonCT, "Sec-Fetch-Site", "same-origin"), body: `{"name":"Ada","age":36}`,
			wantStatus: 201, wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: []string{`{"name":"Ada","age":36}`}},
		{name: "trusted origin POST allowed", method: "POST", path: "/echo", header: withCT(jsonCT, "Sec-Fetch-Site", "cross-site", "Origin", "https://portal.example.org"), body: `{"name":"a"}`,
			wantStatus: 201},
		{name: "bypass pattern POST allowed", method: "POST", path: "/api/bypass", header: http.Header{"Sec-Fetch-Site": {"cross-site"}},
			wantStatus: 200, wantBody: []string{"bypassed"}},
		{name: "cross-site GET allowed", method: "GET", path: "/hello", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, wantStatus: 200},
		{name: "body within limit", method: "POST", path: "/read", body: strings.Repeat("x", 64), wantStatus: 200, wantBody: []string{"read 64"}},
		{name: "body over limit", method: "POST", path: "/read", body: strings.Repeat("x", 65), wantStatus: 413,
			wantBody: []string{`"code":"too_large"`, "limit of 64 bytes"}},
		{name: "json over limit", method: "POST", path: "/echo", header: jsonCT, body: `{"name":"` + strings.Repeat("x", 80) + `"}`, wantStatus: 413,
			wantBody: []string{`"code":"too_large"`}},
		{name: "json wrong content type", method: "POST", path: "/echo", header: http.Header{"Content-Type": {"text/plain"}}, body: `{}`, wantStatus: 415,
			wantBody: []string{`"code":"unsupported_media_type"`, "application/json"}},
		{name: "json missing content type", method: "POST", path: "/echo", body: `{}`, wantStatus: 415},
		{name: "json non-utf8 charset", method: "POST", path: "/echo", header: http.Header{"Content-Type": {"application/json; charset=latin1"}}, body: `{}`, wantStatus: 415,
			wantBody: []string{"UTF-8"}},
		{name: "json +json media type", method: "POST", path: "/echo", header: http.Header{"Content-Type": {"application/fhir+json; charset=utf-8"}}, body: `{"name":"b"}`, wantStatus: 201},
		{name: "json empty body", method: "POST", path: "/echo", header: jsonCT, wantStatus: 400, wantBody: []string{`"code":"invalid"`, "empty"}},
		{name: "json malformed", method: "POST", path: "/echo", header: jsonCT, body: `{"name": x}`, wantStatus: 400, wantBody: []string{"offset 10"}},
		{name: "json truncated", method: "POST", path: "/echo", header: jsonCT, body: `{"name": "a"`, wantStatus: 400, wantBody: []string{"ends unexpectedly"}},
		{name: "json unknown field", method: "POST", path: "/echo", header: jsonCT, body: `{"name":"a","ssn":"1"}`, wantStatus: 400,
			wantBody: []string{`"field":"ssn"`, `Unknown field \"ssn\".`}},
		{name: "json wrong type", method: "POST", path: "/echo", header: jsonCT, body: `{"age":"old"}`, wantStatus: 400,
			wantBody: []string{`"field":"age"`, `must be an integer`}},
		{name: "json trailing data", method: "POST", path: "/echo", header: jsonCT, body: `{"name":"a"} {}`, wantStatus: 400,
			wantBody: []string{"single JSON value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", resp.StatusCode, tt.wantStatus, body)
			}
			for k, v := range securityHeaders {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("Permissions-Policy") == "" {
				t.Error("Permissions-Policy missing")
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("HSTS %q sent without TLS", got)
			}
			if id := resp.Header.Get("X-Request-Id"); id == "" {
				t.Error("X-Request-Id missing")
			} else if strings.Contains(body, `"request_id"`) && !strings.Contains(body, id) {
				t.Errorf("body %q does not carry the request id %q", body, id)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(body, s) {
					t.Errorf("body %q does not contain %q", body, s)
				}
			}
			for _, s := range tt.denyBody {
				if strings.Contains(body, s) {
					t.Errorf("body %q contains %q", body, s)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, nil)
	generated := regexp.MustCompile(`^[0-9a-z]{20}$`)
	tests := []struct {
		name     string
		incoming []string
		wantSame bool
	}{
		{"none", nil, false},
		{"well formed", []string{"abc-DEF_123.xyz"}, true},
		{"max length", []string{strings.Repeat("a", 128)}, true},
		{"too long", []string{strings.Repeat("a", 129)}, false},
		{"bad characters", []string{"abc def"}, false},
		{"injection attempt", []string{`x"},{"level":"ERROR"`}, false},
		{"two values", []string{"one", "two"}, false},
		{"empty", []string{""}, false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.incoming != nil {
				h["X-Request-Id"] = tt.incoming
			}
			resp, body := e.do(t, "GET", "/hello", h, "")
			id := resp.Header.Get("X-Request-Id")
			if body != "hello "+id {
				t.Errorf("handler saw RequestID %q, response header %q", strings.TrimPrefix(body, "hello "), id)
			}
			if tt.wantSame {
				if id != tt.incoming[0] {
					t.Errorf("id = %q, want the incoming %q", id, tt.incoming[0])
				}
				return
			}
			if !generated.MatchString(id) {
				t.Errorf("generated id %q does not look like 20 base32 characters", id)
			}
			if seen[id] {
				t.Errorf("id %q generated twice", id)
			}
			seen[id] = true
		})
	}
	if got := httpx.RequestID(context.Background()); got != "" {
		t.Errorf("RequestID outside the chain = %q, want empty", got)
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do(t, "GET", "/panic", nil, "")
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 500 || !strings.Contains(body, id) || strings.Contains(body, "boom") {
		t.Fatalf("panic answered %d %q", resp.StatusCode, body)
	}
	logs := e.log.String()
	for _, want := range []string{`"msg":"http: panic serving request"`, `"request_id":"` + id, `boom: `, `httpx_test.newEnv`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// The server keeps serving.
	if resp, body := e.do(t, "GET", "/healthz", nil, ""); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("after panic: %d %q", resp.StatusCode, body)
	}

	// A panic after the response started, and ErrAbortHandler, abort the
	// response instead of sending a second status.
	for _, path := range []string{"/late-panic", "/abort"} {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("GET %s: no error; want an aborted response", path)
		}
	}
	if resp, _ := e.do(t, "GET", "/healthz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("after abort: %d", resp.StatusCode)
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t, nil)
	resp, _ := e.do(t, "GET", "/hello?patient=Jane+Doe&ssn=123", http.Header{"X-Request-Id": {"trace-42"}}, "")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	var line string
	for _, l := range strings.Split(e.log.String(), "\n") {
		if strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, "trace-42") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no access log line:\n%s", e.log.String())
	}
	for _, want := range []string{`"level":"INFO"`, `"method":"GET"`, `"path":"/hello"`, `"route":"GET /hello"`, `"status":200`,
		`"bytes":14`, `"duration":`, `"request_id":"trace-42"`, `"remote":"127.0.0.1:`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %s lacks %s", line, want)
		}
	}
	if strings.Contains(line, "Jane") || strings.Contains(line, "ssn") {
		t.Errorf("access log leaks the query string: %s", line)
	}
}

func TestErrorLogLevels(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/broken", http.Header{"X-Request-Id": {"req-500"}}, "")
	e.do(t, "GET", "/missing", http.Header{"X-Request-Id": {"req-404"}}, "")
	e.do(t, "POST", "/echo", http.Header{"X-Request-Id": {"req-403"}, "Sec-Fetch-Site": {"cross-site"}}, "{}")
	logs := e.log.String()
	for _, want := range []string{
		`"level":"ERROR","msg":"http error","request_id":"req-500"`,
		`"level":"DEBUG","msg":"http error","request_id":"req-404"`,
		`"level":"WARN","msg":"http error","request_id":"req-403"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	// The internal cause is in the log, for operators.
	if !strings.Contains(logs, "SSN 123-45-6789") {
		t.Error("internal cause not logged")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	for range 3 {
		e.do(t, "GET", "/hello", nil, "")
	}
	e.do(t, "GET", "/missing", nil, "")
	e.do(t, "GET", "/no/such/path/1", nil, "")
	e.do(t, "GET", "/no/such/path/2", nil, "")
	e.do(t, "BREW", "/hello", nil, "")
	_, body := e.do(t, "GET", "/metrics", nil, "")
	for _, want := range []string{
		`careloop_http_requests_total{code="200",method="GET",route="GET /hello"} 3`,
		`careloop_http_requests_total{code="404",method="GET",route="GET /missing"} 1`,
		`careloop_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
		`careloop_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`careloop_http_request_duration_seconds_count{method="GET",route="GET /hello"} 3`,
		`careloop_http_request_duration_seconds_bucket{method="GET",route="GET /hello",le="0.0005"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("raw paths leaked into metric labels")
	}

	// A second chain on the same registry reuses the collectors.
	if _, err := httpx.Handler(http.NewServeMux(), httpx.Options{Registry: e.reg}); err != nil {
		t.Errorf("second Handler on the same registry: %v", err)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name       string
		check      func(context.Context) error
		wantStatus int
		wantBody   string
		denyBody   string
	}{
		{"no check", nil, 200, "ready", ""},
		{"healthy", func(context.Context) error { return nil }, 200, "ready", ""},
		{"safe message", func(context.Context) error {
			return errs.Wrap(errors.New(secret), errs.Unavailable, "The database is unreachable.")
		}, 503, `"message":"The database is unreachable."`, "6789"},
		{"plain error", func(context.Context) error { return errors.New(secret) }, 503, `"message":"Not ready."`, "6789"},
		{"timeout", func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			if left := time.Until(dl); !ok || left > httpx.ReadyTimeout || left < httpx.ReadyTimeout/2 {
				return errs.E(errs.Invalid, "deadline not set to about 2s")
			}
			return fmt.Errorf("ping: %w", context.DeadlineExceeded)
		}, 503, `"message":"Readiness check timed out."`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *httpx.Options) { o.ReadyCheck = tt.check })
			resp, body := e.do(t, "GET", "/readyz", nil, "")
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("readyz = %d %q, want %d containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if tt.denyBody != "" && strings.Contains(body, tt.denyBody) {
				t.Errorf("readyz body %q leaks %q", body, tt.denyBody)
			}
		})
	}
}

func TestHandlerRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    httpx.Options
	}{
		{"origin with path", httpx.Options{TrustedOrigins: []string{"https://a.example/path"}}},
		{"origin with trailing slash", httpx.Options{TrustedOrigins: []string{"https://a.example/"}}},
		{"origin without scheme", httpx.Options{TrustedOrigins: []string{"a.example"}}},
		{"origin with other scheme", httpx.Options{TrustedOrigins: []string{"ftp://a.example"}}},
		{"origin upper case", httpx.Options{TrustedOrigins: []string{"https://A.example"}}},
		{"bad bypass pattern", httpx.Options{CrossOriginBypass: []string{"GET /{bad"}}},
		{"renderer prefix", httpx.Options{ErrorRenderers: map[string]httpx.ErrorRenderer{"fhir": httpx.RenderJSONError}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpx.Handler(http.NewServeMux(), tt.o); err == nil {
				t.Error("Handler accepted bad options")
			}
		})
	}
	if _, err := httpx.Handler(http.NewServeMux(), httpx.Options{TrustedOrigins: []string{"https://a.example:8443", "http://localhost:3000"}}); err != nil {
		t.Errorf("good origins rejected: %v", err)
	}
}

func TestWriteErrorOutsideChain(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	httpx.WriteError(rec, req, errs.Invalidf("email", "Email %q is not valid.", "a@"))
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want := `{"error":{"code":"invalid","message":"Email \"a@\" is not valid.","field":"email"}}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body = %q, want %q", rec.Body.String(), want)
	}

	rec = httptest.NewRecorder()
	if err := httpx.WriteJSON(rec, 200, func() {}); err == nil || rec.Body.Len() != 0 || rec.Code != 200 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("WriteJSON of an unencodable value: err %v, wrote %q", err, rec.Body.String())
	}
}

// FuzzDecodeJSON checks that no request body makes DecodeJSON panic or fail
// with anything but a client error that carries a safe message.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"name":"Ada","age":36}`, `{"name": x}`, `{"age":"old"}`, `{"ssn":1}`, `{} {}`, `[1,2]`, `"\ud800"`, `{"name":"` + strings.Repeat("x", 100) + `"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/echo", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var p patient
		err := httpx.DecodeJSON(httptest.NewRecorder(), req, &p)
		if err == nil {
			return
		}
		switch code := errs.CodeOf(err); code {
		case errs.Invalid, errs.TooLarge:
		default:
			t.Fatalf("DecodeJSON(%q) = %v (code %s), want invalid or too_large", body, err, code)
		}
		if errs.MessageOf(err) == "" {
			t.Fatalf("DecodeJSON(%q) gave no message", body)
		}
	})
}
