// Package audit keeps careloop's audit log: a record of every access to
// health data, kept as a transparency log so that nobody, the operator of
// the database included, can alter or remove an entry unseen.
//
// Each [Entry] has the fields of the IHE Basic Audit Log Patterns (BALP)
// profile of FHIR AuditEvent. Its canonical bytes ([Entry.Canonical]) are a
// leaf of an RFC 6962 Merkle tree. Entries are stored first ([Log.AppendTx]
// inside the caller's transaction, [Log.Record] for reads with group commit);
// a sequencer ([Log.Sequence]) then gives them consecutive leaf indices and
// stores the tree nodes, so appends never wait on tree maintenance. Signed
// checkpoints ([Log.Checkpoint]) commit to the tree and may be published
// outside the database; [Log.Verify] recomputes the tree and names any entry
// that was altered, removed, inserted or reordered.
//
// The application never updates or deletes an entry: there is no code path
// for it. Entries are kept for at least six years (see docs/AUDIT.md).
package audit

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jsonx"
)

// Coding is a code from a code system, as in FHIR.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Code systems of the entry types and subtypes.
const (
	SystemEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	SystemInteraction = "http://hl7.org/fhir/restful-interaction"
	SystemDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	SystemCareloop    = "https://careloop.org/fhir/CodeSystem/audit-event"
	SystemPurpose     = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
)

// Event types, as BALP uses them.
var (
	// TypeRest is a FHIR RESTful interaction; the subtype names it.
	TypeRest = Coding{System: SystemEventType, Code: "rest", Display: "Restful Operation"}
	// TypeLogin and TypeLogout are sign-in and sign-out (successful or not).
	TypeLogin  = Coding{System: SystemDICOM, Code: "110122", Display: "Login"}
	TypeLogout = Coding{System: SystemDICOM, Code: "110123", Display: "Logout"}
	// TypeSecurityAlert is a change of security settings: second factors,
	// permissions, configuration, break-glass.
	TypeSecurityAlert = Coding{System: SystemDICOM, Code: "110113", Display: "Security Alert"}
	// TypeAuditLogUsed is a read of the audit log itself.
	TypeAuditLogUsed = Coding{System: SystemDICOM, Code: "110101", Display: "Audit Log Used"}
	// TypeExport is a bulk export of health data.
	TypeExport = Coding{System: SystemDICOM, Code: "110106", Display: "Export"}
)

// Interaction returns the subtype coding of a FHIR RESTful interaction such
// as "read", "vread", "search-type", "history-instance", "create", "update",
// "delete" or "patch".
func Interaction(code string) Coding {
	return Coding{System: SystemInteraction, Code: code}
}

// Subtype returns a careloop subtype coding, for events FHIR has no code for:
// "login-failed", "factor-change", "break-glass", "permission-change",
// "config-change".
func Subtype(code string) Coding {
	return Coding{System: SystemCareloop, Code: code}
}

// Action is what was done: C, R, U, D or E (create, read, update, delete,
// execute), as in FHIR AuditEvent.action.
type Action string

// The actions of FHIR AuditEvent.
const (
	Create  Action = "C"
	Read    Action = "R"
	Update  Action = "U"
	Delete  Action = "D"
	Execute Action = "E"
)

func (a Action) valid() bool {
	switch a {
	case Create, Read, Update, Delete, Execute:
		return true
	}
	return false
}

// Outcome is the result of the action: 0 success, 4 minor failure (such as
// a refused request), 8 serious failure, 12 major failure.
type Outcome int

// The outcomes of FHIR AuditEvent.
const (
	Success        Outcome = 0
	MinorFailure   Outcome = 4
	SeriousFailure Outcome = 8
	MajorFailure   Outcome = 12
)

func (o Outcome) valid() bool {
	return o == Success || o == MinorFailure || o == SeriousFailure || o == MajorFailure
}

// Agent is who acted: the user (Subject, a reference such as
// "Practitioner/123" or an account id), their Role and PurposeOfUse (a
// v3-ActReason code such as TREAT, or ETREAT for break-glass), and the
// client software and network address the request came from.
type Agent struct {
	Subject      string `json:"subject,omitempty"`
	Name         string `json:"name,omitempty"`
	Role         string `json:"role,omitempty"`
	PurposeOfUse string `json:"purposeOfUse,omitempty"`
	ClientID     string `json:"clientId,omitempty"`
	Address      string `json:"address,omitempty"`
}

// Entity is a thing the event was about: a resource reference
// ("Observation/42"), or the query of a search.
type Entity struct {
	What  string `json:"what,omitempty"`
	Query string `json:"query,omitempty"`
}

// Entry is one audit event. The zero Recorded and ID are filled in when the
// entry is appended.
type Entry struct {
	// ID is unique; AppendTx and Record assign one when it is empty.
	ID string
	// OrgID is the organisation whose data was touched ("" for events of
	// the installation itself).
	OrgID string
	// Recorded is when the event happened; it is kept to the microsecond in
	// UTC. Zero means now.
	Recorded    time.Time
	Type        Coding
	Subtype     []Coding
	Action      Action
	Outcome     Outcome
	OutcomeDesc string
	Agent       Agent
	// Patients are the patients concerned, as "Patient/id".
	Patients []string
	Entities []Entity
	// RequestID is the request id of the HTTP exchange (X-Request-Id).
	RequestID string
}

// canonicalVersion is the version of the canonical encoding.
const canonicalVersion = 1

// canonical is the fixed shape of an entry's leaf bytes: JSON fields appear
// in this declaration order, and there are no maps, so equal entries give
// equal bytes.
type canonical struct {
	V           int      `json:"v"`
	ID          string   `json:"id"`
	OrgID       string   `json:"org"`
	Recorded    string   `json:"recorded"`
	Type        Coding   `json:"type"`
	Subtype     []Coding `json:"subtype"`
	Action      Action   `json:"action"`
	Outcome     Outcome  `json:"outcome"`
	OutcomeDesc string   `json:"outcomeDesc"`
	Agent       Agent    `json:"agent"`
	Patients    []string `json:"patients"`
	Entities    []Entity `json:"entities"`
	RequestID   string   `json:"requestId"`
}

// recordedLayout keeps microseconds, which both engines store exactly.
const recordedLayout = "2006-01-02T15:04:05.000000Z"

// Canonical returns the entry's canonical bytes, the leaf of the Merkle tree:
// compact JSON with a fixed field order. The entry must be normalised (as
// AppendTx and Record do) for the bytes to be stable.
func (e *Entry) Canonical() []byte {
	return e.appendCanonical(make([]byte, 0, 512))
}

// appendCanonical appends the canonical bytes to b. They are exactly what
// encoding/json makes of the canonical struct (TestCanonicalMatchesJSON
// holds the two together), written by hand because a read's entry is
// built on the read's path: reflection cost more than the rest of the
// entry together.
func (e *Entry) appendCanonical(b []byte) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, canonicalVersion, 10)
	b = append(b, `,"id":`...)
	b = jsonx.AppendHTMLSafeString(b, e.ID)
	b = append(b, `,"org":`...)
	b = jsonx.AppendHTMLSafeString(b, e.OrgID)
	b = append(b, `,"recorded":"`...)
	b = e.Recorded.UTC().AppendFormat(b, recordedLayout)
	b = append(b, `","type":`...)
	b = appendCoding(b, e.Type)
	b = append(b, `,"subtype":[`...)
	for i, c := range e.Subtype {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCoding(b, c)
	}
	b = append(b, `],"action":`...)
	b = jsonx.AppendHTMLSafeString(b, string(e.Action))
	b = append(b, `,"outcome":`...)
	b = strconv.AppendInt(b, int64(e.Outcome), 10)
	b = append(b, `,"outcomeDesc":`...)
	b = jsonx.AppendHTMLSafeString(b, e.OutcomeDesc)
	b = append(b, `,"agent":{`...)
	n := len(b)
	b = appendOptional(b, n, "subject", e.Agent.Subject)
	b = appendOptional(b, n, "name", e.Agent.Name)
	b = appendOptional(b, n, "role", e.Agent.Role)
	b = appendOptional(b, n, "purposeOfUse", e.Agent.PurposeOfUse)
	b = appendOptional(b, n, "clientId", e.Agent.ClientID)
	b = appendOptional(b, n, "address", e.Agent.Address)
	b = append(b, `},"patients":[`...)
	for i, p := range e.Patients {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendHTMLSafeString(b, p)
	}
	b = append(b, `],"entities":[`...)
	for i, en := range e.Entities {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		n := len(b)
		b = appendOptional(b, n, "what", en.What)
		b = appendOptional(b, n, "query", en.Query)
		b = append(b, '}')
	}
	b = append(b, `],"requestId":`...)
	b = jsonx.AppendHTMLSafeString(b, e.RequestID)
	return append(b, '}')
}

// appendCoding appends a Coding as encoding/json does (system and display
// omitted when empty).
func appendCoding(b []byte, c Coding) []byte {
	b = append(b, '{')
	if c.System != "" {
		b = append(b, `"system":`...)
		b = jsonx.AppendHTMLSafeString(b, c.System)
		b = append(b, ',')
	}
	b = append(b, `"code":`...)
	b = jsonx.AppendHTMLSafeString(b, c.Code)
	if c.Display != "" {
		b = append(b, `,"display":`...)
		b = jsonx.AppendHTMLSafeString(b, c.Display)
	}
	return append(b, '}')
}

// appendOptional appends "name":value unless value is empty (omitempty),
// with a comma unless it is the first member of the object opened at
// start.
func appendOptional(b []byte, start int, name, value string) []byte {
	if value == "" {
		return b
	}
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return jsonx.AppendHTMLSafeString(b, value)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ParseEntry decodes canonical bytes back into an entry.
func ParseEntry(b []byte) (*Entry, error) {
	var c canonical
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("audit: parse entry: %w", err)
	}
	if c.V != canonicalVersion {
		return nil, fmt.Errorf("audit: parse entry: unknown version %d", c.V)
	}
	t, err := time.Parse(recordedLayout, c.Recorded)
	if err != nil {
		return nil, fmt.Errorf("audit: parse entry %s: recorded: %w", c.ID, err)
	}
	return &Entry{
		ID: c.ID, OrgID: c.OrgID, Recorded: t, Type: c.Type, Subtype: c.Subtype,
		Action: c.Action, Outcome: c.Outcome, OutcomeDesc: c.OutcomeDesc, Agent: c.Agent,
		Patients: c.Patients, Entities: c.Entities, RequestID: c.RequestID,
	}, nil
}

// idRandom is the randomness of entry ids: the system's secure random
// source, read 4 kB at a time. An id needs 16 bytes, and a read of the
// source per entry cost a tenth of an audited read's overhead.
var idRandom = &lockedReader{r: bufio.NewReaderSize(rand.Reader, 4096)}

type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// normalize fills in the id and time, keeps the time to the microsecond in
// UTC, and checks the codes. now is the clock.
func (e *Entry) normalize(now time.Time) error {
	if e.ID == "" {
		id, err := uuid.NewV7FromReader(idRandom)
		if err != nil {
			return fmt.Errorf("audit: entry id: %w", err)
		}
		e.ID = id.String()
	}
	if e.Recorded.IsZero() {
		e.Recorded = now
	}
	e.Recorded = e.Recorded.UTC().Truncate(time.Microsecond)
	if e.Type.Code == "" {
		return errs.Invalidf("type", "An audit entry needs a type.")
	}
	if !e.Action.valid() {
		return errs.Invalidf("action", "Audit action %q is not one of C, R, U, D, E.", e.Action)
	}
	if !e.Outcome.valid() {
		return errs.Invalidf("outcome", "Audit outcome %d is not one of 0, 4, 8, 12.", e.Outcome)
	}
	for _, p := range e.Patients {
		if !strings.HasPrefix(p, "Patient/") || len(p) == len("Patient/") {
			return errs.Invalidf("patients", "Patient reference %q is not of the form Patient/id.", p)
		}
	}
	// One row per patient in the search index. (Sorted into a copy: the
	// caller's slice is theirs.)
	if len(e.Patients) > 1 {
		e.Patients = slices.Compact(slices.Sorted(slices.Values(e.Patients)))
	}
	return nil
}
