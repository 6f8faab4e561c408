package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// staffMessagesPage is the data of the care team's message lists: the
// delivery queue (/staff/messages) and a patient's history
// (/staff/patients/{id}/messages).
type staffMessagesPage struct {
	Intro string
	// Filters: the queue's filter form (state, channel, patient).
	Filters                 bool
	State, Channel, Patient formField
	Rows                    []staffMessageRow
	// CanRetry: the person's role sends failed messages again.
	CanRetry bool
	// Back is this page, where a retry comes back to.
	Back        string
	Next, First string
	Empty       string
}

// staffMessageRow is one message of a list.
type staffMessageRow struct {
	ID, At, ISO, Patient, PatientHref, Kind, Channel, State string
	// Problem is what went wrong, in the provider's or careloop's words.
	Problem                      wrapText
	Attempts                     int
	Troubled, Retryable, Bounced bool
}

// failuresFilter is the queue's default: the messages that failed or
// bounced, which the care team should act on.
const failuresFilter = "failures"

// staffMessages lists the messages of the patients the person reaches,
// newest first: by default the failure queue (failed and bounced), else
// as filtered by state, channel and patient. The view is audited like the
// notifications' API; when the entry cannot be stored the page is refused.
func (p *Pages) staffMessages(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	e := &pweb.FormErrors{}
	state := q.Get("state")
	if state == "" {
		state = failuresFilter
	}
	f := notify.Filter{Channel: q.Get("channel"), Cursor: q.Get("cursor")}
	switch {
	case state == failuresFilter:
		f.States = []string{notify.Failed, notify.Bounced}
	case state == "any":
	case filterable(state):
		f.States = []string{state}
	default:
		e.Add("state", "Choose a state from the list.")
	}
	if f.Channel != "" && channelNames[f.Channel] == "" {
		e.Add("channel", "Choose a channel from the list.")
	}
	patient := strings.TrimSpace(q.Get("patient"))
	f.PatientID = strings.TrimPrefix(patient, "Patient/")
	var err error
	if f.Count, err = pageSize(q.Get("count")); err != nil {
		e.Add("", errs.MessageOf(err))
	}
	v := staffMessagesPage{Filters: true, CanRetry: slices.Contains(messageSenders, u.Account.Role), Back: r.URL.RequestURI(),
		Intro: "Messages to your patients and their delivery. By default, the ones that failed or bounced: each needs someone to act."}
	v.State = formField{ID: "state", Name: "state", Label: "State", Options: []option{{Value: failuresFilter, Label: "Failed or bounced", Selected: state == failuresFilter},
		{Value: "any", Label: "Any state", Selected: state == "any"}}}.withError(e)
	for _, s := range stateNames {
		if s.state != "read" {
			v.State.Options = append(v.State.Options, option{Value: s.state, Label: s.words, Selected: s.state == state})
		}
	}
	v.Channel = formField{ID: "channel", Name: "channel", Label: "Channel", Options: options(f.Channel, "", "Any channel",
		notify.Email, "Email", notify.SMS, "Text message", notify.InApp, "Inbox")}.withError(e)
	v.Patient = formField{ID: "patient", Name: "patient", Label: "Patient (optional)", Type: "text", Value: patient,
		Hint: "The record's id, for example Patient/123."}.withError(e)
	if e.Any() {
		data := p.staffMessagesData(w, r, "Message delivery", v)
		data.Errors = e
		p.r.Page(w, r, http.StatusBadRequest, "staff-messages", data)
		return
	}
	what := "messages"
	if state == failuresFilter {
		what, v.Empty = "failures", "No message has failed or bounced. When one does, it appears here with what went wrong."
	} else {
		v.Empty = "No message matches."
	}
	p.listMessages(w, r, pr, f, what, "/staff/messages", "Message delivery", v)
}

// patientMessages lists every message about one patient the person
// reaches; any other is the 404 page.
func (p *Pages) patientMessages(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if patients, limited := messageReach(pr); limited && !slices.Contains(patients, id) {
		p.fail(w, r, errs.NotFoundf("There is no patient %s in your reach.", id))
		return
	}
	count, err := pageSize(r.URL.Query().Get("count"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	names, err := p.Access.PatientNames(r.Context(), pr.OrgID, []string{id})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f := notify.Filter{PatientID: id, Cursor: r.URL.Query().Get("cursor"), Count: count}
	v := staffMessagesPage{CanRetry: slices.Contains(messageSenders, u.Account.Role), Back: r.URL.RequestURI(),
		Intro: "Every message careloop sent about this patient, to them or to the care team, newest first, with its delivery.",
		Empty: "careloop has sent no message about this patient."}
	p.listMessages(w, r, pr, f, "patient-messages", "/staff/patients/"+url.PathEscape(id)+"/messages",
		"Messages about "+patientLabel(names, id), v)
}

// listMessages shows one page of the messages f selects within the
// person's reach, after recording the view as what.
func (p *Pages) listMessages(w http.ResponseWriter, r *http.Request, pr *fhir.Principal, f notify.Filter, what, path, title string, v staffMessagesPage) {
	ctx := r.Context()
	f.Patients, f.Limited = messageReach(pr)
	msgs, next, err := p.Notify.Messages(ctx, pr.OrgID, f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var ids []string
	for _, m := range msgs {
		if m.PatientID != "" {
			ids = append(ids, m.PatientID)
		}
	}
	names, err := p.Access.PatientNames(ctx, pr.OrgID, ids)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.NotifyAudit.Record(ctx, pr, messageAccess("read", what, msgs)); err != nil {
		p.fail(w, r, err)
		return
	}
	for _, m := range msgs {
		v.Rows = append(v.Rows, messageRow(&m, names))
	}
	link := r.URL.Query()
	link.Del("cursor")
	if f.Cursor != "" {
		v.First = withQuery(path, link)
	}
	if next != "" {
		link.Set("cursor", next)
		v.Next = withQuery(path, link)
	}
	p.r.Page(w, r, http.StatusOK, "staff-messages", p.staffMessagesData(w, r, title, v))
}

// messageRow words a message for the care team's lists.
func messageRow(m *notify.Message, names map[string]string) staffMessageRow {
	row := staffMessageRow{ID: m.ID, At: showTime(m.CreatedAt), ISO: m.CreatedAt.UTC().Format(time.RFC3339), Kind: messageKindWords(m.Kind),
		Channel: channelWords(m.Channel), State: stateWords(m.State), Problem: breakable(m.LastError), Attempts: m.Attempts,
		Troubled: troubled(m.State), Retryable: m.State == notify.Failed && m.Channel != notify.InApp, Bounced: m.State == notify.Bounced}
	if m.PatientID != "" {
		row.Patient = patientLabel(names, m.PatientID)
		row.PatientHref = "/staff/patients/" + url.PathEscape(m.PatientID) + "/messages"
	}
	return row
}

// staffMessagePage is the data of /staff/messages/{id}.
type staffMessagePage struct {
	staffMessageRow
	Facts      []fact
	Paragraphs [][]wrapText
	Subject    string
	Timeline   []statusRow
	CanRetry   bool
	Back       string
}

// statusRow is one step of a message's delivery.
type statusRow struct {
	ISO, At, What string
	Note          wrapText
}

// visibleMessage returns message id when the person reaches its patient;
// any other (unknown, another organisation's, of a patient out of reach)
// is not found, as in the notifications' API.
func (p *Pages) visibleMessage(ctx context.Context, pr *fhir.Principal, id string) (notify.Message, error) {
	m, err := p.Notify.Message(ctx, pr.OrgID, id)
	if err != nil {
		return m, err
	}
	if patients, limited := messageReach(pr); !reachesMessage(patients, limited, &m) {
		return notify.Message{}, errs.NotFoundf("There is no message %s.", id)
	}
	return m, nil
}

// staffMessage shows one message with its delivery timeline.
func (p *Pages) staffMessage(w http.ResponseWriter, r *http.Request, u *who) {
	p.showStaffMessage(w, r, http.StatusOK, u, nil)
}

func (p *Pages) showStaffMessage(w http.ResponseWriter, r *http.Request, status int, u *who, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := p.visibleMessage(ctx, pr, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var names map[string]string
	if m.PatientID != "" {
		if names, err = p.Access.PatientNames(ctx, pr.OrgID, []string{m.PatientID}); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	if err := p.NotifyAudit.Record(ctx, pr, messageAccess("read", "message", []notify.Message{m})); err != nil {
		p.fail(w, r, err)
		return
	}
	people := accountNames{p: p, orgID: pr.OrgID}
	v := staffMessagePage{staffMessageRow: messageRow(&m, names), Subject: m.Subject, Paragraphs: paragraphs(m.Body),
		CanRetry: slices.Contains(messageSenders, u.Account.Role), Back: "/staff/messages/" + url.PathEscape(m.ID)}
	at := func(label string, t *time.Time) {
		if t != nil {
			v.Facts = append(v.Facts, fact{Label: label, Value: showTime(*t), ISO: t.UTC().Format(time.RFC3339)})
		}
	}
	add := func(label, value string) {
		if value != "" {
			v.Facts = append(v.Facts, fact{Label: label, Value: value})
		}
	}
	add("To", m.Recipient)
	add("Address", m.Address)
	add("Language", map[string]string{"en": "English", "es": "Spanish"}[m.Lang])
	add("Attempts", strconv.Itoa(m.Attempts))
	add("Provider", m.Provider)
	add("Provider's reference", m.ProviderRef)
	at("Created", &m.CreatedAt)
	if m.State == notify.Queued || m.State == notify.Held {
		at("Due", m.DueAt)
	}
	at("Sent", m.SentAt)
	at("Delivered", m.DeliveredAt)
	at("Opened", m.OpenedAt)
	at("Read", m.ReadAt)
	for _, st := range m.Timeline {
		row := statusRow{ISO: st.At.UTC().Format(time.RFC3339), At: showTime(st.At), What: stateWords(st.State)}
		note, err := namePeople(ctx, &people, st.Detail)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		row.Note = breakable(note)
		v.Timeline = append(v.Timeline, row)
	}
	data := p.staffMessagesData(w, r, "Message: "+v.Kind, v)
	data.Errors = e
	p.r.Page(w, r, status, "staff-message", data)
}

// namePeople replaces the accounts a timeline's detail names
// ("account/ID") with their names.
func namePeople(ctx context.Context, people *accountNames, detail string) (string, error) {
	words := strings.Fields(detail)
	changed := false
	for i, w := range words {
		id, ok := strings.CutPrefix(strings.TrimRight(w, ".,;)"), "account/")
		if !ok || id == "" {
			continue
		}
		name, err := people.name(ctx, id)
		if err != nil {
			return "", err
		}
		words[i], changed = strings.Replace(w, "account/"+id, name, 1), true
	}
	if !changed {
		return detail, nil
	}
	return strings.Join(words, " "), nil
}

// retryMessage sends a failed message again on its channel, now, and
// returns to the page it was asked from. Compliance officers read
// messages but do not send them (the 403 page); a message out of reach is
// the 404 page; one that cannot be sent again (bounced, not failed) is
// shown with the service's reason.
func (p *Pages) retryMessage(w http.ResponseWriter, r *http.Request, u *who) {
	if !slices.Contains(messageSenders, u.Account.Role) {
		p.r.Error(w, r, http.StatusForbidden, "Your role may read messages but not send them again.")
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := p.visibleMessage(ctx, pr, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.NotifyAudit.Record(ctx, pr, messageAccess("update", "retry", []notify.Message{m})); err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.Notify.Retry(ctx, pr.OrgID, m.ID, pr.Subject); err != nil {
		if errs.CodeOf(err) != errs.Conflict {
			p.fail(w, r, err)
			return
		}
		e := &pweb.FormErrors{}
		e.Add("", errs.MessageOf(err))
		p.showStaffMessage(w, r, http.StatusConflict, u, e)
		return
	}
	back, ok := pweb.LocalPath(r.PostFormValue("back"))
	if !ok || !strings.HasPrefix(back, "/staff/") {
		back = "/staff/messages/" + url.PathEscape(m.ID)
	}
	pweb.SetFlash(w, "success", "The "+strings.ToLower(channelWords(m.Channel))+" is queued to be sent again now.")
	seeOther(w, r, back)
}
