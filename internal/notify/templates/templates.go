// Package templates holds the texts of the messages careloop sends: one
// per kind of message, channel (email, SMS, in-app), language (English,
// Spanish) and reading level (simple, the default for patients, or
// standard).
//
// careloop's own texts are embedded files in text/, named
// kind.channel.lang.level.tmpl. Each is a text/template over Data. An
// email or in-app file starts with a "Subject: " line (for in-app, the
// title), then a blank line, then the body; an SMS file is all body.
//
// A patient's text says that something waits and links to it: it carries
// no health information unless the patient chose to receive details, in
// which case Data.Detail is set. Patient texts are written at or below US
// grade 8 (Flesch–Kincaid), grade 6 on average.
//
// Texts are written in a checked subset of text/template: the fields of
// Data, {{if}}, {{with}}, {{range .Items}} (not nested), {{break}},
// {{continue}}, comments, $, and the functions and, or, not, eq, ne, lt,
// le, gt, ge and len with arguments of fitting types. Texts are parsed
// once and executed without reflection, with text/template's results.
//
// An organisation may replace any text with its own (Catalog.With); Check
// says whether such a text is acceptable. A text that passes Check
// renders without error for any Data.
package templates

import "slices"

// Kind names a message careloop sends.
type Kind string

// The kinds of messages.
const (
	ResultReady            Kind = "result-ready"            // patient: a new result is released
	ResultUnviewed         Kind = "result-unviewed"         // patient: outreach, a result not yet seen
	FollowupUnbooked       Kind = "followup-unbooked"       // patient: outreach, a follow-up not booked
	AppointmentBooked      Kind = "appointment-booked"      // patient: an appointment is confirmed
	AppointmentChanged     Kind = "appointment-changed"     // patient: an appointment moved
	AppointmentCancelled   Kind = "appointment-cancelled"   // patient: an appointment is cancelled
	AppointmentReminder    Kind = "appointment-reminder"    // patient: an appointment is near
	Digest                 Kind = "digest"                  // patient: several held messages in one
	CriticalEscalation     Kind = "critical-escalation"     // staff: covering clinician, a critical result waits
	CriticalUnacknowledged Kind = "critical-unacknowledged" // staff: care coordinator, a critical result not acknowledged
	ReviewOverdue          Kind = "review-overdue"          // staff: ordering clinician, a review is late
	OutreachNeeded         Kind = "outreach-needed"         // staff: care coordinator, a patient needs outreach
	ProviderTest           Kind = "provider-test"           // staff: a test message when a provider is set up
)

// The audiences of messages.
const (
	Patient = "patient"
	Staff   = "staff"
)

// The categories of messages, for which patients choose channels.
const (
	Results      = "results"
	Appointments = "appointments"
	CareTeam     = "care-team"
	Reminders    = "reminders"
)

// The channels, languages and reading levels of texts.
const (
	Email = "email"
	SMS   = "sms"
	InApp = "inapp"

	English = "en"
	Spanish = "es"

	Simple   = "simple"
	Standard = "standard"
)

// KindInfo describes a kind of message.
type KindInfo struct {
	Kind        Kind   `json:"kind"`
	Audience    string `json:"audience"` // Patient or Staff
	Category    string `json:"category"` // Results, Appointments, CareTeam or Reminders
	Description string `json:"description"`
	Urgent      bool   `json:"urgent"` // never held by quiet hours or the daily cap
}

// Kinds returns every kind of message, patients' first, in a fixed order.
// The slice is new on each call.
func Kinds() []KindInfo {
	table := kindTable()
	return table[:]
}

// kindTable returns the kinds by value, so that Lookup needs no
// allocation.
func kindTable() [13]KindInfo {
	return [13]KindInfo{
		{ResultReady, Patient, Results, "A new result is released to the patient.", false},
		{ResultUnviewed, Patient, Reminders, "Outreach: the patient has not opened a released result.", false},
		{FollowupUnbooked, Patient, Reminders, "Outreach: the patient has not booked a follow-up.", false},
		{AppointmentBooked, Patient, Appointments, "Confirmation of a booked appointment.", false},
		{AppointmentChanged, Patient, Appointments, "An appointment has a new time or place.", false},
		{AppointmentCancelled, Patient, Appointments, "An appointment is cancelled.", false},
		{AppointmentReminder, Patient, Appointments, "Reminder of an appointment that is near.", false},
		{Digest, Patient, Reminders, "Several held messages sent together once the daily limit is reached.", false},
		{CriticalEscalation, Staff, CareTeam, "To the covering clinician: a critical result waits for acknowledgement.", true},
		{CriticalUnacknowledged, Staff, CareTeam, "To the care coordinator: a critical result was not acknowledged in time.", true},
		{ReviewOverdue, Staff, CareTeam, "To the ordering clinician: a result's review is overdue.", false},
		{OutreachNeeded, Staff, CareTeam, "To the care coordinator: a patient needs outreach.", false},
		{ProviderTest, Staff, CareTeam, "A test message sent when an email or SMS provider is set up.", false},
	}
}

// Lookup returns the description of kind k, and whether k is known.
func Lookup(k Kind) (KindInfo, bool) {
	for _, info := range kindTable() {
		if info.Kind == k {
			return info, true
		}
	}
	return KindInfo{}, false
}

// knownKind reports whether k is one of the kinds, without allocating.
func knownKind(k Kind) bool {
	switch k {
	case ResultReady, ResultUnviewed, FollowupUnbooked, AppointmentBooked, AppointmentChanged, AppointmentCancelled,
		AppointmentReminder, Digest, CriticalEscalation, CriticalUnacknowledged, ReviewOverdue, OutreachNeeded, ProviderTest:
		return true
	}
	return false
}

// Channels returns the channels texts exist for, in a fixed order.
func Channels() []string { return []string{Email, SMS, InApp} }

// Languages returns the languages texts exist in, English first.
func Languages() []string { return []string{English, Spanish} }

// Levels returns the reading levels of kind k: simple and standard for
// patients' messages, standard alone for staff's; nil for an unknown kind.
func Levels(k Kind) []string {
	info, ok := Lookup(k)
	switch {
	case !ok:
		return nil
	case info.Audience == Staff:
		return []string{Standard}
	}
	return []string{Simple, Standard}
}

// Key names one text.
type Key struct {
	Kind    Kind   `json:"kind"`
	Channel string `json:"channel"`
	Lang    string `json:"lang"`
	Level   string `json:"level"`
}

// String returns the key as kind/channel/lang/level.
func (k Key) String() string {
	return string(k.Kind) + "/" + k.Channel + "/" + k.Lang + "/" + k.Level
}

// Data is what a text may say. Texts read well whether or not Name, Org
// and Detail are set.
type Data struct {
	Name string // the recipient's first name; may be empty
	Org  string // the clinic's name; may be empty
	Link string // the signed link to the item; always set for messages
	// Prefs is the address of the recipient's notification settings,
	// named in email footers; may be empty.
	Prefs string
	// Detail is health detail in the recipient's language, a short noun
	// phrase without an article ("cholesterol test"). It is set only when
	// the patient chose to receive details in messages.
	Detail string
	When   string   // the formatted appointment time, for appointment kinds
	Count  int      // digest: how many messages it holds
	Items  []string // digest: one short line per held message (their titles)
}

// Template is one text: its key and its source.
type Template struct {
	Key
	Subject string `json:"subject"` // email subject or in-app title; empty for SMS
	Body    string `json:"body"`
}

// Rendered is a text filled in with Data.
type Rendered struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
	Key     Key    `json:"key"` // the text used, after any fallback
}

// knownIn reports whether v is one of list.
func knownIn(list []string, v string) bool { return slices.Contains(list, v) }
