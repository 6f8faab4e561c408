package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
)

var timeZero = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSMTPStableMessageID(t *testing.T) {
	srv, s := newPooled(t, nil)
	m := mail.Message{To: "pat@example.org", Subject: "New result", Body: "Sign in to see it.\n", ID: "msg_01J.x-9",
		ListUnsubscribe: "https://careloop.test/n/unsubscribe?t=abc"}
	for range 2 {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	m.ID, m.ListUnsubscribe = "", ""
	for range 2 {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Wait(t, 4)
	for _, g := range got[:2] {
		if id := g.Header("Message-ID"); id != "<msg_01J.x-9@careloop.test>" {
			t.Errorf("Message-ID %q, want <msg_01J.x-9@careloop.test> on every attempt", id)
		}
		if u := g.Header("List-Unsubscribe"); u != "<https://careloop.test/n/unsubscribe?t=abc>" {
			t.Errorf("List-Unsubscribe %q", u)
		}
		if p := g.Header("List-Unsubscribe-Post"); p != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post %q", p)
		}
	}
	a, b := got[2].Header("Message-ID"), got[3].Header("Message-ID")
	if a == b || !strings.HasSuffix(a, "@careloop.test>") || !strings.HasPrefix(a, "<") {
		t.Errorf("random Message-IDs %q and %q: want two different ids of careloop.test", a, b)
	}
	if got[2].Header("List-Unsubscribe") != "" || got[2].Header("List-Unsubscribe-Post") != "" {
		t.Error("List-Unsubscribe headers without a ListUnsubscribe URL")
	}
}

func TestComposeRefusesBadIDAndUnsubscribe(t *testing.T) {
	tests := []struct {
		name string
		m    mail.Message
		want string
	}{
		{name: "ID with a space", m: mail.Message{ID: "a b"}, want: "may hold only"},
		{name: "ID with an at sign", m: mail.Message{ID: "a@b"}, want: "may hold only"},
		{name: "ID with angle brackets", m: mail.Message{ID: "a>b"}, want: "may hold only"},
		{name: "ID with a line break", m: mail.Message{ID: "a\r\nBcc: x@example.org"}, want: "line break"},
		{name: "ID starting with a dot", m: mail.Message{ID: ".a"}, want: "dot"},
		{name: "ID with two dots", m: mail.Message{ID: "a..b"}, want: "dot"},
		{name: "ID too long", m: mail.Message{ID: strings.Repeat("a", 201)}, want: "longer"},
		{name: "ID not ASCII", m: mail.Message{ID: "zoë"}, want: "may hold only"},
		{name: "unsubscribe with a line break", m: mail.Message{ListUnsubscribe: "https://x.test/u\nBcc: x@example.org"}, want: "line break"},
		{name: "unsubscribe with a bracket", m: mail.Message{ListUnsubscribe: "https://x.test/u>, <mailto:x@example.org"}, want: "angle brackets"},
		{name: "unsubscribe not http", m: mail.Message{ListUnsubscribe: "javascript:alert(1)"}, want: "http(s)"},
		{name: "unsubscribe relative", m: mail.Message{ListUnsubscribe: "/unsubscribe"}, want: "http(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.To, tt.m.Subject = "a@example.org", "Hi"
			_, err := mail.Compose("careloop <no-reply@careloop.test>", tt.m, timeZero)
			if !errors.Is(err, mail.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !mail.Permanent(err) {
				t.Fatalf("error %v, want a permanent ErrInvalid about %q", err, tt.want)
			}
		})
	}
}

func TestSMTPSendRefusesInvalidMessageWithoutConnecting(t *testing.T) {
	srv, s := newPooled(t, nil)
	err := s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "Hi", ID: "bad id"})
	if !errors.Is(err, mail.ErrInvalid) {
		t.Fatalf("error %v, want ErrInvalid", err)
	}
	if st := srv.Stats(); st != (mailtest.Stats{}) {
		t.Errorf("counts %+v: the server was contacted for a message that cannot be sent", st)
	}
}
