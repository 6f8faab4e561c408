// Package notify tells people what careloop has for them: patients that a
// result is ready or a follow-up waits, clinicians that a critical result
// needs them. It sends each message on the right channel (email, SMS, the
// in-app inbox, or the log of a demo), at the right time (quiet hours, a
// daily cap with a digest beyond it), exactly once.
//
// The flow:
//
//  1. A module that decides something (journeys, the portal, an
//     integrator through the API) calls EnqueueTx with an Event, in the
//     transaction of its own change: the event is stored with that change
//     or not at all. An event's key makes a repeated event a no-op.
//  2. The planner turns each new event into messages: it finds the
//     person's addresses (Directory) and choices (Preferences), renders the
//     texts (internal/notify/templates) in their language, and decides when
//     to send (now, after quiet hours, or held for the daily digest). One
//     message per channel; channels after the first wait as fallbacks.
//  3. The dispatcher claims due messages in batches, hands them to the
//     organisation's providers (SMTP, an SMS provider) concurrently, and
//     records the outcomes in batches: sent, retried later with exponential
//     backoff and jitter, or failed, which wakes the next fallback channel.
//  4. Providers' delivery receipts and SMS replies (STOP) arrive at signed
//     webhooks; tracked links record that a message was opened.
//
// Messages are rows of one table with one index on when they are next due:
// the table is the durable queue. A message being sent holds a lease (its
// due time moves to the lease's end); when its sender dies, the lease runs
// out and another dispatcher sends it again, with the same id, which
// providers use as an idempotency key (the signed webhook contract) or as
// the email's Message-ID. No message is stored twice for an event and a
// channel, however many careloop nodes run.
package notify

import (
	"context"
	"time"
)

// Channels a message can go out on. Which provider carries email and SMS
// is each organisation's setting (see ProviderSettings); a demo's providers
// write to the log.
const (
	Email = "email"
	SMS   = "sms"
	InApp = "inapp" // the inbox of the portal and console
)

// The states of a message. A message is created queued (or standby when
// it is a fallback, held when over the daily cap), becomes sending while a
// dispatcher holds it, then sent; receipts move it on to delivered, a
// tracked link to opened. failed and bounced end it on its channel and
// wake the next fallback. suppressed: the address asked for no more
// messages (or bounced before); skipped: a fallback not needed; digested:
// held, then sent as part of a digest.
const (
	Queued     = "queued"
	Standby    = "standby"
	Held       = "held"
	Sending    = "sending"
	Sent       = "sent"
	Delivered  = "delivered"
	Opened     = "opened"
	Failed     = "failed"
	Bounced    = "bounced"
	Suppressed = "suppressed"
	Skipped    = "skipped"
	Digested   = "digested"
)

// Event is something a person should be told. Kind names the message
// (templates.Kind, such as "result-ready"); Recipient is the person
// ("Patient/id", "Practitioner/id" or "account:id"); Key makes the event
// unique for the recipient within the organisation (for example
// "journey/ID/release"): enqueueing the same key again does nothing.
type Event struct {
	OrgID     string
	Key       string
	Kind      string
	Recipient string
	// PatientID is whose care the event concerns, for the patient's
	// message history ("" when none).
	PatientID string
	// Target is the careloop path the message's link leads to, through
	// sign-in ("/staff/results/ID"); empty: the message's in-app copy
	// ("/account/messages/ID").
	Target string
	// Detail is health detail ("cholesterol test") that a patient who
	// chose so receives; everyone else gets the message without it.
	Detail string
	// AboutAt is the time the message speaks of (an appointment).
	AboutAt time.Time
}

// Contact is how to reach a person.
type Contact struct {
	Name     string // first name, for the greeting; may be empty
	Email    string
	Phone    string // E.164
	Lang     string // "en", "es"; empty: English
	TimeZone string // IANA name; empty: UTC
	Staff    bool   // a member of the care team rather than a patient
}

// Directory finds the contact of a recipient (an error with errs.NotFound
// when the recipient is unknown) and the name of an organisation, as its
// messages sign it.
type Directory interface {
	Contact(ctx context.Context, orgID, recipient string) (Contact, error)
	OrgName(ctx context.Context, orgID string) (string, error)
}

// Outgoing is a message handed to a provider.
type Outgoing struct {
	ID      string // careloop's message id: the provider's idempotency key
	OrgID   string
	Kind    string
	To      string // an email address or an E.164 number
	Subject string // email only
	Body    string
	// Receipts is the URL the provider reports delivery to ("" none).
	Receipts string
	// Unsubscribe is a one-click link that stops these messages (email).
	Unsubscribe string
}

// Sender hands messages to a provider. It returns the provider's id for
// the message. Errors that retrying cannot fix (an address refused, a
// number that does not exist) are marked with Permanent.
type Sender interface {
	Send(ctx context.Context, m Outgoing) (providerRef string, err error)
}

// PermanentError marks a failure that retrying will not fix.
type PermanentError struct {
	Err error
	// Bounced: the address itself was refused; it is suppressed.
	Bounced bool
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as a failure that retrying will not fix.
func Permanent(err error, bounced bool) error { return &PermanentError{Err: err, Bounced: bounced} }

// RetryError asks for the next attempt no sooner than After (a provider's
// Retry-After).
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }
