package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/i18n"
	"github.com/careloop/careloop/internal/portal/explain"
)

// resultItem is one test in a list: the results page, the home page.
type resultItem struct {
	ID        string
	Anchor    string // the resource the journey follows
	Test      string
	PatientID string
	Patient   string // whose test, when the reader sees several records
	Stage     journey.Stage
	Released  bool
	Viewed    bool
	// Flag is "normal", "abnormal", "critical" or "unknown" once the
	// result is shared with the patient; "" before.
	Flag     string
	At       time.Time // when the result arrived, else when the test was ordered
	ETA      *journey.ETA
	FollowUp bool // a follow-up is recommended
	Closed   bool
	// New: shared with the patient, not read yet, and news (imported
	// history is not).
	New bool
}

// Waiting reports whether the result is not shared yet.
func (i resultItem) Waiting() bool { return !i.Released && !i.Closed }

func itemOf(u *person, j *journey.Journey, eta *journey.ETA) resultItem {
	it := resultItem{ID: j.ID, Anchor: j.Anchor, Test: testName(u, j), PatientID: j.PatientID, Stage: j.Stage,
		Released: j.ReleasedAt != nil, Viewed: j.ViewedAt != nil, At: j.OpenedAt, ETA: eta,
		FollowUp: j.FollowupAt != nil, Closed: j.Stage == journey.Cancelled || j.Stage == journey.EnteredInError}
	if j.ResultAt != nil {
		it.At = *j.ResultAt
	}
	if it.Released {
		it.Flag = j.Flag.String()
		it.New = !it.Viewed && !j.Historical()
	}
	if u.Several() {
		it.Patient = u.Name(j.PatientID)
	}
	return it
}

// testName is what a test is called for u: the laboratory's name, which
// laboratories send in English; for a reader of another language the
// name careloop's explanation of the test gives in it, where there is one.
func testName(u *person, j *journey.Journey) string {
	if u.l.Lang() != i18n.Default && j.Code != "" {
		if e, ok := explain.Lookup(j.Code, u.l.Lang()); ok {
			return e.Name
		}
	}
	return cmp.Or(j.Display, j.Code)
}

// journeys returns the tests of the patients u reaches, newest first, one
// page, with the ETAs of those waiting, and records the read.
func (p *Pages) journeys(ctx context.Context, u *person, cursor string, count int) ([]resultItem, []journey.Journey, string, error) {
	if len(u.reach) == 0 {
		return nil, nil, "", nil
	}
	js, _, next, err := p.Journeys.OfPatients(ctx, u.p.OrgID, u.reach, cursor, count)
	if err != nil {
		return nil, nil, "", err
	}
	ptrs := make([]*journey.Journey, len(js))
	acc := journey.Access{Action: "read", What: "portal-results"}
	for i := range js {
		ptrs[i] = &js[i]
		acc.Journeys = append(acc.Journeys, js[i].ID)
		if !slices.Contains(acc.Patients, js[i].PatientID) {
			acc.Patients = append(acc.Patients, js[i].PatientID)
		}
	}
	etas, err := p.Journeys.ETAs(ctx, u.p.OrgID, ptrs)
	if err != nil {
		return nil, nil, "", err
	}
	if err := p.JourneyAudit.Record(ctx, u.p, acc); err != nil {
		return nil, nil, "", err
	}
	when, err := p.clinicalTimes(ctx, u, js)
	if err != nil {
		return nil, nil, "", err
	}
	items := make([]resultItem, len(js))
	for i := range js {
		items[i] = itemOf(u, &js[i], etas[js[i].ID])
		if t, ok := when[js[i].ID]; ok {
			items[i].At = t
		}
	}
	return items, js, next, nil
}

// clinicalTimes returns, per journey, the time its report or result was
// issued or taken, else when its order was written: what a person means
// by the date of a test. (A journey's own times are when careloop heard
// of it, which for imported history is the day of the import.) It reads
// the resources with one search per type, and records the read.
func (p *Pages) clinicalTimes(ctx context.Context, u *person, js []journey.Journey) (map[string]time.Time, error) {
	byRef := map[string][]string{} // "Type/id" → journey ids
	ids := map[string][]string{}   // type → ids
	for i := range js {
		ref := cmp.Or(js[i].ReportRef, js[i].Anchor)
		typ, id, ok := strings.Cut(ref, "/")
		if !ok {
			continue
		}
		if len(byRef[ref]) == 0 {
			ids[typ] = append(ids[typ], id)
		}
		byRef[ref] = append(byRef[ref], js[i].ID)
	}
	out := map[string]time.Time{}
	for typ, list := range ids {
		q := url.Values{"_id": {strings.Join(list, ",")}, "_count": {strconv.Itoa(len(list))}}
		res, err := p.Records.Search(ctx, u.p.OrgID, typ, q, false)
		if err != nil {
			return nil, err
		}
		if err := p.Audit.Record(ctx, u.p, fhir.AuditEvent{Interaction: fhir.InteractionSearch, Type: typ, Query: q.Encode(), Resources: res.Matches}); err != nil {
			return nil, err
		}
		for _, st := range res.Matches {
			var v struct {
				EffectiveDateTime string `json:"effectiveDateTime"`
				Issued            string `json:"issued"`
				AuthoredOn        string `json:"authoredOn"`
			}
			if json.Unmarshal(st.JSON, &v) != nil {
				continue
			}
			if t := firstTime(v.EffectiveDateTime, v.Issued, v.AuthoredOn); !t.IsZero() {
				for _, id := range byRef[st.Ref()] {
					out[id] = t
				}
			}
		}
	}
	return out, nil
}

// homePage is "what needs your attention".
type homePage struct {
	Name      string
	Urgent    []resultItem // new results flagged abnormal or critical
	New       []resultItem // other new results
	FollowUps []booking.FollowUp
	Upcoming  []booking.Appointment
	Waiting   []resultItem
	Unread    int
	NoRecord  bool // a patient whose account is not linked to a record yet, or a caregiver given none
	Caregiver bool
	D         dates
}

// Nothing reports whether nothing needs attention.
func (h homePage) Nothing() bool {
	return len(h.Urgent)+len(h.New)+len(h.FollowUps)+len(h.Upcoming)+len(h.Waiting)+h.Unread == 0
}

func (p *Pages) home(w http.ResponseWriter, r *http.Request, u *person) {
	ctx := r.Context()
	h := homePage{Name: firstName(u.account.DisplayName), NoRecord: len(u.reach) == 0, Caregiver: u.caregiver(), D: p.dates(ctx, u)}
	items, _, _, err := p.journeys(ctx, u, "", 100)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	var fus []booking.FollowUp
	if p.Booking != nil && len(u.reach) > 0 {
		if fus, err = p.Booking.FollowUps(ctx, u.p); err != nil {
			p.fail(w, r, u, err)
			return
		}
	}
	visits := visitOrders(fus)
	for _, it := range items {
		switch {
		case visits[it.Anchor]:
			// A follow-up visit is booked, not awaited like a result.
		case it.New && (it.Flag == "abnormal" || it.Flag == "critical"):
			h.Urgent = append(h.Urgent, it)
		case it.New:
			h.New = append(h.New, it)
		case it.Waiting():
			h.Waiting = append(h.Waiting, it)
		}
	}
	for _, f := range fus {
		if f.Appointment == nil {
			h.FollowUps = append(h.FollowUps, f)
		}
	}
	if p.Booking != nil && len(u.reach) > 0 {
		apps, err := p.Booking.Appointments(ctx, u.p)
		if err != nil {
			p.fail(w, r, u, err)
			return
		}
		now := p.Now()
		for _, a := range apps {
			if a.Status == "booked" && a.Start.After(now) {
				h.Upcoming = append(h.Upcoming, a)
			}
		}
	}
	inboxes, err := p.Inboxes.Inboxes(ctx, u.p)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	if len(inboxes) > 0 {
		if h.Unread, err = p.Inbox.Unread(ctx, u.p.OrgID, inboxes); err != nil {
			p.fail(w, r, u, err)
			return
		}
	}
	p.page(w, r, u, http.StatusOK, "home", u.l.T("home.title"), h, nil)
}

// resultsPage lists every test.
type resultsPage struct {
	Released  []resultItem
	Waiting   []resultItem
	Next      string
	NoRecord  bool
	Caregiver bool
	D         dates
}

func (p *Pages) results(w http.ResponseWriter, r *http.Request, u *person) {
	items, _, next, err := p.journeys(r.Context(), u, r.URL.Query().Get("cursor"), 50)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	var fus []booking.FollowUp
	if p.Booking != nil && len(u.reach) > 0 {
		if fus, err = p.Booking.FollowUps(r.Context(), u.p); err != nil {
			p.fail(w, r, u, err)
			return
		}
	}
	visits := visitOrders(fus)
	page := resultsPage{Next: next, NoRecord: len(u.reach) == 0, Caregiver: u.caregiver(), D: p.dates(r.Context(), u)}
	for _, it := range items {
		switch {
		case visits[it.Anchor]:
		case it.Released:
			page.Released = append(page.Released, it)
		case it.Waiting():
			page.Waiting = append(page.Waiting, it)
		}
	}
	p.page(w, r, u, http.StatusOK, "results", u.l.T("results.title"), page, nil)
}

// visitOrders returns the follow-up orders ("ServiceRequest/id") among
// fus: their journeys are visits to book, not results to wait for.
func visitOrders(fus []booking.FollowUp) map[string]bool {
	out := make(map[string]bool, len(fus))
	for _, f := range fus {
		out[f.OrderRef] = true
	}
	return out
}

// firstName is the first word of a display name.
func firstName(name string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(name), " ")
	return first
}

// dates returns how u reads times: their language, and their zone (their
// preference, else the organisation's).
func (p *Pages) dates(ctx context.Context, u *person) dates {
	loc := time.UTC
	if pol, err := p.Journeys.Policy(ctx, u.p.OrgID); err == nil && pol.TimeZone != "" {
		if l, err := time.LoadLocation(pol.TimeZone); err == nil {
			loc = l
		}
	}
	return dates{l: u.l, loc: loc}
}
