package sms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// webhookReceipt is the JSON of a receipt in the webhook contract.
type webhookReceipt struct {
	ID        string          `json:"id"`
	MessageID string          `json:"message_id"`
	Status    string          `json:"status"`
	ErrorCode json.RawMessage `json:"error_code"`
	At        string          `json:"at"`
}

// webhookInbound is the JSON of an inbound message in the webhook
// contract.
type webhookInbound struct {
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// ParseWebhookReceipt reads a receipt of the webhook contract: a JSON POST
// signed with secret in Careloop-Signature, at most five minutes from
// now. The receipt names the message by the provider's "id", careloop's
// "message_id" or both, and has a status among queued, sent, delivered,
// failed and bounced; "at", when present, is an RFC 3339 time. A missing,
// wrong or stale signature is an error wrapping ErrSignature; anything
// else amiss is an error wrapping ErrInvalid.
func ParseWebhookReceipt(r *http.Request, secret string, now time.Time) (Receipt, error) {
	body, err := webhookBody(r, secret, now)
	if err != nil {
		return Receipt{}, fmt.Errorf("sms: webhook receipt: %w", err)
	}
	var in webhookReceipt
	if err := decodeObject(body, &in); err != nil {
		return Receipt{}, fmt.Errorf("sms: webhook receipt: %w", err)
	}
	rc := Receipt{ProviderRef: strings.TrimSpace(in.ID), MessageID: strings.TrimSpace(in.MessageID)}
	if rc.ProviderRef == "" && rc.MessageID == "" {
		return Receipt{}, fmt.Errorf("sms: webhook receipt: %w: neither id nor message_id", ErrInvalid)
	}
	status, known := webhookStatus(in.Status)
	if !known {
		return Receipt{}, fmt.Errorf("sms: webhook receipt: %w: status %q is not queued, sent, delivered, failed or bounced", ErrInvalid, clean(in.Status, 40))
	}
	rc.Status = status
	code, err := errorCode(in.ErrorCode)
	if err != nil {
		return Receipt{}, fmt.Errorf("sms: webhook receipt: %w", err)
	}
	rc.ErrorCode = code
	if in.At != "" {
		at, err := time.Parse(time.RFC3339Nano, in.At)
		if err != nil {
			return Receipt{}, fmt.Errorf("sms: webhook receipt: %w: at %q is not an RFC 3339 time", ErrInvalid, clean(in.At, 40))
		}
		rc.At = at
	}
	return rc, nil
}

// ParseWebhookInbound reads a message a person sent, in the webhook
// contract: a JSON POST {"from", "to", "text"} signed as for
// ParseWebhookReceipt. The Keyword is that of the text (see KeywordOf).
func ParseWebhookInbound(r *http.Request, secret string, now time.Time) (Inbound, error) {
	body, err := webhookBody(r, secret, now)
	if err != nil {
		return Inbound{}, fmt.Errorf("sms: webhook inbound message: %w", err)
	}
	var in webhookInbound
	if err := decodeObject(body, &in); err != nil {
		return Inbound{}, fmt.Errorf("sms: webhook inbound message: %w", err)
	}
	if strings.TrimSpace(in.From) == "" {
		return Inbound{}, fmt.Errorf("sms: webhook inbound message: %w: no from", ErrInvalid)
	}
	return Inbound{From: in.From, To: in.To, Body: in.Text, Keyword: KeywordOf(in.Text)}, nil
}

// webhookBody reads the body of a signed JSON POST and checks its
// signature.
func webhookBody(r *http.Request, secret string, now time.Time) ([]byte, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: method %s, want POST", ErrInvalid, r.Method)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, fmt.Errorf("%w: content type %q, want application/json", ErrInvalid, r.Header.Get("Content-Type"))
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := verifyWebhook(secret, r.Header.Get(SignatureHeader), body, now); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeObject decodes one JSON object from body into v; unknown fields
// are allowed (a provider may add its own), anything after the object is
// not.
func decodeObject(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: the body is not a JSON object", ErrInvalid)
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body is not the expected JSON object", ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return nil
}

// errorCode reads "error_code": a string, a number or null.
func errorCode(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return clean(s, 40), nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%w: error_code is neither a string nor a number", ErrInvalid)
}
