package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/careloop/careloop/internal/notify/sms"
	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/mail"
)

// providerKinds are the kinds of providers careloop speaks to. The log
// kinds write messages to the log: demos and development.
var providerKinds = map[string]providerKind{
	"smtp": {channel: Email, required: []string{"url", "from"}, secret: secretOptional,
		build: func(s map[string]string, secret string, _ *slog.Logger) (Sender, error) {
			return newSMTPSender(s["url"], secret, s["from"])
		}},
	"twilio": {channel: SMS, required: []string{"account_sid"}, optional: []string{"from", "messaging_service_sid", "base_url"}, secret: secretRequired,
		build: func(s map[string]string, secret string, _ *slog.Logger) (Sender, error) {
			if s["from"] == "" && s["messaging_service_sid"] == "" {
				return nil, errors.New("give from (a number in E.164 form) or messaging_service_sid")
			}
			if s["from"] != "" {
				if _, err := sms.NormalizePhone(s["from"]); err != nil {
					return nil, fmt.Errorf("from: %w", err)
				}
			}
			if err := checkHTTPURL(s["base_url"], true); err != nil {
				return nil, fmt.Errorf("base_url: %w", err)
			}
			return SMSSender{Provider: &sms.Twilio{BaseURL: s["base_url"], AccountSID: s["account_sid"], AuthToken: secret,
				From: s["from"], MessagingServiceSID: s["messaging_service_sid"], Client: sms.NewClient()}}, nil
		}},
	"webhook": {channel: SMS, required: []string{"url"}, optional: []string{"from"}, secret: secretRequired,
		build: func(s map[string]string, secret string, _ *slog.Logger) (Sender, error) {
			if err := checkHTTPURL(s["url"], false); err != nil {
				return nil, fmt.Errorf("url: %w", err)
			}
			return SMSSender{Provider: &sms.Webhook{URL: s["url"], Secret: secret, From: s["from"], Client: sms.NewClient()}}, nil
		}},
	"log": {channel: Email, build: func(_ map[string]string, _ string, log *slog.Logger) (Sender, error) { return LogSender{Log: log}, nil }},
	"log-sms": {channel: SMS, build: func(_ map[string]string, _ string, log *slog.Logger) (Sender, error) {
		return LogSender{Log: log}, nil
	}},
}

func checkHTTPURL(raw string, optional bool) error {
	if raw == "" && optional {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func newSMTPSender(rawURL, password, from string) (Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("url: not a valid URL (for example smtp://user@mail.example.org:587)")
	}
	if _, has := u.User.Password(); has {
		return nil, errors.New("url: put the password in the secret, not in the URL")
	}
	if u.User != nil && password != "" {
		u.User = url.UserPassword(u.User.Username(), password)
	}
	s, err := mail.NewSMTP(u.String(), from)
	if err != nil {
		return nil, err
	}
	return EmailSender{SMTP: s}, nil
}

// EmailSender sends through an SMTP server. The message id becomes the
// email's Message-ID, the same on every attempt.
type EmailSender struct{ SMTP *mail.SMTP }

// Close closes the SMTP server's idle connections.
func (e EmailSender) Close() error { return e.SMTP.Close() }

// Send implements Sender.
func (e EmailSender) Send(ctx context.Context, m Outgoing) (string, error) {
	err := e.SMTP.Send(ctx, mail.Message{ID: m.ID, To: m.To, Subject: m.Subject, Body: m.Body, ListUnsubscribe: m.Unsubscribe})
	if err != nil {
		if mail.Permanent(err) {
			return "", Permanent(err, true)
		}
		return "", err
	}
	return "", nil
}

// SMSSender sends through an SMS provider.
type SMSSender struct{ Provider sms.Sender }

// Send implements Sender.
func (s SMSSender) Send(ctx context.Context, m Outgoing) (string, error) {
	res, err := s.Provider.Send(ctx, sms.Message{ID: m.ID, To: m.To, Body: m.Body, StatusCallback: m.Receipts})
	if err != nil {
		if sms.IsPermanent(err) {
			return "", Permanent(err, false)
		}
		if d := sms.RetryAfter(err); d > 0 {
			return "", &RetryError{Err: err, After: d}
		}
		return "", err
	}
	if res.Status == sms.Failed || res.Status == sms.Bounced {
		return res.ProviderRef, Permanent(fmt.Errorf("sms: the provider accepted message %s as %s", m.ID, res.Status), false)
	}
	return res.ProviderRef, nil
}

// LogSender writes messages to the log instead of sending them: the
// provider of a demo. Messages to the care team are logged at info, the
// many to patients at debug, so that a demo's log stays readable. The text
// holds a signed link: use it only where the log is as private as a
// mailbox.
type LogSender struct{ Log *slog.Logger }

// Send implements Sender.
func (l LogSender) Send(ctx context.Context, m Outgoing) (string, error) {
	level := slog.LevelInfo
	if k, ok := templates.Lookup(templates.Kind(m.Kind)); ok && k.Audience == templates.Patient {
		level = slog.LevelDebug
	}
	l.Log.Log(ctx, level, "message not sent: the log is this channel's provider; its text follows", "id", m.ID, "to", m.To,
		"subject", m.Subject, "body", strings.TrimSpace(m.Body))
	return "", nil
}
