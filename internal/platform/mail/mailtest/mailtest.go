// Package mailtest runs a real SMTP server on loopback for tests: EHLO,
// STARTTLS with a self-signed certificate, AUTH PLAIN, MAIL, RCPT, DATA,
// RSET, NOOP and QUIT over net/textproto. It records every message it
// accepts and counts connections, QUITs and RSETs, so that tests can see
// how a client uses its connections.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	From     string   // MAIL FROM
	To       []string // RCPT TO
	Data     []byte   // as received, headers and body
	TLS      bool     // the session was under TLS when DATA was sent
	AuthUser string   // the user of AUTH PLAIN, if any
}

// Header returns a header of the message, decoded.
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Body returns the body of the message, decoded from quoted-printable
// when it is, with CRLF turned into LF.
func (m Message) Body() string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, _ := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// Options shape a Server.
type Options struct {
	// STARTTLS offers STARTTLS with a self-signed certificate for
	// 127.0.0.1 and localhost (see Server.CertPool).
	STARTTLS bool
	// User and Password, when User is set, are the credentials AUTH PLAIN
	// accepts; MAIL is then refused before AUTH. AUTH is offered only
	// under TLS when STARTTLS is on.
	User, Password string
	// RejectRcpt refuses RCPT TO for these addresses with a 550 (see
	// also Server.SetRcptReply).
	RejectRcpt []string
	// AcceptDelay is how long the server takes to confirm a message it
	// has already kept: a sender that dies in between cannot know that it
	// arrived (a crash test's window of doubt).
	AcceptDelay time.Duration
}

// Server is an SMTP server on 127.0.0.1 with a random port.
type Server struct {
	Addr string // host:port
	URL  string // smtp://user:password@host:port with the credentials, if any

	opts Options
	ln   net.Listener
	tls  *tls.Config
	pool *x509.CertPool
	wg   sync.WaitGroup

	mu        sync.Mutex
	msgs      []Message
	stats     Stats
	conns     map[net.Conn]struct{} // open connections
	rcpt      map[string]reply      // lower-cased address -> reply to RCPT TO
	changed   chan struct{}         // closed and replaced whenever stats change
	closeDown bool
}

// Stats counts what the server has seen since it started.
type Stats struct {
	Connections int // connections accepted
	Open        int // connections open now
	Quits       int // QUIT commands answered
	Resets      int // RSET commands answered
	Messages    int // messages accepted
}

type reply struct {
	code int
	text string
}

// Start starts a server closed when t ends; closing it drops the
// connections still open.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), opts: opts, ln: ln, conns: map[net.Conn]struct{}{},
		rcpt: map[string]reply{}, changed: make(chan struct{})}
	for _, a := range opts.RejectRcpt {
		s.rcpt[strings.ToLower(a)] = reply{550, "no such mailbox"}
	}
	u := &url.URL{Scheme: "smtp", Host: s.Addr}
	if opts.User != "" {
		u.User = url.UserPassword(opts.User, opts.Password)
	}
	s.URL = u.String()
	if opts.STARTTLS {
		if s.tls, s.pool, err = selfSigned(); err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// close stops accepting, drops the open connections and waits for their
// sessions to end.
func (s *Server) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closeDown = true
	s.mu.Unlock()
	s.CloseConnections()
	s.wg.Wait()
}

// CloseConnections drops every open connection at once, without a word
// to the client, as a server that restarts or times out idle clients
// does.
func (s *Server) CloseConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// SetRcptReply makes the server answer RCPT TO for addr (compared without
// case) with code and text from now on; a code of 250 accepts the address
// again. Codes other than 250 refuse it, as 4xx (try later) or 5xx
// (never) replies.
func (s *Server) SetRcptReply(addr string, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 250 {
		delete(s.rcpt, strings.ToLower(addr))
		return
	}
	s.rcpt[strings.ToLower(addr)] = reply{code, text}
}

// CertPool returns a pool holding the server's certificate, for the
// client's tls.Config.RootCAs.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns a snapshot of the messages accepted so far, in the
// order they were accepted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Wait waits until n messages in all have been accepted and returns them.
// It fails the test if they do not come within a minute: a bound so that
// a broken test ends, not a measure of speed.
func (s *Server) Wait(t testing.TB, n int) []Message {
	t.Helper()
	s.WaitFor(t, fmt.Sprintf("%d messages", n), func(st Stats) bool { return st.Messages >= n })
	return s.Messages()
}

// WaitFor waits until cond holds for the server's counts. It fails the
// test, naming what, if that does not happen within a minute.
func (s *Server) WaitFor(t testing.TB, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		st, changed := s.stats, s.changed
		s.mu.Unlock()
		if cond(st) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: waited a minute for %s; counts %+v", what, s.Stats())
		}
	}
}

// To returns the messages accepted for an address.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// count applies f to the counts under the lock and wakes the waiters.
func (s *Server) count(f func(st *Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closeDown {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.count(func(st *Stats) { st.Connections++; st.Open++ })
		go func() {
			defer s.wg.Done()
			defer func() {
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.count(func(st *Stats) { st.Open-- })
			}()
			_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
			s.session(c)
		}()
	}
}

// session speaks SMTP on one connection.
func (s *Server) session(conn net.Conn) {
	tp := textproto.NewConn(conn)
	reply := func(code int, msg string) bool { return tp.PrintfLine("%d %s", code, msg) == nil }
	if !reply(220, "mailtest ESMTP") {
		return
	}
	var (
		underTLS bool
		authUser string
		from     string
		to       []string
		helo     bool
	)
	reset := func() { from, to = "", nil }
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			helo = true
			reset()
			lines := []string{"mailtest"}
			if s.tls != nil && !underTLS {
				lines = append(lines, "STARTTLS")
			}
			if s.opts.User != "" && (s.tls == nil || underTLS) {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				if tp.PrintfLine("250%s%s", sep, l) != nil {
					return
				}
			}
		case "STARTTLS":
			if s.tls == nil || underTLS {
				reply(502, "STARTTLS not available")
				continue
			}
			if !reply(220, "go ahead") {
				return
			}
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, underTLS, helo, authUser = tc, true, false, ""
			tp = textproto.NewConn(tc)
			reset()
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			switch {
			case s.opts.User == "" || (s.tls != nil && !underTLS):
				reply(502, "AUTH not available")
			case !strings.EqualFold(mech, "PLAIN"):
				reply(504, "only PLAIN")
			default:
				if initial == "" {
					if !reply(334, "") {
						return
					}
					if initial, err = tp.ReadLine(); err != nil {
						return
					}
				}
				raw, err := base64.StdEncoding.DecodeString(initial)
				parts := strings.Split(string(raw), "\x00")
				if err != nil || len(parts) != 3 || parts[1] != s.opts.User || parts[2] != s.opts.Password {
					reply(535, "authentication failed")
					continue
				}
				authUser = parts[1]
				reply(235, "authenticated")
			}
		case "MAIL":
			switch {
			case !helo:
				reply(503, "EHLO first")
			case s.opts.User != "" && authUser == "":
				reply(530, "authentication required")
			default:
				from = addrOf(arg, "FROM:")
				to = nil
				reply(250, "ok")
			}
		case "RCPT":
			if from == "" {
				reply(503, "MAIL first")
				continue
			}
			r := addrOf(arg, "TO:")
			s.mu.Lock()
			refusal, refused := s.rcpt[strings.ToLower(r)]
			s.mu.Unlock()
			if refused {
				reply(refusal.code, refusal.text)
				continue
			}
			to = append(to, r)
			reply(250, "ok")
		case "DATA":
			if len(to) == 0 {
				reply(503, "RCPT first")
				continue
			}
			if !reply(354, "end with <CRLF>.<CRLF>") {
				return
			}
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{From: from, To: to, Data: data, TLS: underTLS, AuthUser: authUser})
			s.mu.Unlock()
			s.count(func(st *Stats) { st.Messages++ })
			reset()
			time.Sleep(s.opts.AcceptDelay)
			reply(250, "accepted")
		case "RSET":
			reset()
			s.count(func(st *Stats) { st.Resets++ })
			reply(250, "ok")
		case "NOOP":
			reply(250, "ok")
		case "QUIT":
			s.count(func(st *Stats) { st.Quits++ })
			reply(221, "bye")
			return
		default:
			reply(500, "unknown command")
		}
	}
}

// addrOf returns the address of "FROM:<a@b> SIZE=…".
func addrOf(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return rest[1:i]
	}
	a, _, _ := strings.Cut(rest, " ")
	return a
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a
// day, and a pool that trusts it.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	return cfg, pool, nil
}

// String describes the server.
func (s *Server) String() string { return fmt.Sprintf("mailtest on %s", s.Addr) }
