// Package journey follows every order and every result without an order
// from the order to the follow-up, the way a parcel is tracked: a journey
// per ServiceRequest, and per DiagnosticReport (or laboratory Observation)
// that arrives without a known order.
//
// Journeys advance from FHIR writes, which the fhir.Store announces in the
// writing transaction (a journey.changes job, see ChangesArgs), and from
// the care team's and the patient's actions through the JSON API. Every
// change of stage, and every event that did not change it, is stored with
// its time and cause. Deadlines (a critical result acknowledged within 30
// minutes, an abnormal one reviewed within 2 business days, a hold's
// expiry) are River jobs scheduled at the deadline, inserted in the
// transaction that starts the clock; docs/JOURNEYS.md describes the model.
package journey

import (
	"time"
)

// Stage is where a journey stands.
type Stage string

// The stages, in the order a journey passes them. Cancelled and
// EnteredInError end a journey from any stage.
const (
	Ordered             Stage = "ordered"
	Scheduled           Stage = "scheduled"
	Collected           Stage = "collected" // specimen collected or procedure performed
	InProgress          Stage = "in-progress"
	Preliminary         Stage = "preliminary"
	Final               Stage = "final"
	Reviewed            Stage = "reviewed"
	Released            Stage = "released"
	Notified            Stage = "notified"
	Viewed              Stage = "viewed"
	Acknowledged        Stage = "acknowledged"
	FollowupRecommended Stage = "followup-recommended"
	FollowupBooked      Stage = "followup-booked"
	FollowupDone        Stage = "followup-done"
	Closed              Stage = "closed"
	Cancelled           Stage = "cancelled"
	EnteredInError      Stage = "entered-in-error"
)

// stageRank orders the stages; terminal stages rank above all.
var stageRank = map[Stage]int{
	Ordered: 1, Scheduled: 2, Collected: 3, InProgress: 4, Preliminary: 5, Final: 6, Reviewed: 7,
	Released: 8, Notified: 9, Viewed: 10, Acknowledged: 11, FollowupRecommended: 12, FollowupBooked: 13,
	FollowupDone: 14, Closed: 15, Cancelled: 100, EnteredInError: 100,
}

// Terminal reports whether no event moves a journey out of s.
func (s Stage) Terminal() bool { return s == Closed || s == Cancelled || s == EnteredInError }

// Flag is the worst interpretation of a journey's results.
type Flag int

// The flags, from the least to the most urgent. Their order is that of
// interpret.Level.
const (
	Unknown Flag = iota
	Normal
	Abnormal
	Critical
)

var flagNames = [...]string{"unknown", "normal", "abnormal", "critical"}

// String returns "unknown", "normal", "abnormal" or "critical".
func (f Flag) String() string {
	if f < 0 || int(f) >= len(flagNames) {
		return "unknown"
	}
	return flagNames[f]
}

// MarshalText writes the flag's name.
func (f Flag) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// ParseFlag returns the flag named s, and false when s names none.
func ParseFlag(s string) (Flag, bool) {
	for i, n := range flagNames {
		if n == s {
			return Flag(i), true
		}
	}
	return Unknown, false
}

// urgency orders the inbox: critical first, then abnormal, then the rest.
func (f Flag) urgency() int {
	switch f {
	case Critical:
		return 0
	case Abnormal:
		return 1
	}
	return 2
}

// Steps a deadline can wait for (Journey.DueStep).
const (
	StepAcknowledge = "acknowledge" // a critical result, by a clinician
	StepReview      = "review"      // any other result, by a clinician
)

// Escalation levels of an unacknowledged critical result.
const (
	EscalatedNone        = 0
	EscalatedCovering    = 1 // the covering clinician was called
	EscalatedCoordinator = 2 // the care coordinator was called
)

// Journey is one order's or one result's journey, with what the inbox and
// the patient's timeline show without reading FHIR.
type Journey struct {
	OrgID     string `json:"-"`
	ID        string `json:"id"`
	Anchor    string `json:"anchor"` // the resource followed: "ServiceRequest/id", "DiagnosticReport/id" or "Observation/id"
	PatientID string `json:"patient"`
	OrderRef  string `json:"order,omitempty"`
	ReportRef string `json:"report,omitempty"`
	System    string `json:"code_system,omitempty"`
	Code      string `json:"code,omitempty"`
	Display   string `json:"display,omitempty"`
	Stage     Stage  `json:"stage"`
	Flag      Flag   `json:"flag"`
	// FlagReason says why the flag was set (the interpretation's reason).
	FlagReason string `json:"flag_reason,omitempty"`
	// Clinician is the ordering clinician ("Practitioner/id"), or the
	// report's performer when no order names one.
	Clinician string     `json:"clinician,omitempty"`
	OpenedAt  time.Time  `json:"opened_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ResultAt  *time.Time `json:"result_at,omitempty"` // when the first preliminary or final result arrived
	FinalAt   *time.Time `json:"final_at,omitempty"`  // when the final result arrived; only a final result is released
	// DueAt is when the next step (DueStep) is due, if a deadline runs.
	DueAt      *time.Time `json:"due_at,omitempty"`
	DueStep    string     `json:"due_step,omitempty"`
	Escalation int        `json:"escalation"`
	ReviewedAt *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy string     `json:"reviewed_by,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	HoldReason string     `json:"hold_reason,omitempty"`
	HoldUntil  *time.Time `json:"hold_until,omitempty"`
	HoldBy     string     `json:"hold_by,omitempty"`
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	ViewedAt   *time.Time `json:"viewed_at,omitempty"`
	AckedAt    *time.Time `json:"acknowledged_at,omitempty"` // by the patient
	FollowupAt *time.Time `json:"followup_recommended_at,omitempty"`
	BookedAt   *time.Time `json:"followup_booked_at,omitempty"`
	DoneAt     *time.Time `json:"followup_done_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// MergedInto names the journey that took this one over: a laboratory
	// result that arrived alone, before the report that lists it.
	MergedInto string `json:"merged_into,omitempty"`

	clock    int64  // deadlines started so far; a deadline job acts only for the current one
	clockJob *int64 // the River job of the running deadline
	events   int    // events stored
}

// Transition is one event of a journey: a change of stage when From and To
// differ, otherwise an event that left the stage as it was.
type Transition struct {
	Seq  int       `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	From Stage     `json:"from"`
	To   Stage     `json:"to"`
	// Cause is the FHIR version that caused it ("Type/id/_history/v") or
	// the action ("api:acknowledge", "deadline:acknowledge").
	Cause string `json:"cause"`
	Actor string `json:"actor,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Kinds of events.
const (
	KindTransition = "transition" // the stage changed
	KindEvent      = "event"      // recorded; the stage did not change (it would have gone backwards, or it is a side step)
	KindCorrection = "correction" // the source corrected itself: the stage went back
	KindComment    = "comment"
	KindEscalation = "escalation"
	KindReminder   = "reminder"
	KindHold       = "hold"
)
