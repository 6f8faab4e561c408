package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
)

func TestSMTPSend(t *testing.T) {
	msg := mail.Message{To: "Pat@Example.org", Subject: "Confirm your email – careloop", Body: "Hello Zoë,\n\nFollow this link: https://careloop.test/account/verify-email?org=a&token=abc=def\n"}
	tests := []struct {
		name    string
		server  mailtest.Options
		query   string // added to the server's URL
		trust   bool   // the client trusts the server's certificate
		wantErr string
		wantTLS bool
	}{
		{name: "STARTTLS and AUTH PLAIN", server: mailtest.Options{STARTTLS: true, User: "careloop", Password: "s3cret pass"}, trust: true, wantTLS: true},
		{name: "STARTTLS without AUTH", server: mailtest.Options{STARTTLS: true}, trust: true, wantTLS: true},
		{name: "STARTTLS required but not offered", server: mailtest.Options{}, wantErr: "does not offer STARTTLS"},
		{name: "plain text when the URL allows it", server: mailtest.Options{}, query: "?tls=opportunistic"},
		{name: "AUTH on loopback without TLS when allowed", server: mailtest.Options{User: "u", Password: "p"}, query: "?tls=none"},
		{name: "untrusted certificate", server: mailtest.Options{STARTTLS: true}, wantErr: "STARTTLS"},
		{name: "wrong password", server: mailtest.Options{STARTTLS: true, User: "careloop", Password: "right"}, trust: true, wantErr: "AUTH PLAIN"},
		{name: "refused recipient", server: mailtest.Options{STARTTLS: true, RejectRcpt: []string{"pat@example.org"}}, trust: true, wantErr: "RCPT TO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.server)
			u := srv.URL + tt.query
			if tt.name == "wrong password" {
				u = strings.Replace(u, ":right@", ":wrong@", 1)
			}
			s, err := mail.NewSMTP(u, "careloop <no-reply@careloop.test>")
			if err != nil {
				t.Fatal(err)
			}
			if tt.trust {
				s.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
			}
			err = s.Send(context.Background(), msg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "right") || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the password: %v", err)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("%d messages accepted after an error", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 1)[0]
			if got.From != "no-reply@careloop.test" || len(got.To) != 1 || got.To[0] != "Pat@Example.org" {
				t.Errorf("envelope %q -> %v", got.From, got.To)
			}
			if got.TLS != tt.wantTLS {
				t.Errorf("TLS %v, want %v", got.TLS, tt.wantTLS)
			}
			if got.AuthUser != tt.server.User {
				t.Errorf("authenticated as %q, want %q", got.AuthUser, tt.server.User)
			}
			if s := got.Header("Subject"); s != msg.Subject {
				t.Errorf("subject %q", s)
			}
			if b := got.Body(); b != msg.Body {
				t.Errorf("body %q, want %q", b, msg.Body)
			}
			if ct := got.Header("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url, addr, user, password string
		mode                            mail.TLSMode
		wantErr                         string
	}{
		{name: "submission default port", url: "smtp://u:p%40ss@mail.example.org", addr: "mail.example.org:587", user: "u", password: "p@ss", mode: mail.TLSRequired},
		{name: "implicit TLS", url: "smtps://mail.example.org", addr: "mail.example.org:465", mode: mail.TLSImplicit},
		{name: "relay without TLS", url: "smtp://127.0.0.1:25?tls=none", addr: "127.0.0.1:25", mode: mail.TLSNone},
		{name: "opportunistic", url: "smtp://mx:2525?tls=opportunistic", addr: "mx:2525", mode: mail.TLSOpportunistic},
		{name: "other scheme", url: "http://mail.example.org", wantErr: "not smtp"},
		{name: "no host", url: "smtp://:25", wantErr: "no host"},
		{name: "bad tls", url: "smtp://mx?tls=maybe", wantErr: "tls="},
		{name: "tls on smtps", url: "smtps://mx?tls=none", wantErr: "always TLS"},
		{name: "unknown parameter", url: "smtp://mx?auth=login", wantErr: "unknown parameter"},
		{name: "path", url: "smtp://mx/inbox", wantErr: "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _, user, password, mode, err := mail.ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || addr != tt.addr || user != tt.user || password != tt.password || mode != tt.mode {
				t.Fatalf("got %q %q %q %q %v", addr, user, password, mode, err)
			}
		})
	}
}

func TestComposeRefusesHeaderInjection(t *testing.T) {
	tests := []struct {
		name string
		m    mail.Message
	}{
		{name: "line break in subject", m: mail.Message{To: "a@example.org", Subject: "Hi\r\nBcc: x@example.org"}},
		{name: "two recipients", m: mail.Message{To: "a@example.org, b@example.org", Subject: "Hi"}},
		{name: "not an address", m: mail.Message{To: "a@example.org\nBcc: x@example.org", Subject: "Hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mail.Compose("careloop <no-reply@careloop.test>", tt.m, time.Now()); err == nil {
				t.Fatal("composed")
			}
		})
	}
}

func TestLogSenderSaysNotSent(t *testing.T) {
	var buf bytes.Buffer
	s := mail.Log{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "Reset", Body: "https://careloop.test/x"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not sent: no SMTP configured", "a@example.org", "https://careloop.test/x"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}
