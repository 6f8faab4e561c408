package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
)

// newPooled starts a mailtest server with STARTTLS and AUTH PLAIN and
// returns a trusting sender to it, closed before the server is.
func newPooled(t testing.TB, configure func(*mail.SMTP)) (*mailtest.Server, *mail.SMTP) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{STARTTLS: true, User: "careloop", Password: "pool pass"})
	s, err := mail.NewSMTP(srv.URL, "careloop <no-reply@careloop.test>")
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
	if configure != nil {
		configure(s)
	}
	t.Cleanup(func() { _ = s.Close() })
	return srv, s
}

func note(i int) mail.Message {
	return mail.Message{To: fmt.Sprintf("p%d@example.org", i), Subject: "You have a new message", Body: fmt.Sprintf("Sign in to see it (%d).\n", i)}
}

func TestSMTPReusesConnections(t *testing.T) {
	srv, s := newPooled(t, nil)
	const n, workers = 100, 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := s.Send(context.Background(), note(i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs := srv.Wait(t, n)
	st := srv.Stats()
	if st.Connections < 1 || st.Connections > mail.DefaultMaxConns {
		t.Errorf("%d connections for %d messages, want 1 to %d", st.Connections, n, mail.DefaultMaxConns)
	}
	if st.Resets != n-st.Connections {
		t.Errorf("%d RSETs, want one per reuse: %d", st.Resets, n-st.Connections)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if !m.TLS || m.AuthUser != "careloop" {
			t.Fatalf("message to %v: TLS %v, user %q", m.To, m.TLS, m.AuthUser)
		}
		seen[m.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients, want %d", len(seen), n)
	}
}

func TestSMTPMaxConnsBoundsConnections(t *testing.T) {
	srv, s := newPooled(t, func(s *mail.SMTP) { s.MaxConns = 2 })
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if err := s.Send(context.Background(), note(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	srv.Wait(t, 40)
	if st := srv.Stats(); st.Connections > 2 {
		t.Errorf("%d connections, want at most 2", st.Connections)
	}
}

func TestSMTPReconnectsAfterServerClosesConnection(t *testing.T) {
	srv, s := newPooled(t, nil)
	if err := s.Send(context.Background(), note(1)); err != nil {
		t.Fatal(err)
	}
	srv.CloseConnections()
	srv.WaitFor(t, "the connection to close", func(st mailtest.Stats) bool { return st.Open == 0 })
	if err := s.Send(context.Background(), note(2)); err != nil {
		t.Fatalf("send after the server dropped the idle connection: %v", err)
	}
	srv.Wait(t, 2)
	if st := srv.Stats(); st.Connections != 2 {
		t.Errorf("%d connections, want 2 (the dropped one and its replacement)", st.Connections)
	}
}

func TestSMTPMaxPerConn(t *testing.T) {
	srv, s := newPooled(t, func(s *mail.SMTP) { s.MaxPerConn = 3 })
	for i := range 7 {
		if err := s.Send(context.Background(), note(i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.WaitFor(t, "two QUITs", func(st mailtest.Stats) bool { return st.Quits == 2 })
	if st := srv.Stats(); st.Connections != 3 || st.Messages != 7 {
		t.Errorf("%d connections for %d messages, want 3 for 7 (3+3+1)", st.Connections, st.Messages)
	}
}

func TestSMTPClosesIdleConnections(t *testing.T) {
	srv, s := newPooled(t, func(s *mail.SMTP) { s.IdleTimeout = 1 })
	if err := s.Send(context.Background(), note(1)); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor(t, "the idle connection to QUIT", func(st mailtest.Stats) bool { return st.Quits == 1 && st.Open == 0 })
	if err := s.Send(context.Background(), note(2)); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Connections != 2 || st.Resets != 0 {
		t.Errorf("counts %+v, want a second connection and no RSET", st)
	}
}

func TestSMTPPermanentAndTransientRefusals(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		permanent bool
	}{
		{name: "550 no such mailbox", code: 550, permanent: true},
		{name: "553 address not allowed", code: 553, permanent: true},
		{name: "451 try later", code: 451, permanent: false},
		{name: "452 mailbox full for now", code: 452, permanent: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := newPooled(t, nil)
			srv.SetRcptReply("refused@example.org", tt.code, "refused by test")
			err := s.Send(context.Background(), mail.Message{To: "refused@example.org", Subject: "s", Body: "b"})
			var se *mail.SMTPError
			if !errors.As(err, &se) || se.Step != "RCPT TO" || se.Code != tt.code || se.Message != "refused by test" {
				t.Fatalf("error %#v, want an SMTPError at RCPT TO with %d", err, tt.code)
			}
			var te *textproto.Error
			if !errors.As(err, &te) || te.Code != tt.code {
				t.Errorf("error does not unwrap to the textproto reply: %v", err)
			}
			if got := mail.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent = %v, want %v", got, tt.permanent)
			}
			if err := s.Send(context.Background(), note(1)); err != nil {
				t.Fatalf("send after a refusal: %v", err)
			}
			if st := srv.Stats(); st.Messages != 1 || st.Connections != 2 {
				t.Errorf("counts %+v, want 1 message on a second connection (the refused one is not reused)", st)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	_, composeErr := mail.Compose("a@careloop.test", mail.Message{To: "not an address"}, timeZero)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "5xx at MAIL FROM", err: &mail.SMTPError{Step: "MAIL FROM", Code: 550, Message: "sender refused"}, want: true},
		{name: "530 at MAIL FROM is about careloop's credentials", err: &mail.SMTPError{Step: "MAIL FROM", Code: 530, Message: "auth required"}},
		{name: "5xx at RCPT TO", err: &mail.SMTPError{Step: "RCPT TO", Code: 550}, want: true},
		{name: "5xx at DATA", err: &mail.SMTPError{Step: "DATA", Code: 554, Message: "message refused"}, want: true},
		{name: "wrapped 5xx at DATA", err: fmt.Errorf("notify: send: %w", &mail.SMTPError{Step: "DATA", Code: 552}), want: true},
		{name: "4xx at DATA", err: &mail.SMTPError{Step: "DATA", Code: 451}},
		{name: "5xx at AUTH", err: &mail.SMTPError{Step: "AUTH PLAIN", Code: 535}},
		{name: "5xx at EHLO", err: &mail.SMTPError{Step: "EHLO", Code: 554}},
		{name: "network error", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
		{name: "deadline", err: context.DeadlineExceeded},
		{name: "closed sender", err: mail.ErrClosed},
		{name: "message Compose refuses", err: composeErr, want: true},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mail.Permanent(tt.err); got != tt.want {
				t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestSMTPTransientFailures(t *testing.T) {
	t.Run("server gone", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s, err := mail.NewSMTP("smtp://"+addr+"?tls=none", "no-reply@careloop.test")
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), note(1))
		if err == nil || mail.Permanent(err) || !strings.Contains(err.Error(), "connect to") {
			t.Fatalf("error %v: want a transient connection error", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{STARTTLS: true})
		s, err := mail.NewSMTP(srv.URL, "no-reply@careloop.test")
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), note(1))
		if err == nil || mail.Permanent(err) {
			t.Fatalf("error %v: want a transient TLS error", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		_, s := newPooled(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, note(1))
		if !errors.Is(err, context.Canceled) || mail.Permanent(err) {
			t.Fatalf("error %v: want a transient context.Canceled", err)
		}
	})
}

func TestSMTPPooledConnectionKeepsTLSAndAuth(t *testing.T) {
	srv, s := newPooled(t, nil)
	for i := range 3 {
		if err := s.Send(context.Background(), note(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range srv.Wait(t, 3) {
		if !m.TLS || m.AuthUser != "careloop" || m.From != "no-reply@careloop.test" {
			t.Errorf("message to %v: TLS %v, user %q, from %q", m.To, m.TLS, m.AuthUser, m.From)
		}
	}
	if st := srv.Stats(); st.Connections != 1 || st.Resets != 2 {
		t.Errorf("counts %+v, want one connection and an RSET before each reuse", st)
	}
}

func TestSMTPClose(t *testing.T) {
	srv, s := newPooled(t, nil)
	if err := s.Send(context.Background(), note(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	srv.WaitFor(t, "the pooled connection to QUIT", func(st mailtest.Stats) bool { return st.Quits == 1 && st.Open == 0 })
	err := s.Send(context.Background(), note(2))
	if !errors.Is(err, mail.ErrClosed) || mail.Permanent(err) {
		t.Errorf("send after close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if st := srv.Stats(); st.Messages != 1 || st.Connections != 1 {
		t.Errorf("counts %+v after close", st)
	}
}

func TestSMTPStringHidesPassword(t *testing.T) {
	_, s := newPooled(t, nil)
	for _, out := range []string{s.String(), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s)} {
		if strings.Contains(out, "pool pass") || strings.Contains(out, "pool%20pass") {
			t.Errorf("description shows the password: %s", out)
		}
	}
}
