package journey

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// Authenticator returns the signed-in person of a request;
// *access.Users is one.
type Authenticator interface {
	Authenticate(r *http.Request) (*fhir.Principal, error)
}

// Access is one request's access to journeys, for the audit log.
type Access struct {
	Action   string   // "read" or "update"
	What     string   // the endpoint: "inbox", "journey", "mine", "acknowledge", ...
	Journeys []string // the journeys concerned
	Patients []string // their patients' ids
	Query    string   // the inbox's queue, for reads of lists
}

// Auditor records each access to journeys, which are health data: Record
// for reads (before the answer is sent: an error refuses the request),
// RecordTx for changes, in their transaction.
type Auditor interface {
	Record(ctx context.Context, p *fhir.Principal, a Access) error
	RecordTx(ctx context.Context, tx *sql.Tx, p *fhir.Principal, a Access) error
}

// API serves journeys as JSON under /journeys to signed-in people: the
// care team's inbox and actions, the patient's timeline and portal events.
type API struct {
	Service *Service
	Users   Authenticator
	Audit   Auditor
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /journeys/inbox", a.with(a.inbox))
	mux.HandleFunc("GET /journeys/mine", a.with(a.mine))
	mux.HandleFunc("GET /journeys/measurements", a.measurements)
	mux.HandleFunc("GET /journeys/{id}", a.with(a.get))
	mux.HandleFunc("POST /journeys/{id}/acknowledge", a.with(a.acknowledge))
	mux.HandleFunc("POST /journeys/{id}/comment", a.with(a.comment))
	mux.HandleFunc("POST /journeys/{id}/release", a.with(a.release))
	mux.HandleFunc("POST /journeys/{id}/hold", a.with(a.hold))
	mux.HandleFunc("POST /journeys/{id}/viewed", a.with(a.portal("viewed", a.Service.Viewed)))
	mux.HandleFunc("POST /journeys/{id}/acknowledged", a.with(a.portal("acknowledged", a.Service.Acknowledged)))
	mux.HandleFunc("POST /journeys/{id}/booked", a.with(a.portal("booked", a.Service.Booked)))
}

// caller is who asks, and which patients' journeys they reach.
type caller struct {
	p     *fhir.Principal
	staff bool // the care team; false for patients and caregivers
	Reach
}

// Reach is whose journeys a person sees.
type Reach struct {
	Patients map[string]bool // nil: every patient of the organisation
	List     []string        // the keys of Patients
}

// Reaches reports whether the journeys of the patient are in reach.
func (r Reach) Reaches(patientID string) bool {
	return r.Patients == nil || r.Patients[patientID]
}

// ReachOf returns whose journeys p sees: every patient of the
// organisation when the policy does not limit p (Principal.Compartments
// nil), else the patients p reaches for each of reachTypes. The API and
// the pages both decide with it.
func ReachOf(p *fhir.Principal) Reach {
	var r Reach
	if p.Compartments == nil {
		return r
	}
	for _, typ := range reachTypes {
		ids, limited := p.Compartments(typ)
		if !limited {
			continue
		}
		next := map[string]bool{}
		for _, id := range ids {
			if r.Patients == nil || r.Patients[id] {
				next[id] = true
			}
		}
		r.Patients = next
	}
	for id := range r.Patients {
		r.List = append(r.List, id)
	}
	return r
}

// clinicalStaff are the roles that work journeys.
var clinicalStaff = map[string]bool{string(identity.RoleClinician): true, string(identity.RoleNurse): true,
	string(identity.RoleTechnician): true, string(identity.RoleCoordinator): true}

// reachTypes are the types a person must reach of a patient to see the
// patient's journeys: orders, reports and results (a Consent closing any
// of them to the person hides the journeys too).
var reachTypes = []string{"ServiceRequest", "DiagnosticReport", "Observation"}

func (a *API) with(h func(w http.ResponseWriter, r *http.Request, c *caller) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.caller(r)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

func (a *API) caller(r *http.Request) (*caller, error) {
	p, err := a.Users.Authenticate(r)
	if err != nil {
		return nil, err
	}
	c := &caller{p: p}
	switch {
	case clinicalStaff[p.Role]:
		c.staff = true
	case p.Role == string(identity.RolePatient) || p.Role == string(identity.RoleCaregiver):
	default:
		return nil, errs.Forbiddenf("journeys are for the care team, patients and caregivers; a %s has no access to them", p.Role)
	}
	c.Reach = ReachOf(p)
	if c.Patients == nil && !c.staff {
		return nil, errs.Forbiddenf("no record is open to this account")
	}
	return c, nil
}

// redact removes from a journey what the caller's role may not read: care
// coordinators work journeys but not the clinical content of results, so
// they see the flag (for urgency) without its reason.
func (c *caller) redact(j *Journey) {
	if c.p.Role == string(identity.RoleCoordinator) {
		j.FlagReason = ""
	}
}

func (c *caller) needStaff() error {
	if !c.staff {
		return errs.Forbiddenf("only the care team may do this")
	}
	return nil
}

func (c *caller) needRole(roles ...identity.Role) error {
	for _, r := range roles {
		if c.p.Role == string(r) {
			return nil
		}
	}
	return errs.Forbiddenf("a %s may not do this", c.p.Role)
}

// inbox lists open journeys by urgency (Service.Inbox), for the care team.
func (a *API) inbox(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needStaff(); err != nil {
		return err
	}
	q := r.URL.Query()
	count := 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.Invalidf("count", "must be a number")
		}
		count = n
	}
	page, next, err := a.Service.Inbox(r.Context(), c.p.OrgID, InboxQuery{Queue: q.Get("queue"), Patients: c.List,
		Limited: c.Patients != nil, Cursor: q.Get("cursor"), Count: count})
	if err != nil {
		return err
	}
	acc := Access{Action: "read", What: "inbox", Query: "queue=" + q.Get("queue")}
	ptrs := make([]*Journey, len(page))
	ids := make([]string, len(page))
	for i := range page {
		acc.add(&page[i])
		ptrs[i], ids[i] = &page[i], page[i].ID
	}
	etas, err := a.Service.ETAs(r.Context(), c.p.OrgID, ptrs)
	if err != nil {
		return err
	}
	var outreach map[string][]Outreach
	if q.Get("queue") == QueueOutreach {
		if outreach, err = a.Service.Outreaches(r.Context(), c.p.OrgID, ids, OutreachOpen); err != nil {
			return err
		}
	}
	if err := a.Audit.Record(r.Context(), c.p, acc); err != nil {
		return err
	}
	items := make([]staffView, len(page))
	for i := range page {
		c.redact(&page[i])
		items[i] = staffView{Journey: &page[i], ETA: etas[page[i].ID], Outreach: outreach[page[i].ID]}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"journeys": items, "next": next})
}

func (acc *Access) add(j *Journey) {
	acc.Journeys = append(acc.Journeys, j.ID)
	for _, p := range acc.Patients {
		if p == j.PatientID {
			return
		}
	}
	acc.Patients = append(acc.Patients, j.PatientID)
}

// staffView is a journey as the care team sees it: with its expected
// result while it waits for one, and its outreach.
type staffView struct {
	*Journey
	ETA      *ETA       `json:"eta,omitempty"`
	Outreach []Outreach `json:"outreach,omitempty"`
}

// get returns one journey with its events: the care team's view, or the
// patient's.
func (a *API) get(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, evs, err := a.Service.Get(r.Context(), c.p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !c.Reaches(j.PatientID) {
		return errs.NotFoundf("journey %s is not known", r.PathValue("id"))
	}
	acc := Access{Action: "read", What: "journey"}
	acc.add(j)
	if err := a.Audit.Record(r.Context(), c.p, acc); err != nil {
		return err
	}
	return a.answer(w, r, c, j, evs)
}

// answer writes one journey as c may see it: the patient's view, or the
// care team's with its ETA and outreach.
func (a *API) answer(w http.ResponseWriter, r *http.Request, c *caller, j *Journey, evs []Transition) error {
	etas, err := a.Service.ETAs(r.Context(), c.p.OrgID, []*Journey{j})
	if err != nil {
		return err
	}
	if !c.staff {
		v := patientViewOf(j, evs)
		v.ETA = etas[j.ID]
		return httpx.WriteJSON(w, http.StatusOK, v)
	}
	outreach, err := a.Service.Outreaches(r.Context(), c.p.OrgID, []string{j.ID})
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []Transition{}
	}
	c.redact(j)
	return httpx.WriteJSON(w, http.StatusOK, struct {
		staffView
		Events []Transition `json:"events"`
	}{staffView{Journey: j, ETA: etas[j.ID], Outreach: outreach[j.ID]}, evs})
}

// PatientView is a journey as the patient's timeline shows it: the test,
// the stages passed and when, and the result's flag once released. It
// leaves out the care team's notes, holds and escalations.
type PatientView struct {
	ID                  string      `json:"id"`
	Test                string      `json:"test"`
	Stage               Stage       `json:"stage"`
	OpenedAt            time.Time   `json:"opened_at"`
	UpdatedAt           time.Time   `json:"updated_at"`
	Released            bool        `json:"released"`
	Flag                string      `json:"flag,omitempty"`
	FollowupRecommended bool        `json:"followup_recommended"`
	Viewed              bool        `json:"viewed"`
	Steps               []StageTime `json:"steps"`
	// ETA is when the result is expected, while the order waits for it.
	ETA *ETA `json:"eta,omitempty"`
}

// StageTime is a stage reached, and when.
type StageTime struct {
	Stage Stage     `json:"stage"`
	At    time.Time `json:"at"`
}

func patientViewOf(j *Journey, evs []Transition) PatientView {
	v := PatientView{ID: j.ID, Test: j.Display, Stage: j.Stage, OpenedAt: j.OpenedAt, UpdatedAt: j.UpdatedAt,
		Released: j.ReleasedAt != nil, FollowupRecommended: j.FollowupAt != nil, Viewed: j.ViewedAt != nil, Steps: []StageTime{}}
	if v.Test == "" {
		v.Test = j.Code
	}
	if v.Released {
		v.Flag = j.Flag.String()
	}
	for _, ev := range evs {
		if ev.From != ev.To {
			v.Steps = append(v.Steps, StageTime{Stage: ev.To, At: ev.At})
		}
	}
	return v
}

// mine is the patient's timeline: the journeys of the patient's own
// record and of the records they hold proxy access to.
func (a *API) mine(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.staff {
		return errs.Forbiddenf("this is the patients' own timeline; the care team uses /journeys/inbox")
	}
	count := 0
	if v := r.URL.Query().Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.Invalidf("count", "must be a number")
		}
		count = n
	}
	js, evs, next, err := a.Service.OfPatients(r.Context(), c.p.OrgID, c.List, r.URL.Query().Get("cursor"), count)
	if err != nil {
		return err
	}
	acc := Access{Action: "read", What: "mine"}
	ptrs := make([]*Journey, len(js))
	for i := range js {
		ptrs[i] = &js[i]
	}
	etas, err := a.Service.ETAs(r.Context(), c.p.OrgID, ptrs)
	if err != nil {
		return err
	}
	out := make([]PatientView, 0, len(js))
	for i := range js {
		acc.add(&js[i])
		v := patientViewOf(&js[i], evs[js[i].ID])
		v.ETA = etas[js[i].ID]
		out = append(out, v)
	}
	if err := a.Audit.Record(r.Context(), c.p, acc); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"journeys": out, "next": next})
}

// check returns the Check of an action by c: the journey must be of a
// patient c reaches (else it is not found), and the access is recorded in
// the action's transaction.
func (a *API) check(r *http.Request, c *caller, what string) Check {
	return func(tx *sql.Tx, j *Journey) error {
		if !c.Reaches(j.PatientID) {
			return errs.NotFoundf("journey %s is not known", j.ID)
		}
		acc := Access{Action: "update", What: what}
		acc.add(j)
		return a.Audit.RecordTx(r.Context(), tx, c.p, acc)
	}
}

// done answers an action with the journey as it is now.
func (a *API) done(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, evs, err := a.Service.Get(r.Context(), c.p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.answer(w, r, c, j, evs)
}

type noteRequest struct {
	Note string `json:"note"`
	Text string `json:"text"`
}

// acknowledge records a clinician's review or acknowledgement.
func (a *API) acknowledge(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needRole(identity.RoleClinician); err != nil {
		return err
	}
	var in noteRequest
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	if err := a.Service.Acknowledge(r.Context(), c.p.OrgID, r.PathValue("id"), c.p.Subject, in.Note, a.check(r, c, "acknowledge")); err != nil {
		return err
	}
	return a.done(w, r, c)
}

// comment adds a care-team comment.
func (a *API) comment(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needStaff(); err != nil {
		return err
	}
	var in noteRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := a.Service.Comment(r.Context(), c.p.OrgID, r.PathValue("id"), c.p.Subject, in.Text, a.check(r, c, "comment")); err != nil {
		return err
	}
	return a.done(w, r, c)
}

// release releases the result to the patient now.
func (a *API) release(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needRole(identity.RoleClinician); err != nil {
		return err
	}
	if err := a.Service.Release(r.Context(), c.p.OrgID, r.PathValue("id"), c.p.Subject, a.check(r, c, "release")); err != nil {
		return err
	}
	return a.done(w, r, c)
}

type holdRequest struct {
	Reason string     `json:"reason"`
	Until  *time.Time `json:"until"`
}

// hold keeps the result from the patient until a time, for a reason.
func (a *API) hold(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needRole(identity.RoleClinician); err != nil {
		return err
	}
	var in holdRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Until == nil {
		return errs.Invalidf("until", "is required")
	}
	if err := a.Service.Hold(r.Context(), c.p.OrgID, r.PathValue("id"), c.p.Subject, in.Reason, *in.Until, a.check(r, c, "hold")); err != nil {
		return err
	}
	return a.done(w, r, c)
}

// portal records a patient's event (viewed, acknowledged, booked).
func (a *API) portal(what string, act func(ctx context.Context, orgID, id string, by Actor, check Check) error) func(w http.ResponseWriter, r *http.Request, c *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if c.staff {
			return errs.Forbiddenf("only the patient or their caregiver records that they %s a result", what)
		}
		if err := act(r.Context(), c.p.OrgID, r.PathValue("id"), c.p.Subject, a.check(r, c, what)); err != nil {
			return err
		}
		return a.done(w, r, c)
	}
}

// decodeOptional reads a JSON body when there is one.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return httpx.DecodeJSON(w, r, v)
}

// measurementRoles may read the measurements: the people who run the
// service (care coordinators, organisation admins) and clinicians. They
// are counts and times over the whole organisation; the breaches name
// journeys by id only, without patient or result.
var measurementRoles = []identity.Role{identity.RoleCoordinator, identity.RoleAdmin, identity.RoleClinician}

// measurements answers GET /journeys/measurements?from=&to= (RFC 3339
// times or dates; by default the last 30 days): Service.Measure for the
// caller's organisation, audited with the window and the journeys listed.
func (a *API) measurements(w http.ResponseWriter, r *http.Request) {
	err := func() error {
		p, err := a.Users.Authenticate(r)
		if err != nil {
			return err
		}
		c := &caller{p: p}
		if err := c.needRole(measurementRoles...); err != nil {
			return err
		}
		now := a.Service.clock()
		to, err := parseWhen("to", r.URL.Query().Get("to"), now)
		if err != nil {
			return err
		}
		from, err := parseWhen("from", r.URL.Query().Get("from"), to.Add(-30*24*time.Hour))
		if err != nil {
			return err
		}
		m, err := a.Service.Measure(r.Context(), p.OrgID, from, to)
		if err != nil {
			return err
		}
		acc := Access{Action: "read", What: "measurements", Query: "from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)}
		seen := map[string]bool{}
		for _, b := range m.Breaches.List {
			if !seen[b.JourneyID] {
				seen[b.JourneyID] = true
				acc.Journeys = append(acc.Journeys, b.JourneyID)
			}
		}
		if err := a.Audit.Record(r.Context(), p, acc); err != nil {
			return err
		}
		return httpx.WriteJSON(w, http.StatusOK, m)
	}()
	if err != nil {
		httpx.WriteError(w, r, err)
	}
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC); "" is def.
func parseWhen(field, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errs.Invalidf(field, "must be a time (2026-11-20T09:00:00Z) or a date (2026-11-20)")
}
