package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TwilioBaseURL is the API a Twilio adapter with no BaseURL speaks to.
const TwilioBaseURL = "https://api.twilio.com"

// Twilio sends through the Twilio Messages API, or a service compatible
// with it at BaseURL: POST {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json
// with HTTP basic authentication. The message goes from From, or through
// the messaging service MessagingServiceSID (at least one of them is
// needed). That API has no idempotency key: a message whose first attempt
// timed out may be sent twice. Client is required (see NewClient). It is
// safe for concurrent use.
type Twilio struct {
	BaseURL             string // "" means TwilioBaseURL
	AccountSID          string
	AuthToken           string
	From                string // E.164
	MessagingServiceSID string
	Client              *http.Client
}

// String describes the adapter without its auth token.
func (t Twilio) String() string {
	base := t.BaseURL
	if base == "" {
		base = TwilioBaseURL
	}
	if u, err := url.Parse(base); err == nil {
		base = redact(u)
	}
	return fmt.Sprintf("twilio account %s at %s (from %q, messaging service %q, auth token redacted)", t.AccountSID, base, t.From, t.MessagingServiceSID)
}

// GoString describes the adapter without its auth token, for %#v.
func (t Twilio) GoString() string { return t.String() }

// Send asks the provider to send m and returns its message SID and first
// status. Errors are *ProviderError for the provider's refusals (see
// IsPermanent, RetryAfter), wrap ErrInvalid for a message or setting
// refused before sending, and otherwise mean no answer came (transient).
func (t *Twilio) Send(ctx context.Context, m Message) (Result, error) {
	res, err := t.send(ctx, m)
	if err != nil {
		return Result{}, fmt.Errorf("sms: send %s through twilio: %w", m.ID, err)
	}
	return res, nil
}

func (t *Twilio) send(ctx context.Context, m Message) (Result, error) {
	if t.AccountSID == "" || t.AuthToken == "" {
		return Result{}, fmt.Errorf("%w: the account SID and the auth token are required", ErrInvalid)
	}
	if !isToken(t.AccountSID) {
		return Result{}, fmt.Errorf("%w: the account SID %q is not an account SID", ErrInvalid, t.AccountSID)
	}
	if t.From == "" && t.MessagingServiceSID == "" {
		return Result{}, fmt.Errorf("%w: give From or MessagingServiceSID", ErrInvalid)
	}
	to, err := checkMessage(m)
	if err != nil {
		return Result{}, err
	}
	base := strings.TrimSuffix(t.BaseURL, "/")
	if base == "" {
		base = TwilioBaseURL
	}
	if err := checkURL(base); err != nil {
		return Result{}, fmt.Errorf("%w: the base URL %s", ErrInvalid, err)
	}
	form := url.Values{"To": {to}, "Body": {m.Body}}
	if t.From != "" {
		form.Set("From", t.From)
	}
	if t.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.MessagingServiceSID)
	}
	if m.StatusCallback != "" {
		form.Set("StatusCallback", m.StatusCallback)
	}
	endpoint := base + "/2010-04-01/Accounts/" + t.AccountSID + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, fmt.Errorf("%w: the base URL is not a URL", ErrInvalid)
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, body, err := exchange(t.Client, req)
	if err != nil {
		return Result{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, refusal(resp, body, time.Now())
	}
	var ok struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.SID == "" {
		return Result{}, unreadable(resp.StatusCode, "a message SID")
	}
	status, known := twilioStatus(ok.Status)
	if !known {
		status = Queued
	}
	return Result{ProviderRef: ok.SID, Status: status}, nil
}

// unreadable is the error of a 2xx answer that does not say what a
// successful one says: the URL leads somewhere that is not the provider's
// API, so trying again will not help.
func unreadable(status int, what string) *ProviderError {
	return &ProviderError{HTTPStatus: status, Message: "the answer does not hold " + what + "; is the URL the provider's API?", Permanent: true}
}

// checkMessage checks m before it is sent and returns its recipient in
// E.164 form.
func checkMessage(m Message) (string, error) {
	to, err := NormalizePhone(m.To)
	if err != nil {
		return "", fmt.Errorf("%w: recipient: %w", ErrInvalid, err)
	}
	if strings.TrimSpace(m.Body) == "" {
		return "", fmt.Errorf("%w: the text is empty", ErrInvalid)
	}
	if n := len([]rune(m.Body)); n > maxBody {
		return "", fmt.Errorf("%w: the text has %d characters, more than %d", ErrInvalid, n, maxBody)
	}
	if m.StatusCallback != "" {
		if err := checkURL(m.StatusCallback); err != nil {
			return "", fmt.Errorf("%w: the status callback %s", ErrInvalid, err)
		}
	}
	return to, nil
}

// twilioStatus normalises a Twilio message status. known is false for a
// status careloop does not know.
func twilioStatus(s string) (status string, known bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "queued", "accepted", "scheduled":
		return Queued, true
	case "sending", "sent":
		return Sent, true
	case "delivered", "read":
		return Delivered, true
	case "undelivered", "failed", "canceled":
		return Failed, true
	}
	return "", false
}

// isToken reports whether s is made only of letters, digits, '-' and '_',
// and so is safe in a URL path or a header.
func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
