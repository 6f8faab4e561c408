package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// Authenticator returns the signed-in person or the system (a bearer
// token) of a request, and decides what a system may do as the FHIR API
// does; *access.Policy is one.
type Authenticator interface {
	Authenticate(r *http.Request) (*fhir.Principal, error)
	Allow(ctx context.Context, p *fhir.Principal, in fhir.Interaction, resourceType string) error
}

// Inboxes returns the recipients whose in-app messages and preferences a
// signed-in person owns: a patient's own record and the records they hold
// proxy access to; a staff member's account and their Practitioner.
type Inboxes interface {
	Inboxes(ctx context.Context, p *fhir.Principal) ([]string, error)
}

// Access is one request's access to messages, for the audit log.
type Access struct {
	Action   string   // "read" or "update"
	What     string   // the endpoint: "messages", "message", "inbox", "preferences", ...
	Patients []string // the patients whose messages were read or changed
	Messages []string // the messages concerned
}

// Auditor records each access to messages (they tell who had which kind
// of care): before the answer is sent, so that an error refuses it.
type Auditor interface {
	Record(ctx context.Context, p *fhir.Principal, a Access) error
}

// API serves notifications as JSON under /notify: the inbox and
// preferences of each person; message history, failures and retries for
// the care team; texts and providers for the organisation's
// administrators; events from other systems; providers' receipts.
type API struct {
	Service   *Service
	Providers *Providers
	Users     Authenticator
	Inboxes   Inboxes
	Audit     Auditor
	// PublicURL is careloop's public base URL: receipts' signatures cover
	// the URL the provider called.
	PublicURL string
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /notify/inbox", a.with(a.inbox))
	mux.HandleFunc("POST /notify/inbox/{id}/read", a.with(a.read))
	mux.HandleFunc("GET /notify/preferences", a.with(a.myPreferences))
	mux.HandleFunc("PUT /notify/preferences", a.with(a.setMyPreferences))
	mux.HandleFunc("GET /notify/messages", a.with(a.messages))
	mux.HandleFunc("GET /notify/failures", a.with(a.failures))
	mux.HandleFunc("GET /notify/messages/{id}", a.with(a.message))
	mux.HandleFunc("POST /notify/messages/{id}/retry", a.with(a.retry))
	mux.HandleFunc("GET /notify/patients/{id}/messages", a.with(a.patientMessages))
	mux.HandleFunc("GET /notify/patients/{id}/preferences", a.with(a.patientPreferences))
	mux.HandleFunc("PUT /notify/patients/{id}/preferences", a.with(a.setPatientPreferences))
	mux.HandleFunc("POST /notify/events", a.with(a.event))
	mux.HandleFunc("GET /notify/suppressions", a.with(a.suppressions))
	mux.HandleFunc("DELETE /notify/suppressions/{channel}/{address}", a.with(a.unsuppress))
	mux.HandleFunc("GET /notify/templates", a.with(a.templates))
	mux.HandleFunc("PUT /notify/templates", a.with(a.setTemplate))
	mux.HandleFunc("DELETE /notify/templates/{kind}/{channel}/{lang}/{level}", a.with(a.deleteTemplate))
	mux.HandleFunc("POST /notify/templates/preview", a.with(a.preview))
	mux.HandleFunc("GET /notify/providers", a.with(a.providers))
	mux.HandleFunc("PUT /notify/providers/{channel}", a.with(a.setProvider))
	mux.HandleFunc("DELETE /notify/providers/{channel}", a.with(a.removeProvider))
	mux.HandleFunc("POST /notify/providers/{channel}/test", a.with(a.testProvider))
	mux.HandleFunc("POST /notify/receipts/{provider}/{org}", a.receipt)
	mux.HandleFunc("POST /notify/inbound/{provider}/{org}", a.inbound)
}

func (a *API) with(h func(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Users.Authenticate(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

// The roles that may use the care team's and administrators' functions,
// here and on the pages.
var (
	// CareTeamRoles read message history and failures and send again.
	CareTeamRoles = []identity.Role{identity.RoleClinician, identity.RoleNurse, identity.RoleTechnician, identity.RoleCoordinator, identity.RoleAdmin}
	// HistoryRoles read message history: the care team and compliance.
	HistoryRoles = append(slices.Clone(CareTeamRoles), identity.RoleCompliance)
	// AdminRoles set the organisation's texts and providers.
	AdminRoles = []identity.Role{identity.RoleAdmin}
	// UnsuppressRoles let messages go to a suppressed address again.
	UnsuppressRoles = []identity.Role{identity.RoleAdmin, identity.RoleCoordinator}
)

var (
	careTeam       = roles(CareTeamRoles...)
	historyReaders = roles(HistoryRoles...)
	admins         = roles(AdminRoles...)
)

func roles(rs ...identity.Role) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[string(r)] = true
	}
	return m
}

func need(p *fhir.Principal, allowed map[string]bool, what string) error {
	if p.Role == "" || !allowed[p.Role] {
		return errs.Forbiddenf("Your role may not %s.", what)
	}
	return nil
}

// reach returns the patients whose messages p may see (limited false:
// all of the organisation's).
func reach(p *fhir.Principal) (patients []string, limited bool) {
	if p.Compartments == nil {
		return nil, false
	}
	return p.Compartments("Communication")
}

func (a *API) inboxesOf(r *http.Request, p *fhir.Principal) ([]string, error) {
	if p.Kind != "user" {
		return nil, errs.Forbiddenf("Only people have an inbox.")
	}
	return a.Inboxes.Inboxes(r.Context(), p)
}

// inbox lists the caller's in-app messages, newest first (?unread=1 for
// the unread only), with the count of unread ones.
func (a *API) inbox(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	boxes, err := a.inboxesOf(r, p)
	if err != nil {
		return err
	}
	f := Filter{Recipients: boxes, Channel: InApp, Cursor: r.URL.Query().Get("cursor")}
	if len(boxes) == 0 {
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"messages": []Message{}, "unread": 0})
	}
	msgs, next, err := a.Service.Messages(r.Context(), p.OrgID, f)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("unread") == "1" {
		msgs = slices.DeleteFunc(msgs, func(m Message) bool { return m.ReadAt != nil })
	}
	unread, err := a.Service.Unread(r.Context(), p.OrgID, boxes)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = map[string]any{"id": m.ID, "kind": m.Kind, "subject": m.Subject, "body": m.Body, "created_at": m.CreatedAt,
			"read_at": m.ReadAt, "recipient": m.Recipient, "target": m.Target}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"messages": out, "unread": unread, "next": next})
}

func (a *API) read(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	boxes, err := a.inboxesOf(r, p)
	if err != nil {
		return err
	}
	if err := a.Service.MarkRead(r.Context(), p.OrgID, r.PathValue("id"), boxes); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// own returns the recipient whose preferences the caller sets: their
// own record or account (the first of their inboxes). Caregivers have
// none.
func (a *API) own(r *http.Request, p *fhir.Principal) (string, error) {
	if p.Role == string(identity.RoleCaregiver) {
		// A caregiver's inboxes are the patients' records: their choices
		// are the patients' own to make.
		return "", errs.Forbiddenf("Caregivers have no message preferences of their own yet; the patient sets theirs.")
	}
	boxes, err := a.inboxesOf(r, p)
	if err != nil {
		return "", err
	}
	if len(boxes) == 0 {
		return "", errs.NotFoundf("Your account has no inbox yet: link your record first.")
	}
	return boxes[0], nil
}

type preferencesView struct {
	Recipient   string      `json:"recipient"`
	Preferences Preferences `json:"preferences"`
	InForce     Preferences `json:"in_force"`
}

func (a *API) writePreferences(w http.ResponseWriter, r *http.Request, orgID, recipient string) error {
	pr, err := a.Service.Preferences(r.Context(), orgID, recipient)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, preferencesView{Recipient: recipient, Preferences: pr, InForce: pr.withDefaults()})
}

func (a *API) myPreferences(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	who, err := a.own(r, p)
	if err != nil {
		return err
	}
	return a.writePreferences(w, r, p.OrgID, who)
}

func (a *API) setMyPreferences(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	who, err := a.own(r, p)
	if err != nil {
		return err
	}
	return a.putPreferences(w, r, p, who, "")
}

func (a *API) putPreferences(w http.ResponseWriter, r *http.Request, p *fhir.Principal, recipient, patientID string) error {
	var pr Preferences
	if err := httpx.DecodeJSON(w, r, &pr); err != nil {
		return err
	}
	if err := pr.Check(); err != nil {
		return err
	}
	if patientID != "" {
		if err := a.Audit.Record(r.Context(), p, Access{Action: "update", What: "preferences", Patients: []string{patientID}}); err != nil {
			return err
		}
	}
	if err := a.Service.SetPreferences(r.Context(), p.OrgID, recipient, pr, p.Subject); err != nil {
		return err
	}
	return a.writePreferences(w, r, p.OrgID, recipient)
}

// patientOf checks that the staff caller reaches the patient of the path.
func (a *API) patientOf(r *http.Request, p *fhir.Principal, allowed map[string]bool, what string) (string, error) {
	if err := need(p, allowed, what); err != nil {
		return "", err
	}
	id := r.PathValue("id")
	if ids, limited := reach(p); limited && !slices.Contains(ids, id) {
		return "", errs.NotFoundf("There is no patient %s in your reach.", id)
	}
	return id, nil
}

func (a *API) patientPreferences(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	id, err := a.patientOf(r, p, historyReaders, "read a patient's message preferences")
	if err != nil {
		return err
	}
	if err := a.Audit.Record(r.Context(), p, Access{Action: "read", What: "preferences", Patients: []string{id}}); err != nil {
		return err
	}
	return a.writePreferences(w, r, p.OrgID, "Patient/"+id)
}

func (a *API) setPatientPreferences(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	id, err := a.patientOf(r, p, careTeam, "change a patient's message preferences")
	if err != nil {
		return err
	}
	return a.putPreferences(w, r, p, "Patient/"+id, id)
}

// filterOf reads a message list's query: state (comma-separated),
// channel, patient, cursor, count.
func filterOf(r *http.Request, p *fhir.Principal) (Filter, error) {
	q := r.URL.Query()
	f := Filter{PatientID: q.Get("patient"), Channel: q.Get("channel"), Cursor: q.Get("cursor")}
	if v := q.Get("state"); v != "" {
		f.States = strings.Split(v, ",")
		for _, s := range f.States {
			if _, ok := stateNames[s]; !ok {
				return f, errs.Invalidf("state", "%q is not a state of messages.", s)
			}
		}
	}
	if f.Channel != "" && f.Channel != Email && f.Channel != SMS && f.Channel != InApp {
		return f, errs.Invalidf("channel", "%q is not a channel (email, sms or inapp).", f.Channel)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, errs.Invalidf("count", "count must be a positive number.")
		}
		f.Count = n
	}
	f.Patients, f.Limited = reach(p)
	return f, nil
}

var stateNames = map[string]struct{}{Queued: {}, Standby: {}, Held: {}, Sending: {}, Sent: {}, Delivered: {}, Opened: {},
	Failed: {}, Bounced: {}, Suppressed: {}, Skipped: {}, Digested: {}}

func (a *API) list(w http.ResponseWriter, r *http.Request, p *fhir.Principal, f Filter, what string) error {
	msgs, next, err := a.Service.Messages(r.Context(), p.OrgID, f)
	if err != nil {
		return err
	}
	acc := Access{Action: "read", What: what}
	for _, m := range msgs {
		acc.Messages = append(acc.Messages, m.ID)
		if m.PatientID != "" && !slices.Contains(acc.Patients, m.PatientID) {
			acc.Patients = append(acc.Patients, m.PatientID)
		}
	}
	if err := a.Audit.Record(r.Context(), p, acc); err != nil {
		return err
	}
	if msgs == nil {
		msgs = []Message{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"messages": msgs, "next": next})
}

func (a *API) messages(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, historyReaders, "read message history"); err != nil {
		return err
	}
	f, err := filterOf(r, p)
	if err != nil {
		return err
	}
	return a.list(w, r, p, f, "messages")
}

func (a *API) failures(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, careTeam, "read failed messages"); err != nil {
		return err
	}
	f, err := filterOf(r, p)
	if err != nil {
		return err
	}
	f.States = []string{Failed, Bounced}
	return a.list(w, r, p, f, "failures")
}

func (a *API) patientMessages(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	id, err := a.patientOf(r, p, historyReaders, "read a patient's message history")
	if err != nil {
		return err
	}
	f, err := filterOf(r, p)
	if err != nil {
		return err
	}
	f.PatientID = id
	return a.list(w, r, p, f, "patient-messages")
}

func (a *API) visibleMessage(r *http.Request, p *fhir.Principal, allowed map[string]bool, what string) (Message, error) {
	if err := need(p, allowed, what); err != nil {
		return Message{}, err
	}
	m, err := a.Service.Message(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return m, err
	}
	if ids, limited := reach(p); limited && (m.PatientID == "" || !slices.Contains(ids, m.PatientID)) && m.Recipient != "" {
		return Message{}, errs.NotFoundf("There is no message %s.", m.ID)
	}
	return m, nil
}

func (a *API) message(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	m, err := a.visibleMessage(r, p, historyReaders, "read message history")
	if err != nil {
		return err
	}
	if err := a.Audit.Record(r.Context(), p, Access{Action: "read", What: "message", Messages: []string{m.ID}, Patients: nonEmpty(m.PatientID)}); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, m)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (a *API) retry(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	m, err := a.visibleMessage(r, p, careTeam, "send messages again")
	if err != nil {
		return err
	}
	if err := a.Audit.Record(r.Context(), p, Access{Action: "update", What: "retry", Messages: []string{m.ID}, Patients: nonEmpty(m.PatientID)}); err != nil {
		return err
	}
	if err := a.Service.Retry(r.Context(), p.OrgID, m.ID, p.Subject); err != nil {
		return err
	}
	m, err = a.Service.Message(r.Context(), p.OrgID, m.ID)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusAccepted, m)
}

// eventBody is an event sent by another system.
type eventBody struct {
	Key       string    `json:"key"`
	Kind      string    `json:"kind"`
	Recipient string    `json:"recipient"`
	PatientID string    `json:"patient_id"`
	Target    string    `json:"target"`
	Detail    string    `json:"detail"`
	AboutAt   time.Time `json:"about_at,omitzero"`
}

// MaxEventsPerRequest bounds the events of one POST /notify/events.
const MaxEventsPerRequest = 1000

// event accepts events from a system of the organisation (an API key or
// a backend client) or an administrator: appointment reminders from the
// scheduling system, say. The body is one event or an array of up to
// MaxEventsPerRequest, stored together or not at all.
func (a *API) event(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if p.Kind == "user" && p.Role != string(identity.RoleAdmin) {
		return errs.Forbiddenf("Events come from the organisation's systems or its administrators.")
	}
	if p.Kind != "user" {
		// A backend client needs the scope to create Communications
		// (system/Communication.c): messages are communications.
		if err := a.Users.Allow(r.Context(), p, fhir.InteractionCreate, "Communication"); err != nil {
			return err
		}
	}
	var raw json.RawMessage
	if err := httpx.DecodeJSON(w, r, &raw); err != nil {
		return err
	}
	var bodies []eventBody
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return errs.Invalidf("", "The body is not an event or an array of events: %v.", err)
		}
		return nil
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := dec(&bodies); err != nil {
			return err
		}
		if len(bodies) == 0 || len(bodies) > MaxEventsPerRequest {
			return errs.Invalidf("", "Send 1 to %d events at once, not %d.", MaxEventsPerRequest, len(bodies))
		}
	} else {
		bodies = make([]eventBody, 1)
		if err := dec(&bodies[0]); err != nil {
			return err
		}
	}
	events := make([]Event, len(bodies))
	acc := Access{Action: "update", What: "event"}
	for i, b := range bodies {
		e := Event{OrgID: p.OrgID, Key: b.Key, Kind: b.Kind, Recipient: b.Recipient, PatientID: b.PatientID, Target: b.Target, Detail: b.Detail, AboutAt: b.AboutAt}
		if e.PatientID == "" {
			if id, ok := strings.CutPrefix(e.Recipient, "Patient/"); ok {
				e.PatientID = id
			}
		}
		if err := e.Check(); err != nil {
			if len(bodies) > 1 {
				return errs.Invalidf(fmt.Sprintf("[%d].%s", i, errs.FieldOf(err)), "Event %d: %s", i, errs.MessageOf(err))
			}
			return err
		}
		if e.PatientID != "" && !slices.Contains(acc.Patients, e.PatientID) {
			acc.Patients = append(acc.Patients, e.PatientID)
		}
		events[i] = e
	}
	if err := a.Audit.Record(r.Context(), p, acc); err != nil {
		return err
	}
	if err := a.Service.Enqueue(r.Context(), events...); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"accepted": len(events)})
}

func (a *API) suppressions(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, careTeam, "read suppressed addresses"); err != nil {
		return err
	}
	list, err := a.Service.Suppressions(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []Suppression{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"suppressions": list})
}

func (a *API) unsuppress(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, roles(UnsuppressRoles...), "lift a suppression"); err != nil {
		return err
	}
	if err := a.Service.Unsuppress(r.Context(), p.OrgID, r.PathValue("channel"), r.PathValue("address")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
