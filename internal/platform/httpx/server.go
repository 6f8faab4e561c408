package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Config configures a Server. Zero durations and sizes take the defaults
// noted on each field.
type Config struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8080" or
	// ":0" for a free port.
	Addr string

	// TLSCertFile and TLSKeyFile, when both set, make the server speak
	// HTTPS (TLS 1.2 or later, HTTP/2 enabled) with this PEM certificate
	// chain and key. Setting only one is an error.
	TLSCertFile, TLSKeyFile string

	ReadHeaderTimeout time.Duration // default 5 s
	ReadTimeout       time.Duration // default 30 s
	WriteTimeout      time.Duration // default 60 s
	IdleTimeout       time.Duration // default 120 s
	MaxHeaderBytes    int           // default 64 KiB

	// ShutdownTimeout bounds the graceful shutdown: how long in-flight
	// requests may take to finish after the context is cancelled before
	// their connections are closed. Default 20 s.
	ShutdownTimeout time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.ShutdownTimeout, 20*time.Second)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	return c
}

// Server is an HTTP or HTTPS server with careloop's timeouts and graceful
// shutdown. Create it with NewServer, optionally call Listen to learn the
// bound address, then call Serve once.
type Server struct {
	cfg    Config
	log    *slog.Logger
	srv    *http.Server
	tls    bool
	mu     sync.Mutex
	ln     net.Listener
	served bool
}

// NewServer checks cfg and returns a Server for h that is not yet listening.
// When cfg asks for TLS it loads the certificate and key now, so that a bad
// path or key fails before anything listens. logger receives the server's
// own errors (such as TLS handshake failures) and lifecycle messages; nil
// discards them.
func NewServer(cfg Config, h http.Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, errors.New("httpx: NewServer: nil handler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: logger}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	switch {
	case cfg.TLSCertFile != "" && cfg.TLSKeyFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("httpx: load TLS certificate %q and key %q: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		s.tls = true
	case cfg.TLSCertFile != "" || cfg.TLSKeyFile != "":
		return nil, errors.New("httpx: TLS needs both a certificate file and a key file")
	}
	return s, nil
}

// Listen binds cfg.Addr. It is optional: Serve listens if Listen was not
// called. Call it first to learn the bound address (for Addr ":0").
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("httpx: already listening")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("httpx: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server is listening on, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve serves requests until ctx is done, then shuts down gracefully: it
// stops accepting connections, closes idle ones, and waits up to
// cfg.ShutdownTimeout for in-flight requests to finish before closing the
// rest. It returns nil after a clean shutdown, an error if serving failed or
// the shutdown timed out. Serve may be called once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("httpx: Serve called twice")
	}
	s.served = true
	s.mu.Unlock()
	if s.Addr() == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	s.log.Info("http server listening", slog.String("addr", ln.Addr().String()), slog.String("scheme", scheme))

	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- s.srv.ServeTLS(ln, "", "") // certificates are in TLSConfig
		} else {
			errc <- s.srv.Serve(ln)
		}
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("httpx: serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("http server shutting down", slog.Duration("timeout", s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
		<-errc
		return fmt.Errorf("httpx: shutdown: in-flight requests did not finish within %s: %w", s.cfg.ShutdownTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpx: serve: %w", err)
	}
	s.log.Info("http server stopped")
	return nil
}

// ListenAndServe is NewServer followed by Serve: it serves h on cfg.Addr
// until ctx is done, then shuts down gracefully.
func ListenAndServe(ctx context.Context, cfg Config, h http.Handler, logger *slog.Logger) error {
	s, err := NewServer(cfg, h, logger)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}
