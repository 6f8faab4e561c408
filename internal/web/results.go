package web

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// Journeys is what the results pages need of the journeys: the inbox, one
// journey with its events, and the care team's actions. *journey.Service
// is one. Each action calls its journey.Check in its transaction before
// changing anything.
type Journeys interface {
	Inbox(ctx context.Context, orgID string, q journey.InboxQuery) ([]journey.Journey, string, error)
	Get(ctx context.Context, orgID, id string) (*journey.Journey, []journey.Transition, error)
	Acknowledge(ctx context.Context, orgID, id string, by journey.Actor, note string, check journey.Check) error
	Comment(ctx context.Context, orgID, id string, by journey.Actor, text string, check journey.Check) error
	Release(ctx context.Context, orgID, id string, by journey.Actor, check journey.Check) error
	Hold(ctx context.Context, orgID, id string, by journey.Actor, reason string, until time.Time, check journey.Check) error
}

// resultsTeam are the roles that work the results inbox: the clinical
// staff of the journeys' JSON API. Acknowledging, releasing and holding
// are for clinicians alone, as in the API.
var resultsTeam = []identity.Role{identity.RoleClinician, identity.RoleNurse, identity.RoleTechnician, identity.RoleCoordinator}

// queueTab is one queue of the inbox, as a link.
type queueTab struct {
	Name, Label, Href string
	Current           bool
}

// queues are the inbox's queues in the order the page lists them.
var queues = []struct{ name, label string }{
	{journey.QueueReview, "To review"},
	{journey.QueueOverdueReview, "Overdue"},
	{journey.QueueEscalated, "Escalated"},
	{journey.QueueUnviewed, "Not viewed by the patient"},
	{journey.QueueFollowupUnbooked, "Follow-up not booked"},
	{journey.QueueOpen, "All open"},
}

// resultsInboxPage is the data of /staff/results.
type resultsInboxPage struct {
	Queues     []queueTab
	QueueLabel string
	Rows       []resultRow
	// Next and First are the links to the next page and back to the
	// first; empty when there is none.
	Next, First string
}

// resultRow is one journey in the inbox.
type resultRow struct {
	ID, Patient, Test, Flag, Reason, Stage string
	Critical                               bool
	Due                                    *deadline
}

// deadline is when a journey's next step is due: words for people
// ("due in 12 min", "overdue by 2 h") and the exact time.
type deadline struct {
	Step, Words, Exact, ISO string
	Overdue                 bool
}

// resultsInbox shows open journeys of the patients the person reaches, the
// most urgent first, one queue and one page (of count, 50 by default) at a
// time. The view is audited
// like the API's inbox; when the entry cannot be stored the page is
// refused.
func (p *Pages) resultsInbox(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	queue := cmp.Or(r.URL.Query().Get("queue"), journey.QueueReview)
	cursor := r.URL.Query().Get("cursor")
	count := 0
	if v := r.URL.Query().Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			p.fail(w, r, errs.Invalidf("count", "The page size must be a number."))
			return
		}
		count = n
	}
	rc := journey.ReachOf(pr)
	page, next, err := p.Journeys.Inbox(ctx, pr.OrgID, journey.InboxQuery{Queue: queue, Patients: rc.List,
		Limited: rc.Patients != nil, Cursor: cursor, Count: count})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	ids := make([]string, 0, len(page))
	for _, j := range page {
		ids = append(ids, j.PatientID)
	}
	names, err := p.Access.PatientNames(ctx, pr.OrgID, ids)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	acc := journey.Access{Action: "read", What: "inbox", Query: "queue=" + queue}
	for i := range page {
		addAccess(&acc, &page[i])
	}
	if err := p.JourneyAudit.Record(ctx, pr, acc); err != nil {
		p.fail(w, r, err)
		return
	}

	v := resultsInboxPage{}
	for _, q := range queues {
		tab := queueTab{Name: q.name, Label: q.label, Href: "/staff/results?queue=" + q.name, Current: q.name == queue}
		if tab.Current {
			v.QueueLabel = q.label
		}
		v.Queues = append(v.Queues, tab)
	}
	now := time.Now()
	showReason := u.Account.Role != identity.RoleCoordinator
	for _, j := range page {
		row := resultRow{ID: j.ID, Patient: patientLabel(names, j.PatientID), Test: testName(&j), Flag: flagWords(j.Flag),
			Critical: j.Flag == journey.Critical, Stage: stageWords(j.Stage), Due: deadlineOf(&j, now)}
		if showReason {
			row.Reason = j.FlagReason
		}
		v.Rows = append(v.Rows, row)
	}
	link := url.Values{"queue": {queue}}
	if count != 0 {
		link.Set("count", strconv.Itoa(count))
	}
	if cursor != "" {
		v.First = "/staff/results?" + link.Encode()
	}
	if next != "" {
		link.Set("cursor", next)
		v.Next = "/staff/results?" + link.Encode()
	}
	p.r.Page(w, r, http.StatusOK, "results", p.resultsData(w, r, "Results inbox", v))
}

// resultsData is the layout data of a results page: the account's
// navigation with the inbox first.
func (p *Pages) resultsData(w http.ResponseWriter, r *http.Request, title string, body any) pweb.Data {
	d := p.data(w, r, title, body)
	d.Nav = append([]pweb.Nav{{Href: "/staff/results", Label: "Results", Current: r.URL.Path == "/staff/results"}}, d.Nav...)
	return d
}

// addAccess adds a journey and its patient to an audited access.
func addAccess(acc *journey.Access, j *journey.Journey) {
	acc.Journeys = append(acc.Journeys, j.ID)
	for _, id := range acc.Patients {
		if id == j.PatientID {
			return
		}
	}
	acc.Patients = append(acc.Patients, j.PatientID)
}

// resultPage is the data of /staff/results/{id}: the journey, its
// timeline, the FHIR resources it follows and the forms of the actions the
// person may take.
type resultPage struct {
	ID, Patient, Test, Code, Flag, Reason, Stage string
	Critical, ShowReason                         bool
	Due                                          *deadline
	Facts                                        []fact
	Resources                                    []fhirLink
	Events                                       []eventRow
	// The actions offered.
	CanAcknowledge, CanRelease, CanHold bool
	AcknowledgeLabel                    string
	// The forms' values, shown again with their errors.
	Note, Text, HoldReason, Until string
	// Messages links to the patient's message history; empty when those
	// pages are not served.
	Messages string
}

// fact is one line of the journey's facts; one with ISO (its time in
// RFC 3339) is shown in a <time> element.
type fact struct {
	Label, Value, ISO string
}

// fhirLink is a FHIR resource the journey follows or names, linked to its
// JSON on the FHIR API.
type fhirLink struct{ Role, Ref, Href string }

// eventRow is one event of the timeline.
type eventRow struct {
	ISO, At, What, Cause, Who, Note string
	CauseHref                       string
}

// result shows one journey of a patient the person reaches; any other
// (unknown, another organisation's, a patient out of reach) is the same
// 404 page.
func (p *Pages) result(w http.ResponseWriter, r *http.Request, u *who) {
	p.showResult(w, r, http.StatusOK, u, resultPage{}, nil)
}

func (p *Pages) showResult(w http.ResponseWriter, r *http.Request, status int, u *who, f resultPage, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	j, evs, err := p.Journeys.Get(ctx, pr.OrgID, id)
	if err == nil && !journey.ReachOf(pr).Reaches(j.PatientID) {
		err = errs.NotFoundf("journey %s is not known", id)
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	names, err := p.Access.PatientNames(ctx, pr.OrgID, []string{j.PatientID})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	acc := journey.Access{Action: "read", What: "journey"}
	addAccess(&acc, j)
	if err := p.JourneyAudit.Record(ctx, pr, acc); err != nil {
		p.fail(w, r, err)
		return
	}

	people := accountNames{p: p, orgID: pr.OrgID}
	now := time.Now()
	clinician := u.Account.Role == identity.RoleClinician
	f.ID, f.Patient, f.Test, f.Code = j.ID, patientLabel(names, j.PatientID), testName(j), codeOf(j)
	f.Flag, f.Critical, f.Stage, f.Due = flagWords(j.Flag), j.Flag == journey.Critical, stageWords(j.Stage), deadlineOf(j, now)
	// Care coordinators see the flag, not why: the API hides it from them.
	if f.ShowReason = u.Account.Role != identity.RoleCoordinator; f.ShowReason {
		f.Reason = j.FlagReason
	}
	if f.Facts, err = journeyFacts(ctx, &people, j, now); err != nil {
		p.fail(w, r, err)
		return
	}
	f.Resources = resourceLinks(j)
	if p.notifyServed() {
		f.Messages = "/staff/patients/" + url.PathEscape(j.PatientID) + "/messages"
	}
	for _, ev := range evs {
		row, err := eventOf(ctx, &people, ev)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		f.Events = append(f.Events, row)
	}
	open := !j.Stage.Terminal()
	f.CanAcknowledge = clinician && open && j.ResultAt != nil && j.ReviewedAt == nil
	f.CanRelease = clinician && open && j.FinalAt != nil && j.ReleasedAt == nil
	f.CanHold = clinician && open && j.ReleasedAt == nil
	f.AcknowledgeLabel = "Mark reviewed"
	if j.Flag == journey.Critical {
		f.AcknowledgeLabel = "Acknowledge the critical result"
	}
	d := p.resultsData(w, r, "Result: "+f.Test, f)
	d.Errors = e
	p.r.Page(w, r, status, "results-journey", d)
}

// journeyFacts are the milestones of a journey as the facts list shows
// them.
func journeyFacts(ctx context.Context, people *accountNames, j *journey.Journey, now time.Time) ([]fact, error) {
	var out []fact
	at := func(label string, t *time.Time, extra string) {
		if t != nil {
			out = append(out, fact{Label: label, Value: joinWords(showTime(*t), extra), ISO: t.UTC().Format(time.RFC3339)})
		}
	}
	out = append(out, fact{Label: "Opened", Value: showTime(j.OpenedAt), ISO: j.OpenedAt.UTC().Format(time.RFC3339)})
	at("Result arrived", j.ResultAt, "")
	at("Final result", j.FinalAt, "")
	if j.Escalation > 0 {
		out = append(out, fact{Label: "Escalated", Value: escalationWords(j.Escalation)})
	}
	if j.ReviewedAt != nil {
		by, err := actorName(ctx, people, j.ReviewedBy)
		if err != nil {
			return nil, err
		}
		at("Reviewed", j.ReviewedAt, "by "+by)
	}
	if j.HoldUntil != nil && j.ReleasedAt == nil && j.HoldUntil.After(now) {
		by, err := actorName(ctx, people, j.HoldBy)
		if err != nil {
			return nil, err
		}
		at("Release held until", j.HoldUntil, "by "+by+": "+j.HoldReason)
	}
	at("Released to the patient", j.ReleasedAt, "")
	at("Patient notified", j.NotifiedAt, "")
	at("Viewed by the patient", j.ViewedAt, "")
	at("Acknowledged by the patient", j.AckedAt, "")
	at("Follow-up recommended", j.FollowupAt, "")
	at("Follow-up booked", j.BookedAt, "")
	at("Follow-up done", j.DoneAt, "")
	at("Closed", j.ClosedAt, "")
	return out, nil
}

func joinWords(a, b string) string {
	if b == "" {
		return a
	}
	return a + ", " + b
}

func escalationWords(level int) string {
	switch level {
	case journey.EscalatedCovering:
		return "to the covering clinician"
	case journey.EscalatedCoordinator:
		return "to the care coordinator"
	}
	return fmt.Sprintf("level %d", level)
}

// resourceLinks are the FHIR resources of a journey: the patient, the
// resource followed, its order and its report, and the clinician.
func resourceLinks(j *journey.Journey) []fhirLink {
	var out []fhirLink
	seen := map[string]bool{}
	add := func(role, ref string) {
		if ref == "" || seen[ref] || strings.Count(ref, "/") != 1 {
			return
		}
		seen[ref] = true
		out = append(out, fhirLink{Role: role, Ref: ref, Href: "/fhir/" + ref})
	}
	add("Patient", "Patient/"+j.PatientID)
	add("Order", j.OrderRef)
	add("Report", j.ReportRef)
	add("Followed", j.Anchor)
	add("Clinician", j.Clinician)
	return out
}

// eventOf words one event of the timeline.
func eventOf(ctx context.Context, people *accountNames, ev journey.Transition) (eventRow, error) {
	row := eventRow{ISO: ev.At.UTC().Format(time.RFC3339), At: showTime(ev.At), Note: ev.Note}
	switch {
	case ev.From == "":
		row.What = "Started: " + stageWords(ev.To)
	case ev.Kind == journey.KindTransition && ev.From != ev.To:
		row.What = stageWords(ev.From) + " → " + stageWords(ev.To)
	case ev.Kind == journey.KindCorrection:
		row.What = "Corrected: back to " + stageWords(ev.To)
	default:
		row.What = cmp.Or(kindWords[ev.Kind], ev.Kind)
	}
	row.Cause, row.CauseHref = causeWords(ev.Cause)
	// A step that left the stage as it was (a review after the release, a
	// patient's second look) is named by its cause.
	if ev.Kind == journey.KindEvent && row.CauseHref == "" && causes[ev.Cause] != "" {
		row.What, row.Cause = row.Cause, ""
	}
	if ev.Actor != "" {
		who, err := actorName(ctx, people, ev.Actor)
		if err != nil {
			return row, err
		}
		row.Who = who
	}
	return row, nil
}

var kindWords = map[string]string{
	journey.KindEvent:      "Event",
	journey.KindComment:    "Comment",
	journey.KindEscalation: "Escalation",
	journey.KindReminder:   "Reminder",
	journey.KindHold:       "Release held",
}

// causes are the journeys' own causes as people say them.
var causes = map[string]string{
	"api:acknowledge":      "Reviewed by a clinician",
	"api:comment":          "Care team comment",
	"api:release":          "Released by a clinician",
	"api:hold":             "Held by a clinician",
	"api:viewed":           "The patient opened it",
	"api:acknowledged":     "The patient acknowledged it",
	"api:booked":           "The patient booked the follow-up",
	"policy:release":       "Released by the organisation's policy",
	"policy:close":         "Closed by the organisation's policy",
	"deadline:acknowledge": "Acknowledgement deadline passed",
	"deadline:review":      "Review deadline passed",
	"interpretation":       "Interpretation of the results",
}

// causeWords returns an event's cause in words, and for a FHIR version
// ("DiagnosticReport/r1/_history/2") the link to it.
func causeWords(cause string) (string, string) {
	if w, ok := causes[cause]; ok {
		return w, ""
	}
	parts := strings.Split(cause, "/")
	if len(parts) == 4 && parts[2] == "_history" {
		return "FHIR write: " + parts[0] + "/" + parts[1] + ", version " + parts[3], "/fhir/" + cause
	}
	return cause, ""
}

// actorName names who acted: an account by its name, anything else as
// recorded.
func actorName(ctx context.Context, people *accountNames, actor string) (string, error) {
	id, ok := strings.CutPrefix(actor, "account/")
	if !ok || id == "" {
		return cmp.Or(actor, "careloop"), nil
	}
	return people.name(ctx, id)
}

// patientLabel is "Name (Patient/id)", or the reference alone when the
// record has no name.
func patientLabel(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n + " (Patient/" + id + ")"
	}
	return "Patient/" + id
}

// testName is what the journey follows, in words when the source named it.
func testName(j *journey.Journey) string {
	return cmp.Or(j.Display, j.Code, j.Anchor)
}

// codeOf is the test's code with its system, when the source sent one.
func codeOf(j *journey.Journey) string {
	switch {
	case j.Code == "":
		return ""
	case j.System == "http://loinc.org":
		return "LOINC " + j.Code
	case j.System != "":
		return j.System + " " + j.Code
	}
	return j.Code
}

func flagWords(f journey.Flag) string {
	switch f {
	case journey.Critical:
		return "Critical"
	case journey.Abnormal:
		return "Abnormal"
	case journey.Normal:
		return "Normal"
	}
	return "Not interpreted"
}

var stageNames = map[journey.Stage]string{
	journey.Ordered: "Ordered", journey.Scheduled: "Scheduled", journey.Collected: "Collected or performed",
	journey.InProgress: "In progress", journey.Preliminary: "Preliminary result", journey.Final: "Final result",
	journey.Reviewed: "Reviewed", journey.Released: "Released to the patient", journey.Notified: "Patient notified",
	journey.Viewed: "Viewed by the patient", journey.Acknowledged: "Acknowledged by the patient",
	journey.FollowupRecommended: "Follow-up recommended", journey.FollowupBooked: "Follow-up booked",
	journey.FollowupDone: "Follow-up done", journey.Closed: "Closed", journey.Cancelled: "Cancelled",
	journey.EnteredInError: "Entered in error",
}

func stageWords(s journey.Stage) string { return cmp.Or(stageNames[s], string(s)) }

// deadlineOf returns the journey's running deadline at now, or nil.
func deadlineOf(j *journey.Journey, now time.Time) *deadline {
	if j.DueAt == nil {
		return nil
	}
	step := "Review"
	if j.DueStep == journey.StepAcknowledge {
		step = "Acknowledgement"
	}
	return &deadline{Step: step, Words: timeLeft(*j.DueAt, now), Exact: showTime(*j.DueAt),
		ISO: j.DueAt.UTC().Format(time.RFC3339), Overdue: !j.DueAt.After(now)}
}

// timeLeft says how long until due, or how long since: "due in 12 min",
// "overdue by 2 h". Minutes below an hour, hours below two days, then days;
// each rounded down.
func timeLeft(due, now time.Time) string {
	d := due.Sub(now)
	if d > 0 {
		return "due in " + span(d)
	}
	return "overdue by " + span(-d)
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than 1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// check returns the journey.Check of a page's action: the journey must be
// of a patient the person reaches (else it is not found), and the action
// is recorded in the audit log in its own transaction, as the API does.
func (p *Pages) check(ctx context.Context, pr *fhir.Principal, what string) journey.Check {
	rc := journey.ReachOf(pr)
	return func(tx *sql.Tx, j *journey.Journey) error {
		if !rc.Reaches(j.PatientID) {
			return errs.NotFoundf("journey %s is not known", j.ID)
		}
		acc := journey.Access{Action: "update", What: what}
		addAccess(&acc, j)
		return p.JourneyAudit.RecordTx(ctx, tx, pr, acc)
	}
}

// fieldWords name the actions' fields in the words of their error
// messages.
var fieldWords = map[string]string{"note": "The note", "text": "The comment", "reason": "The reason", "until": "The end of the hold"}

// actionDone answers an action: back to the journey with a confirmation;
// for bad input, the journey again with the error on its field (or on
// field); for an action the journey's state does not allow (a conflict:
// nothing to acknowledge or release yet, released already), the journey
// as it now is with the reason at the top; anything else, the error page.
func (p *Pages) actionDone(w http.ResponseWriter, r *http.Request, u *who, f resultPage, field, confirmation string, err error) {
	if err == nil {
		pweb.SetFlash(w, "success", confirmation)
		seeOther(w, r, "/staff/results/"+url.PathEscape(r.PathValue("id")))
		return
	}
	e := &pweb.FormErrors{}
	switch safe := errs.Safe(err); errs.CodeOf(err) {
	case errs.Invalid:
		msg := safe.Message
		if safe.Field != "" {
			field = safe.Field
			if name, ok := fieldWords[field]; ok {
				msg = name + " " + strings.TrimSuffix(msg, ".") + "."
			}
		}
		e.Add(field, msg)
	case errs.Conflict:
		e.Add("", safe.Message)
	default:
		p.fail(w, r, err)
		return
	}
	p.showResult(w, r, statusOf(err), u, f, e)
}

const onlyClinicians = "Only clinicians acknowledge, release or hold results."

// clinicianAction returns the person of an action only clinicians take;
// anyone else gets the 403 page.
func (p *Pages) clinicianAction(w http.ResponseWriter, r *http.Request, u *who) (*fhir.Principal, bool) {
	if u.Account.Role != identity.RoleClinician {
		p.r.Error(w, r, http.StatusForbidden, onlyClinicians)
		return nil, false
	}
	return p.principal(w, r)
}

// acknowledgeResult records a clinician's review (for a critical result,
// the acknowledgement), with an optional note.
func (p *Pages) acknowledgeResult(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.clinicianAction(w, r, u)
	if !ok {
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	err := p.Journeys.Acknowledge(r.Context(), pr.OrgID, r.PathValue("id"), pr.Subject, note, p.check(r.Context(), pr, "acknowledge"))
	p.actionDone(w, r, u, resultPage{Note: note}, "note", "The result is acknowledged: its review is recorded and any escalation is stopped.", err)
}

// commentResult adds a care-team comment to the journey.
func (p *Pages) commentResult(w http.ResponseWriter, r *http.Request, u *who) {
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" {
		e := &pweb.FormErrors{}
		e.Add("text", "Write a comment first.")
		p.showResult(w, r, http.StatusBadRequest, u, resultPage{}, e)
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	err := p.Journeys.Comment(r.Context(), pr.OrgID, r.PathValue("id"), pr.Subject, text, p.check(r.Context(), pr, "comment"))
	p.actionDone(w, r, u, resultPage{Text: text}, "text", "Your comment is added to the timeline.", err)
}

// releaseResult releases the final result to the patient now, ending any
// hold.
func (p *Pages) releaseResult(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.clinicianAction(w, r, u)
	if !ok {
		return
	}
	err := p.Journeys.Release(r.Context(), pr.OrgID, r.PathValue("id"), pr.Subject, p.check(r.Context(), pr, "release"))
	p.actionDone(w, r, u, resultPage{}, "", "The result is released to the patient.", err)
}

// holdTimeLayout is the value of an <input type="datetime-local">, read
// in UTC as every time on the pages.
const holdTimeLayout = "2006-01-02T15:04"

// holdResult keeps the result from the patient until a time, for a reason.
func (p *Pages) holdResult(w http.ResponseWriter, r *http.Request, u *who) {
	if u.Account.Role != identity.RoleClinician {
		p.r.Error(w, r, http.StatusForbidden, onlyClinicians)
		return
	}
	f := resultPage{HoldReason: strings.TrimSpace(r.PostFormValue("reason")), Until: strings.TrimSpace(r.PostFormValue("until"))}
	e := &pweb.FormErrors{}
	if f.HoldReason == "" {
		e.Add("reason", "Write why the result is held, for example \"sensitive pathology, to discuss first\".")
	}
	until, perr := time.ParseInLocation(holdTimeLayout, f.Until, time.UTC)
	if perr != nil { // browsers send seconds when the field has a step below a minute
		until, perr = time.ParseInLocation(holdTimeLayout+":05", f.Until, time.UTC)
	}
	switch {
	case f.Until == "":
		e.Add("until", "Enter until when the result is held (UTC).")
	case perr != nil:
		e.Add("until", "Enter the end of the hold as a date and time, for example 2026-03-01T09:00.")
	}
	if e.Any() {
		p.showResult(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	err := p.Journeys.Hold(r.Context(), pr.OrgID, r.PathValue("id"), pr.Subject, f.HoldReason, until, p.check(r.Context(), pr, "hold"))
	p.actionDone(w, r, u, f, "until", "The result is held until "+showTime(until)+".", err)
}
