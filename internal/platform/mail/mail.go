// Package mail sends careloop's plain-text emails: through an SMTP server
// (SMTP, a Sender over net/smtp), or, where none is configured, into the
// log (Log).
//
// Messages carry no health information: they tell a person that something
// awaits them and link to careloop, where they sign in to see it.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text email to one person.
type Message struct {
	To      string // one address, no display name needed
	Subject string
	Body    string // plain text, UTF-8; lines end with \n
}

// Sender sends messages. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

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

// SMTP sends messages through one SMTP server, a new connection per
// message. It is safe for concurrent use.
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
	// Timeout bounds one delivery when the context has no earlier
	// deadline; zero means 30 seconds.
	Timeout time.Duration
	// LocalName is the name given in EHLO; empty means "localhost".
	LocalName string
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
// address).
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

// Send delivers m: connect, EHLO, STARTTLS as the mode requires, AUTH
// PLAIN when the URL has a user, MAIL, RCPT, DATA, QUIT. It gives up at
// the context's deadline or after Timeout. Errors name the SMTP step and
// never contain the password or the body.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	raw, err := Compose(s.fromHdr, m, time.Now())
	if err != nil {
		return err
	}
	to, _ := mail.ParseAddress(m.To) // Compose checked it
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	if s.mode == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", s.addr, err)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting of %s: %w", s.addr, err)
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if s.mode == TLSRequired || s.mode == TLSOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("mail: STARTTLS: %w", err)
			}
		} else if s.mode == TLSRequired {
			return fmt.Errorf("mail: %s does not offer STARTTLS, which the SMTP URL requires (add ?tls=opportunistic to allow plain text)", s.addr)
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("mail: %s does not offer AUTH, but the SMTP URL has credentials", s.addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return fmt.Errorf("mail: AUTH PLAIN as %q: %w", s.user, err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("mail: QUIT: %w", err)
	}
	return nil
}

// Compose returns m as an RFC 5322 message from the address from (a
// header value), plain text in UTF-8, quoted-printable. A recipient that
// is not one address, or a header with a line break, is an error: nothing
// a person typed can add headers.
func Compose(from string, m Message, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: recipient %q is not an address", m.To)
	}
	for _, h := range []string{from, m.Subject} {
		if strings.ContainsAny(h, "\r\n") {
			return nil, errors.New("mail: a header contains a line break")
		}
	}
	domain := "careloop.invalid"
	if f, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(f.Address, "@"); ok {
			domain = d
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", rand.Text(), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("mail: body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("mail: body: %w", err)
	}
	return b.Bytes(), nil
}

// Log is the Sender of a careloop with no SMTP server configured, such as
// the demo: it writes each message to the log with the note "not sent: no
// SMTP configured", so that a person at the console can follow its link.
// The body holds that link, a secret: use it only where the log is as
// private as a mailbox.
type Log struct{ Log *slog.Logger }

// Send logs m and returns nil.
func (l Log) Send(ctx context.Context, m Message) error {
	l.Log.WarnContext(ctx, "email not sent: no SMTP configured (--smtp-url); its text follows", "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}
