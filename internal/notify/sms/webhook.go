package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Webhook sends through a provider that implements careloop's
// signed-webhook contract (see the package documentation): a JSON POST
// to URL signed with Secret, with the message id as Idempotency-Key.
// From, when set, is the number the provider sends from. Client is
// required (see NewClient). It is safe for concurrent use.
type Webhook struct {
	URL    string
	Secret string
	From   string
	Client *http.Client
}

// String describes the adapter without its secret (nor the URL's
// credentials or query).
func (w Webhook) String() string {
	target := "(no URL)"
	if u, err := url.Parse(w.URL); err == nil && w.URL != "" {
		target = redact(u)
	}
	return fmt.Sprintf("sms webhook %s (from %q, secret redacted)", target, w.From)
}

// GoString describes the adapter without its secret, for %#v.
func (w Webhook) GoString() string { return w.String() }

// webhookRequest is the JSON careloop posts.
type webhookRequest struct {
	ID             string `json:"id"`
	To             string `json:"to"`
	From           string `json:"from,omitempty"`
	Text           string `json:"text"`
	StatusCallback string `json:"status_callback,omitempty"`
}

// Send posts m to the provider and returns its reference and first
// status. m.ID is required: it is the Idempotency-Key, so the provider
// sends a message only once however often careloop tries. Errors are as
// for Twilio.Send.
func (w *Webhook) Send(ctx context.Context, m Message) (Result, error) {
	res, err := w.send(ctx, m)
	if err != nil {
		return Result{}, fmt.Errorf("sms: send %s through webhook: %w", m.ID, err)
	}
	return res, nil
}

func (w *Webhook) send(ctx context.Context, m Message) (Result, error) {
	if w.Secret == "" {
		return Result{}, fmt.Errorf("%w: the webhook has no secret", ErrInvalid)
	}
	if err := checkURL(w.URL); err != nil {
		return Result{}, fmt.Errorf("%w: the webhook URL %s", ErrInvalid, err)
	}
	if !isIdempotencyKey(m.ID) {
		return Result{}, fmt.Errorf("%w: the message id %q is not a usable idempotency key (1 to 255 visible ASCII characters)", ErrInvalid, m.ID)
	}
	to, err := checkMessage(m)
	if err != nil {
		return Result{}, err
	}
	body, err := json.Marshal(webhookRequest{ID: m.ID, To: to, From: w.From, Text: m.Body, StatusCallback: m.StatusCallback})
	if err != nil {
		return Result{}, fmt.Errorf("encoding the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("%w: the webhook URL is not a URL", ErrInvalid)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", m.ID)
	req.Header.Set(SignatureHeader, SignWebhook(w.Secret, body, time.Now()))
	resp, answer, err := exchange(w.Client, req)
	if err != nil {
		return Result{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, refusal(resp, answer, time.Now())
	}
	var ok struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(answer, &ok); err != nil || strings.TrimSpace(ok.ID) == "" {
		return Result{}, unreadable(resp.StatusCode, `an "id"`)
	}
	status := Queued
	if ok.Status != "" {
		s, known := webhookStatus(ok.Status)
		if !known || s == Bounced {
			return Result{}, unreadable(resp.StatusCode, "a known status")
		}
		status = s
	}
	return Result{ProviderRef: ok.ID, Status: status}, nil
}

// isIdempotencyKey reports whether id can be sent as an Idempotency-Key
// header: 1 to 255 visible ASCII characters.
func isIdempotencyKey(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := range len(id) {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// webhookStatus normalises a status of the webhook contract.
func webhookStatus(s string) (string, bool) {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case Queued, Sent, Delivered, Failed, Bounced:
		return s, true
	}
	return "", false
}
