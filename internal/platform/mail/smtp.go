package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"sync"
	"time"
)

// TLSMode says how an SMTP connection is protected.
type TLSMode string

// The TLS modes of an SMTP URL (?tls=…).
const (
	// TLSRequired: STARTTLS must be offered and succeed (the default for
	// smtp://).
	TLSRequired TLSMode = "required"
	// TLSOpportunistic: STARTTLS when the server offers it, plain text
	// otherwise; credentials are then refused by net/smtp except to
	// localhost.
	TLSOpportunistic TLSMode = "opportunistic"
	// TLSNone: never STARTTLS. For a relay on the same host only.
	TLSNone TLSMode = "none"
	// TLSImplicit: TLS from the first byte (smtps://, usually port 465).
	TLSImplicit TLSMode = "implicit"
)

// The defaults of the SMTP fields left zero.
const (
	DefaultMaxConns    = 4
	DefaultIdleTimeout = 30 * time.Second
	DefaultMaxPerConn  = 1000
	DefaultTimeout     = 30 * time.Second
)

// SMTP sends messages through one SMTP server over a pool of open,
// authenticated connections: at most MaxConns at once, each reused for up
// to MaxPerConn messages (RSET before each reuse), closed with QUIT after
// IdleTimeout without use. A connection on which anything goes wrong is
// closed and never reused. It is safe for concurrent use; set its fields
// before the first Send.
type SMTP struct {
	addr     string // host:port
	host     string
	user     string
	password string
	mode     TLSMode
	from     string // bare address for MAIL FROM
	fromHdr  string // the From header

	// TLSConfig, when set, is used for STARTTLS and implicit TLS (its
	// ServerName is filled in); tests set RootCAs. nil: the system roots.
	TLSConfig *tls.Config
	// Timeout bounds one delivery, waiting for a free connection
	// included, when the context has no earlier deadline; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// LocalName is the name given in EHLO; empty means "localhost".
	LocalName string
	// MaxConns bounds the connections open at once; zero means
	// DefaultMaxConns. Sends beyond it wait for a connection.
	MaxConns int
	// IdleTimeout is how long an unused connection stays open; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxPerConn is how many messages one connection carries before it
	// is closed; zero means DefaultMaxPerConn.
	MaxPerConn int

	once        sync.Once
	maxConns    int // the fields above, defaults filled in by init
	idleTimeout time.Duration
	maxPerConn  int
	timeout     time.Duration
	slots       chan struct{} // a token per connection in use
	done        chan struct{} // closed by Close
	mu          sync.Mutex    // guards idle and closed
	idle        []*session    // open connections not in use, most recent last
	closed      bool
}

// ParseURL checks an SMTP URL: smtp://[user[:password]@]host[:port] (port
// 587 by default, STARTTLS required unless ?tls=opportunistic or ?tls=none)
// or smtps://… (implicit TLS, port 465 by default). The error names what is
// wrong without repeating the password.
func ParseURL(raw string) (addr, host, user, password string, mode TLSMode, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", "", "", errors.New("not a valid URL (for example smtp://user:password@mail.example.org:587)")
	}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		mode = TLSRequired
		if port == "" {
			port = "587"
		}
	case "smtps":
		mode = TLSImplicit
		if port == "" {
			port = "465"
		}
	default:
		return "", "", "", "", "", fmt.Errorf("scheme %q is not smtp or smtps", u.Scheme)
	}
	host = u.Hostname()
	if host == "" {
		return "", "", "", "", "", errors.New("the URL names no host")
	}
	if u.Path != "" && u.Path != "/" {
		return "", "", "", "", "", errors.New("the URL has a path; give only host and port")
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return "", "", "", "", "", fmt.Errorf("unknown parameter %q (only tls)", k)
		}
	}
	if t := q.Get("tls"); t != "" {
		if u.Scheme == "smtps" {
			return "", "", "", "", "", errors.New("smtps:// is always TLS; drop ?tls=")
		}
		switch TLSMode(t) {
		case TLSRequired, TLSOpportunistic, TLSNone:
			mode = TLSMode(t)
		default:
			return "", "", "", "", "", fmt.Errorf("tls=%q is not required, opportunistic or none", t)
		}
	}
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	return net.JoinHostPort(host, port), host, user, password, mode, nil
}

// NewSMTP returns a Sender for the server of rawURL (see ParseURL) that
// sends from the address from ("careloop <no-reply@example.org>" or a bare
// address). It opens no connection: the first Send does.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	addr, host, user, password, mode, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP URL: %w", err)
	}
	f, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", from, err)
	}
	return &SMTP{addr: addr, host: host, user: user, password: password, mode: mode, from: f.Address, fromHdr: f.String()}, nil
}

// String describes the sender without its password.
func (s *SMTP) String() string {
	return fmt.Sprintf("smtp %s (tls %s, user %q)", s.addr, s.mode, s.user)
}

// GoString describes the sender without its password, for %#v.
func (s *SMTP) GoString() string { return s.String() }

func (s *SMTP) init() {
	s.once.Do(func() {
		s.maxConns, s.idleTimeout, s.maxPerConn, s.timeout = s.MaxConns, s.IdleTimeout, s.MaxPerConn, s.Timeout
		if s.maxConns <= 0 {
			s.maxConns = DefaultMaxConns
		}
		if s.idleTimeout <= 0 {
			s.idleTimeout = DefaultIdleTimeout
		}
		if s.maxPerConn <= 0 {
			s.maxPerConn = DefaultMaxPerConn
		}
		if s.timeout <= 0 {
			s.timeout = DefaultTimeout
		}
		s.slots = make(chan struct{}, s.maxConns)
		s.done = make(chan struct{})
	})
}

// Send delivers m over a pooled connection: RSET when the connection was
// used before, then MAIL, RCPT, DATA. A new connection does EHLO,
// STARTTLS as the mode requires and AUTH PLAIN when the URL has a user.
// A pooled connection the server closed while it was idle is replaced
// before anything of m is sent. Send gives up at the context's deadline
// or after Timeout. Errors name the SMTP step, are an *SMTPError when the
// server refused (see Permanent), and never contain the password or the
// body. After Close, Send returns ErrClosed.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	raw, err := Compose(s.fromHdr, m, time.Now())
	if err != nil {
		return err
	}
	to, _ := mail.ParseAddress(m.To) // Compose checked it
	s.init()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("mail: waiting for a free connection to %s: %w", s.addr, context.Cause(ctx))
	}
	defer func() { <-s.slots }()
	for {
		sess, reused, err := s.take(ctx)
		if err != nil {
			return err
		}
		spent, err := sess.deliver(ctx, reused, s.from, to.Address, raw)
		if !spent {
			s.put(sess)
		} else {
			sess.discard()
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, errStale) || ctx.Err() != nil {
			return err
		}
		// The server closed this idle connection: take another, or dial.
	}
}

// Close closes the idle connections with QUIT and makes every later Send
// fail with ErrClosed; connections in use are closed with QUIT when their
// message is done, without Close waiting for them. It returns the first
// error of a QUIT. Calling it again does nothing.
func (s *SMTP) Close() error {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	idle := s.idle
	s.idle = nil
	for _, sess := range idle {
		sess.idle = false // so that its timer, if it fires now, leaves it alone
		sess.timer.Stop()
	}
	s.mu.Unlock()
	var first error
	for _, sess := range idle {
		if err := sess.quit(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	return c
}
