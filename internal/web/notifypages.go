package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/templates"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// The pages about messages (the inbox, preferences, the links in messages,
// the care team's message pages and the administrators' texts and
// providers) share this file: what they need of the notification service,
// who may use them, and how they word states, channels and kinds.

// Notifications is what the pages about messages need of careloop's
// notification service; *notify.Service is one.
type Notifications interface {
	Messages(ctx context.Context, orgID string, f notify.Filter) ([]notify.Message, string, error)
	Message(ctx context.Context, orgID, id string) (notify.Message, error)
	Retry(ctx context.Context, orgID, id, by string) error
	MarkRead(ctx context.Context, orgID, id string, recipients []string) error
	Unread(ctx context.Context, orgID string, recipients []string) (int, error)
	Preferences(ctx context.Context, orgID, recipient string) (notify.Preferences, error)
	SetPreferences(ctx context.Context, orgID, recipient string, p notify.Preferences, by string) error
	OpenLink(ctx context.Context, token string) (string, error)
	UnsubscribeLink(ctx context.Context, token string) (string, error)
	Suppressions(ctx context.Context, orgID string) ([]notify.Suppression, error)
	Unsuppress(ctx context.Context, orgID, channel, address string) error
	Templates(ctx context.Context, orgID string) ([]notify.TemplateView, error)
	SetTemplate(ctx context.Context, orgID string, t templates.Template, by string) error
	DeleteTemplate(ctx context.Context, orgID string, k templates.Key) error
	Preview(ctx context.Context, orgID string, k templates.Key, draft *templates.Template, withDetail bool) (templates.Rendered, error)
	SendTest(ctx context.Context, orgID, channel, to, lang string) (string, error)
}

// NotifyProviders keeps the organisations' email and SMS providers;
// *notify.Providers is one. Secrets go in and never come out.
type NotifyProviders interface {
	Get(ctx context.Context, orgID string) ([]notify.ProviderSettings, error)
	Set(ctx context.Context, orgID string, ps notify.ProviderSettings, by string, now time.Time) error
	Remove(ctx context.Context, orgID, channel string) error
}

// Who may use the care team's message pages: the roles of the
// notifications' JSON API.
var (
	messageReaders  = notify.HistoryRoles
	messageSenders  = notify.CareTeamRoles
	notifyAdmins    = notify.AdminRoles
	suppressionLift = notify.UnsuppressRoles
)

// notifyServed reports whether the inbox, the preferences and the care
// team's and administrators' message pages are served.
func (p *Pages) notifyServed() bool {
	return p.Access != nil && p.Notify != nil && p.Inboxes != nil && p.NotifyAudit != nil
}

// inboxOf returns the person of the request as the policy sees them and
// the recipients whose in-app messages they own (none for a patient whose
// account has no record yet), or answers with the error page.
func (p *Pages) inboxOf(w http.ResponseWriter, r *http.Request) (*fhir.Principal, []string, bool) {
	pr, ok := p.principal(w, r)
	if !ok {
		return nil, nil, false
	}
	boxes, err := p.Inboxes.Inboxes(r.Context(), pr)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	return pr, boxes, true
}

// messageReach returns the patients whose messages pr may see (limited
// false: every patient of the organisation), as the notifications' API
// decides it.
func messageReach(pr *fhir.Principal) (patients []string, limited bool) {
	if pr.Compartments == nil {
		return nil, false
	}
	return pr.Compartments("Communication")
}

// reachesMessage reports whether a reader of reach sees m: a limited
// reader only the messages about the patients they reach.
func reachesMessage(patients []string, limited bool, m *notify.Message) bool {
	return !limited || (m.PatientID != "" && slices.Contains(patients, m.PatientID))
}

// messageAccess is the audited access to a list of messages: their ids
// and, each once, their patients.
func messageAccess(action, what string, msgs []notify.Message) notify.Access {
	acc := notify.Access{Action: action, What: what}
	for _, m := range msgs {
		acc.Messages = append(acc.Messages, m.ID)
		if m.PatientID != "" && !slices.Contains(acc.Patients, m.PatientID) {
			acc.Patients = append(acc.Patients, m.PatientID)
		}
	}
	return acc
}

// inboxData is the layout data of a page about the person's own messages
// (the inbox, a message, the preferences): a patient's or caregiver's in
// their language with their navigation, staff's in English with the
// account's navigation and the inbox first.
func (p *Pages) inboxData(w http.ResponseWriter, r *http.Request, u *who, title string, body any) pweb.Data {
	d := p.personData(w, r, u, title, body)
	if isStaff(u.Account.Role) {
		d.Nav = append([]pweb.Nav{{Href: "/account/messages", Label: "Messages", Current: r.URL.Path == "/account/messages"}}, d.Nav...)
	}
	return d
}

// staffMessagesData is the layout data of a care team's message page.
func (p *Pages) staffMessagesData(w http.ResponseWriter, r *http.Request, title string, body any) pweb.Data {
	d := p.data(w, r, title, body)
	d.Nav = append([]pweb.Nav{{Href: "/staff/messages", Label: "Message delivery", Current: r.URL.Path == "/staff/messages"}}, d.Nav...)
	return d
}

// stateNames are the states of messages as people say them, in the order
// the filter lists them.
var stateNames = []struct{ state, words string }{
	{notify.Failed, "Failed"},
	{notify.Bounced, "Bounced: address refused it"},
	{notify.Queued, "Waiting to be sent"},
	{notify.Standby, "Fallback, waiting"},
	{notify.Held, "Held for the daily summary"},
	{notify.Sending, "Being sent"},
	{notify.Sent, "Sent"},
	{notify.Delivered, "Delivered"},
	{notify.Opened, "Opened"},
	{notify.Suppressed, "Not sent: address stopped"},
	{notify.Skipped, "Not needed"},
	{notify.Digested, "Sent in a daily summary"},
	{"read", "Read"},
}

// filterable reports whether state is a state of messages the queue
// filters by ("read" is a step of the timeline, not a state).
func filterable(state string) bool {
	return state != "read" && slices.ContainsFunc(stateNames, func(s struct{ state, words string }) bool { return s.state == state })
}

func stateWords(state string) string {
	for _, s := range stateNames {
		if s.state == state {
			return s.words
		}
	}
	return state
}

// troubled reports whether a state is one the care team should act on.
func troubled(state string) bool { return state == notify.Failed || state == notify.Bounced }

var channelNames = map[string]string{notify.Email: "Email", notify.SMS: "Text message", notify.InApp: "Inbox"}

func channelWords(ch string) string { return cmp.Or(channelNames[ch], ch) }

// messageKindWords names a kind of message by its description, without the
// final stop.
func messageKindWords(kind string) string {
	if info, ok := templates.Lookup(templates.Kind(kind)); ok {
		return strings.TrimSuffix(info.Description, ".")
	}
	return kind
}

// wrapText is text in pieces between which a browser may break a line
// (the template "wrap" puts a <wbr> there): long links and error texts
// then fit a phone's screen.
type wrapText []string

// breakable cuts text into a wrapText: after 20 characters without a
// space, or after a "/", "?", "&" or "=" once 8 have gone by.
func breakable(text string) wrapText {
	var out wrapText
	var cur strings.Builder
	run := 0
	for _, r := range text {
		cur.WriteRune(r)
		if unicode.IsSpace(r) {
			run = 0
			continue
		}
		run++
		if run >= 20 || (run >= 8 && strings.ContainsRune("/?&=", r)) {
			out, run = append(out, cur.String()), 0
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// paragraphs splits a message's text into paragraphs (at blank lines) of
// lines, for the page to keep its shape without styles.
func paragraphs(text string) [][]wrapText {
	var out [][]wrapText
	for _, para := range strings.Split(strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para == "" {
			continue
		}
		var lines []wrapText
		for _, line := range strings.Split(para, "\n") {
			lines = append(lines, breakable(line))
		}
		out = append(out, lines)
	}
	return out
}

// accountMessages is the messages' part of /account: the unread count of
// the person's inbox.
type accountMessages struct {
	Unread int
}

// accountNotify returns the messages' part of /account for the person
// (nil when the pages are not served or the person has no inbox yet) and
// the care team's message pages their role opens.
func (p *Pages) accountNotify(r *http.Request, u *who) (*accountMessages, []staffLink, error) {
	if !p.notifyServed() {
		return nil, nil, nil
	}
	var links []staffLink
	role := u.Account.Role
	if slices.Contains(messageReaders, role) {
		links = append(links, staffLink{"/staff/messages", "Message delivery: messages that failed"})
	}
	if slices.Contains(messageSenders, role) {
		links = append(links, staffLink{"/staff/notify/suppressions", "Addresses that get no messages"})
	}
	if slices.Contains(notifyAdmins, role) {
		links = append(links, staffLink{"/staff/notify/templates", "Texts of messages"})
		if p.NotifyProviders != nil {
			links = append(links, staffLink{"/staff/notify/providers", "Email and text message providers"})
		}
	}
	pr, err := p.Access.Authenticate(r)
	if err != nil {
		return nil, nil, err
	}
	boxes, err := p.Inboxes.Inboxes(r.Context(), pr)
	if err != nil || len(boxes) == 0 {
		return nil, links, err
	}
	n, err := p.Notify.Unread(r.Context(), pr.OrgID, boxes)
	if err != nil {
		return nil, nil, err
	}
	return &accountMessages{Unread: n}, links, nil
}
