// Package mail sends careloop's plain-text emails: through an SMTP server
// (SMTP, a Sender that keeps a small pool of authenticated connections),
// or, where none is configured, into the log (Log).
//
// Messages carry no health information: they tell a person that something
// awaits them and link to careloop, where they sign in to see it.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text email to one person.
type Message struct {
	To      string // one address, no display name needed
	Subject string
	Body    string // plain text, UTF-8; lines end with \n

	// ID, when set, makes the Message-ID header <ID@domain-of-the-sender>,
	// the same on every attempt, so that a resent message can be
	// recognised as the same. It holds only letters, digits, '.', '_' and
	// '-', with no dot at either end and no two dots in a row. Empty: a
	// random Message-ID.
	ID string
	// ListUnsubscribe, when set, is an http(s) URL that unsubscribes the
	// recipient with one POST (RFC 8058): the message then carries
	// List-Unsubscribe and List-Unsubscribe-Post headers.
	ListUnsubscribe string
}

// Sender sends messages. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalid is wrapped by every error of Compose (and so of Send) about
// the message itself: a bad recipient, ID or header. Such a message can
// never be sent as it is; Permanent reports true for it.
var ErrInvalid = errors.New("invalid message")

// maxIDLength bounds Message.ID, so that the Message-ID header stays well
// inside a header line.
const maxIDLength = 200

// Compose returns m as an RFC 5322 message from the address from (a
// header value), plain text in UTF-8, quoted-printable. A recipient that
// is not one address, a header with a line break, an ID with other
// characters than ID allows, or a List-Unsubscribe that is not an http(s)
// URL is an error wrapping ErrInvalid: nothing a person typed can add
// headers.
func Compose(from string, m Message, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: %w: recipient %q is not an address", ErrInvalid, m.To)
	}
	for _, h := range []string{from, m.Subject, m.ID, m.ListUnsubscribe} {
		if strings.ContainsAny(h, "\r\n") {
			return nil, fmt.Errorf("mail: %w: a header contains a line break", ErrInvalid)
		}
	}
	if m.ID != "" {
		if err := checkID(m.ID); err != nil {
			return nil, fmt.Errorf("mail: %w: ID %q %v", ErrInvalid, m.ID, err)
		}
	}
	if m.ListUnsubscribe != "" {
		if err := checkUnsubscribe(m.ListUnsubscribe); err != nil {
			return nil, fmt.Errorf("mail: %w: List-Unsubscribe %v", ErrInvalid, err)
		}
	}
	domain := "careloop.invalid"
	if f, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(f.Address, "@"); ok {
			domain = d
		}
	}
	id := m.ID
	if id == "" {
		id = rand.Text()
	}
	var b bytes.Buffer
	b.Grow(512 + len(m.Body)*5/4)
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", id, domain)
	if m.ListUnsubscribe != "" {
		fmt.Fprintf(&b, "List-Unsubscribe: <%s>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", m.ListUnsubscribe)
	}
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

// checkID reports why id cannot be the left part of a Message-ID (a
// dot-atom of letters, digits, '_' and '-'), or nil.
func checkID(id string) error {
	if len(id) > maxIDLength {
		return fmt.Errorf("is longer than %d characters", maxIDLength)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return errors.New("may hold only letters, digits, '.', '_' and '-'")
		}
	}
	if strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".") || strings.Contains(id, "..") {
		return errors.New("may not start or end with a dot or hold two dots in a row")
	}
	return nil
}

// checkUnsubscribe reports why raw cannot go between the angle brackets
// of a List-Unsubscribe header, or nil.
func checkUnsubscribe(raw string) error {
	if strings.ContainsAny(raw, "<> \t,") {
		return errors.New("may not contain spaces, commas or angle brackets")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("is not an http(s) URL")
	}
	return nil
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
