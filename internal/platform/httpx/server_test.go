package httpx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careloop/careloop/internal/platform/httpx"
)

// startServer runs s.Serve in the background and returns its base URL and a
// channel that receives Serve's result.
func startServer(t *testing.T, ctx context.Context, s *httpx.Server, scheme string) (string, <-chan error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	return scheme + "://" + s.Addr().String(), done
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	h, err := httpx.Handler(mux, httpx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startServer(t, ctx, s, "http")

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	cancel() // shut down while /slow is in flight

	r := <-got
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Errorf("in-flight request: %d %q %v; want 200 finished", r.status, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a clean shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get(base + "/slow"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s, err := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0", ShutdownTimeout: 100 * time.Millisecond}, mux, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base, done := startServer(t, ctx, s, "http")
	go func() {
		if resp, err := http.Get(base + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
			t.Errorf("Serve = %v, want a shutdown timeout error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir and returns their paths and the certificate.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "careloop test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLSServer(t *testing.T) {
	certFile, keyFile, cert := writeSelfSigned(t, t.TempDir())
	mux := http.NewServeMux()
	httpx.RegisterHealth(mux, httpx.Options{})
	h, err := httpx.Handler(mux, httpx.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base, done := startServer(t, ctx, s, "https")
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("GET /healthz over TLS = %d %q", resp.StatusCode, body)
	}
	if got, want := resp.Header.Get("Strict-Transport-Security"), "max-age=63072000; includeSubDomains"; got != want {
		t.Errorf("HSTS = %q, want %q", got, want)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
	}

	// TLS 1.1 and older are refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("TLS 1.1 client was served")
	}
}

func TestHSTSForDirectTLSRequests(t *testing.T) {
	mux := http.NewServeMux()
	httpx.RegisterHealth(mux, httpx.Options{})
	h, err := httpx.Handler(mux, httpx.Options{}) // TLS option off
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS on a request that arrived over TLS")
	}
}

func TestNewServerErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeSelfSigned(t, dir)
	tests := []struct {
		name string
		cfg  httpx.Config
		want string
	}{
		{"missing cert file", httpx.Config{Addr: "127.0.0.1:0", TLSCertFile: filepath.Join(dir, "nope.pem"), TLSKeyFile: keyFile}, "nope.pem"},
		{"key is not a key", httpx.Config{Addr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: certFile}, "load TLS certificate"},
		{"cert without key", httpx.Config{Addr: "127.0.0.1:0", TLSCertFile: certFile}, "both a certificate file and a key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpx.NewServer(tt.cfg, http.NewServeMux(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewServer = %v, want error containing %q", err, tt.want)
			}
		})
	}

	// Listening on a busy address is reported by Serve.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = httpx.ListenAndServe(context.Background(), httpx.Config{Addr: ln.Addr().String()}, http.NewServeMux(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("ListenAndServe on a busy port = %v", err)
	}
}

// newBenchChain returns the full chain with health endpoints, a JSON access
// log to io.Discard and metrics on a fresh registry.
func newBenchChain(b *testing.B) http.Handler {
	reg := prometheus.NewRegistry()
	o := httpx.Options{
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registry: reg,
	}
	mux := http.NewServeMux()
	httpx.RegisterHealth(mux, o)
	h, err := httpx.Handler(mux, o)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkHealthz measures GET /healthz through the whole chain: request
// id, security headers, access log (JSON, discarded), metrics, recovery,
// body limit, cross-origin check and routing. The recorder's own
// allocations (recorder, header map, body buffer) are included.
func BenchmarkHealthz(b *testing.B) {
	h := newBenchChain(b)
	req := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkHealthzParallel is BenchmarkHealthz on all Ps at once, to show
// contention in the chain (logger, metrics).
func BenchmarkHealthzParallel(b *testing.B) {
	h := newBenchChain(b)
	req := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
