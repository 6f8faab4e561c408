// Package booking lets patients, caregivers and the care team book,
// reschedule and cancel the follow-up visit a result calls for.
//
// A follow-up is a FHIR ServiceRequest (status active, intent order or
// plan) whose reasonReference names the DiagnosticReport or Observation it
// follows up. The times that can be booked are the free Slots of the active
// Schedules of the order's performer, or of every active Schedule of the
// organisation when the order names no performer. Booking writes an
// Appointment (status booked, basedOn the order, slot the Slot) and marks
// the Slot busy in one database transaction, through the FHIR store's
// transactional writes: the store announces the Appointment to the
// journeys in that transaction, which moves the result's journey to
// followup-booked. The Slot is updated under its version (If-Match), so of
// two people booking one time exactly one succeeds.
//
// Every read that returns health data is recorded in the audit log before
// it is returned, and every change in its transaction; the patient's
// confirmation is enqueued in that transaction too. The caller is always a
// *fhir.Principal as the access policy builds it: patients and caregivers
// reach their own and proxied records, clinicians, nurses and care
// coordinators the patients they reach; anything outside is not found.
package booking

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db"
)

// The rules of booking.
const (
	// MinNotice is the least time between now and the start of a slot
	// that can be booked.
	MinNotice = time.Hour
	// DefaultWindow is how far ahead Slots looks when not told.
	DefaultWindow = 28 * 24 * time.Hour
	// MaxWindow bounds the window of one Slots call.
	MaxWindow = 90 * 24 * time.Hour
	// MaxSlots bounds the slots one Slots call returns.
	MaxSlots = 200
	// MaxFollowUps bounds the follow-ups FollowUps returns.
	MaxFollowUps = 200
	// MaxAppointments bounds each half (upcoming, past) of Appointments.
	MaxAppointments = 100
	// MaxCancelReason bounds a cancellation reason, in characters.
	MaxCancelReason = 500
)

// Resources is what booking needs of the FHIR store; *fhir.Store is one.
// Reads return errs.NotFound for a resource never stored in the
// organisation and errs.Gone for a deleted one; UpdateTx with a non-zero
// ifMatch returns errs.PreconditionFailed when the current version differs.
type Resources interface {
	Read(ctx context.Context, orgID, typ, id string) (*fhir.Stored, error)
	ReadTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*fhir.Stored, error)
	CreateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte) (*fhir.Stored, error)
	UpdateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, ifMatch int64) (*fhir.Stored, bool, error)
}

// Searcher runs FHIR searches; *fhir.Searcher is one. Search reads
// committed data; Match reads inside a transaction.
type Searcher interface {
	Search(ctx context.Context, orgID, typ string, params url.Values, lenient bool) (*fhir.SearchResult, error)
	Match(ctx context.Context, tx *sql.Tx, orgID, typ, rawQuery string, limit int) ([]*fhir.Stored, error)
}

// Notifier stores a message to send in the transaction of the change it
// announces; *notify.Service is one. If it also has a Wake method, Wake is
// called after the transaction commits, for the fastest delivery.
type Notifier interface {
	EnqueueTx(ctx context.Context, tx *sql.Tx, e notify.Event) error
}

// Config is what a Service is built from.
type Config struct {
	DB     *db.DB
	Store  Resources
	Search Searcher
	// Audit records every read and change of health data; it is required.
	// A read fails when its entry cannot be stored (fail closed); a
	// change stores its entry in its own transaction.
	Audit fhir.Auditor
	// Notify, if not nil, receives the patient's confirmations.
	Notify Notifier
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// BaseURL is the public URL of /fhir: absolute references under it
	// count as references to this server's resources; other absolute
	// references are ignored. Empty: only relative references count.
	BaseURL string
	Log     *slog.Logger
}

// Service books follow-up visits. It is safe for concurrent use.
type Service struct {
	db     *db.DB
	store  Resources
	search Searcher
	audit  fhir.Auditor
	notify Notifier
	now    func() time.Time
	base   string
	log    *slog.Logger
}

// New returns the service. It panics when cfg lacks DB, Store, Search or
// Audit: those are wiring mistakes, and booking without an audit log must
// never run.
func New(cfg Config) *Service {
	if cfg.DB == nil || cfg.Store == nil || cfg.Search == nil || cfg.Audit == nil {
		panic("booking: New needs DB, Store, Search and Audit")
	}
	s := &Service{db: cfg.DB, store: cfg.Store, search: cfg.Search, audit: cfg.Audit, notify: cfg.Notify,
		now: cfg.Now, base: strings.TrimSuffix(cfg.BaseURL, "/"), log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// clock returns the current time in UTC.
func (s *Service) clock() time.Time { return s.now().UTC() }

// Slot is a time that can be booked.
type Slot struct {
	ID          string    `json:"id"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	With        string    `json:"with,omitempty"`         // who the visit is with: the schedule's practitioner
	Where       string    `json:"where,omitempty"`        // the schedule's location
	ServiceType string    `json:"service_type,omitempty"` // the schedule's service type
}

// FollowUp is a follow-up order as the patient sees it.
type FollowUp struct {
	OrderRef  string `json:"order"`   // "ServiceRequest/id"
	PatientID string `json:"patient"` // the Patient id
	Display   string `json:"display"` // what to book: the order's code text, else "Follow-up visit"
	// Status is the order's status: only active orders can be booked.
	Status    string `json:"status"`
	ReasonRef string `json:"reason"`              // the result followed up: "DiagnosticReport/id" or "Observation/id"
	Performer string `json:"performer,omitempty"` // display name of the order's performer
	// RecommendedAt is when the follow-up was ordered: authoredOn, else
	// when careloop stored the order.
	RecommendedAt time.Time `json:"recommended_at"`
	// Appointment is the active (booked, pending, arrived or checked-in)
	// appointment of the order, if any.
	Appointment *Appointment `json:"appointment,omitempty"`
}

// Appointment is an appointment as the patient sees it.
type Appointment struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"` // the FHIR status: booked, cancelled, fulfilled, ...
	OrderRef     string    `json:"order,omitempty"`
	PatientID    string    `json:"patient"`
	SlotID       string    `json:"slot,omitempty"`
	With         string    `json:"with,omitempty"`
	Where        string    `json:"where,omitempty"`
	Description  string    `json:"description,omitempty"`
	CancelReason string    `json:"cancel_reason,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	// Version is the Appointment's FHIR version (meta.versionId).
	Version int64 `json:"version"`
}
