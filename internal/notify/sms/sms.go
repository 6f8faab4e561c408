// Package sms sends text messages through HTTP providers and reads what
// providers report back: delivery receipts and the replies people send
// (STOP, START, HELP).
//
// Two adapters implement Sender. Twilio speaks the Messages API of that
// provider (and of any service compatible with it, through BaseURL).
// Webhook speaks careloop's own signed-webhook contract, which any
// provider or in-house gateway can implement:
//
// # Sending
//
// careloop POSTs to the configured URL a JSON object
//
//	{"id": "<careloop message id>", "to": "+15551234567", "from": "+15557654321",
//	 "text": "…", "status_callback": "https://…"}
//
// ("from" and "status_callback" are omitted when empty) with the headers
//
//	Content-Type: application/json
//	Idempotency-Key: <id>
//	Careloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// The provider verifies the signature, and treats a request whose
// Idempotency-Key it has seen before as the same message: it answers as
// it did the first time and sends nothing again. It answers 2xx with
//
//	{"id": "<provider's reference>", "status": "queued"}
//
// (status one of queued, sent, delivered, failed; queued when absent). A
// refusal is a 4xx or 5xx answer, optionally with {"code": "…",
// "message": "…"}: 408, 425, 429 and 5xx mean "try again later" (with
// Retry-After when the provider knows when), every other 4xx means "this
// message will never be accepted".
//
// # Receipts and replies
//
// The provider POSTs to status_callback a JSON receipt
//
//	{"id": "<provider's reference>", "message_id": "<careloop id>",
//	 "status": "queued|sent|delivered|failed|bounced", "error_code": "…",
//	 "at": "<RFC 3339 time>"}
//
// and to the inbound URL careloop gives it each reply a person sends,
//
//	{"from": "+15551234567", "to": "+15557654321", "text": "STOP"}
//
// both signed with the same secret in the same Careloop-Signature header.
// careloop refuses a signature older or newer than five minutes, so a
// captured request cannot be replayed later.
//
// Secrets (the Twilio auth token, the webhook secret) never appear in
// errors or in the adapters' String.
package sms

import (
	"context"
	"errors"
	"time"
)

// Message is one SMS. ID is careloop's message id, used as the
// idempotency key.
type Message struct {
	ID             string
	To             string // E.164, "+15551234567"
	Body           string
	StatusCallback string // URL for delivery receipts; "" for none
}

// Result is the provider's answer to a message it accepted: its
// reference for the message and the first status, normalised (Queued,
// Sent, Delivered or Failed).
type Result struct {
	ProviderRef string
	Status      string
}

// Sender hands messages to a provider. Implementations are safe for
// concurrent use. An error says whether sending again may help: see
// IsPermanent and RetryAfter.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// The normalised statuses of a message at a provider.
const (
	Queued    = "queued"
	Sent      = "sent"
	Delivered = "delivered"
	Failed    = "failed"
	Bounced   = "bounced"
)

// Receipt is a provider's report on a message. Status is normalised (one
// of the constants above). MessageID is careloop's id when the provider
// reports it, ProviderRef the provider's; At is when the status was
// reached, zero when the provider does not say.
type Receipt struct {
	ProviderRef, MessageID, Status, ErrorCode string
	At                                        time.Time
}

// Inbound is a text message a person sent to careloop's number, with the
// keyword it is, if any.
type Inbound struct {
	From, To, Body string
	Keyword        Keyword
}

// ErrInvalid is wrapped by the errors about a message or an adapter's
// settings that can never be sent as they are (a bad number, an empty
// text, a missing account). IsPermanent reports true for them.
var ErrInvalid = errors.New("invalid")

// ErrSignature is wrapped by the errors of the Parse functions when a
// request is not signed by the provider: a missing, wrong or stale
// signature. The caller answers 403.
var ErrSignature = errors.New("signature does not verify")

// maxBody bounds the text of one message: ten concatenated segments.
const maxBody = 1600

// maxRequest bounds the bodies read from providers.
const maxRequest = 64 << 10
