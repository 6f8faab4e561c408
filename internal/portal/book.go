package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// bookWindow is how many days of free times one page offers.
const bookWindow = 14

// bookPage is choosing a time for a follow-up, or a new time for an
// appointment (Reschedule set).
type bookPage struct {
	FollowUp   *booking.FollowUp
	Reschedule *booking.Appointment
	Days       []slotDay
	Week       int // pages of bookWindow days after today
	From, To   time.Time
	Chosen     string
	D          dates
}

type slotDay struct {
	Day   time.Time
	Slots []booking.Slot
}

// Earlier reports whether there is an earlier page of times.
func (b bookPage) Earlier() bool { return b.Week > 0 }

// Later reports whether a later page of times may be offered (booking
// reaches 84 days ahead).
func (b bookPage) Later() bool { return b.Week < 5 }

// bookingOf reads the follow-up and, when rescheduling, the appointment a
// booking page is about, from the request.
func (p *Pages) bookingOf(r *http.Request, u *person, q url.Values) (*booking.FollowUp, *booking.Appointment, error) {
	var appt *booking.Appointment
	order := q.Get("order")
	if id := q.Get("reschedule"); id != "" {
		a, err := p.Booking.Appointment(r.Context(), u.p, id)
		if err != nil {
			return nil, nil, err
		}
		if a.Status != "booked" {
			return nil, nil, errs.Conflictf("%s", u.l.T("book.notbooked"))
		}
		appt, order = a, a.OrderRef
	}
	if order == "" {
		return nil, nil, errs.NotFoundf("no follow-up named")
	}
	f, err := p.Booking.FollowUp(r.Context(), u.p, order)
	if err != nil {
		return nil, nil, err
	}
	return f, appt, nil
}

func (p *Pages) chooseSlot(w http.ResponseWriter, r *http.Request, u *person) {
	p.showSlots(w, r, u, http.StatusOK, r.URL.Query(), nil)
}

func (p *Pages) showSlots(w http.ResponseWriter, r *http.Request, u *person, status int, q url.Values, e *pweb.FormErrors) {
	f, appt, err := p.bookingOf(r, u, q)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	if appt == nil && f.Appointment != nil {
		// Already booked: show it rather than book twice.
		http.Redirect(w, r, "/appointments/"+url.PathEscape(f.Appointment.ID), http.StatusSeeOther)
		return
	}
	week, _ := strconv.Atoi(q.Get("week"))
	week = min(max(week, 0), 5)
	d := p.dates(r.Context(), u)
	y, m, dd := p.Now().In(d.loc).Date()
	from := time.Date(y, m, dd, 0, 0, 0, 0, d.loc).AddDate(0, 0, week*bookWindow)
	to := from.AddDate(0, 0, bookWindow)
	slots, err := p.Booking.Slots(r.Context(), u.p, f.OrderRef, from, to)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	page := bookPage{FollowUp: f, Reschedule: appt, Week: week, From: from, To: to.AddDate(0, 0, -1), Chosen: q.Get("slot"), D: d}
	for _, s := range slots {
		day := d.Day(s.Start)
		if n := len(page.Days); n == 0 || d.Day(page.Days[n-1].Day) != day {
			page.Days = append(page.Days, slotDay{Day: s.Start})
		}
		page.Days[len(page.Days)-1].Slots = append(page.Days[len(page.Days)-1].Slots, s)
	}
	title := u.l.T("book.title")
	if appt != nil {
		title = u.l.T("book.title.reschedule")
	}
	p.page(w, r, u, status, "book", title, page, e)
}

// confirmPage asks to confirm the chosen time.
type confirmPage struct {
	FollowUp   *booking.FollowUp
	Reschedule *booking.Appointment
	Slot       booking.Slot
	D          dates
}

func (p *Pages) confirmSlot(w http.ResponseWriter, r *http.Request, u *person) {
	q := r.URL.Query()
	if q.Get("slot") == "" {
		e := &pweb.FormErrors{}
		e.Add("slots", u.l.T("book.choose"))
		p.showSlots(w, r, u, http.StatusBadRequest, q, e)
		return
	}
	f, appt, err := p.bookingOf(r, u, q)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	slot, err := p.Booking.Slot(r.Context(), u.p, f.OrderRef, q.Get("slot"))
	switch code := errs.CodeOf(err); {
	case code == errs.Conflict || code == errs.Invalid || code == errs.NotFound:
		e := &pweb.FormErrors{}
		e.Add("slots", u.l.T("book.taken"))
		q.Del("slot")
		p.showSlots(w, r, u, http.StatusConflict, q, e)
		return
	case err != nil:
		p.fail(w, r, u, err)
		return
	}
	title := u.l.T("book.confirm.title")
	p.page(w, r, u, http.StatusOK, "book-confirm", title, confirmPage{FollowUp: f, Reschedule: appt, Slot: *slot, D: p.dates(r.Context(), u)}, nil)
}

// book books the follow-up, or moves the appointment, at the chosen time.
func (p *Pages) book(w http.ResponseWriter, r *http.Request, u *person) {
	q := url.Values{"order": {r.PostFormValue("order")}, "reschedule": {r.PostFormValue("reschedule")}}
	slot := r.PostFormValue("slot")
	if slot == "" {
		e := &pweb.FormErrors{}
		e.Add("slots", u.l.T("book.choose"))
		p.showSlots(w, r, u, http.StatusBadRequest, q, e)
		return
	}
	var a *booking.Appointment
	var err error
	if id := q.Get("reschedule"); id != "" {
		a, err = p.Booking.Reschedule(r.Context(), u.p, id, slot)
	} else {
		a, err = p.Booking.Book(r.Context(), u.p, q.Get("order"), slot)
	}
	switch {
	case errs.CodeOf(err) == errs.Conflict || errs.CodeOf(err) == errs.Invalid:
		e := &pweb.FormErrors{}
		e.Add("slots", u.l.T("book.taken"))
		p.showSlots(w, r, u, http.StatusConflict, q, e)
		return
	case err != nil:
		p.fail(w, r, u, err)
		return
	}
	d := p.dates(r.Context(), u)
	key := "book.booked"
	if q.Get("reschedule") != "" {
		key = "book.moved"
	}
	pweb.SetFlash(w, "success", u.l.T(key, "When", d.WithTime(a.Start)))
	http.Redirect(w, r, "/appointments/"+url.PathEscape(a.ID), http.StatusSeeOther)
}

// appointmentsPage lists appointments.
type appointmentsPage struct {
	Upcoming, Past []booking.Appointment
	FollowUps      []booking.FollowUp
	D              dates
}

func (p *Pages) appointments(w http.ResponseWriter, r *http.Request, u *person) {
	apps, err := p.Booking.Appointments(r.Context(), u.p)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	fus, err := p.Booking.FollowUps(r.Context(), u.p)
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	page := appointmentsPage{D: p.dates(r.Context(), u)}
	now := p.Now()
	for _, a := range apps {
		if a.Status == "booked" && a.End.After(now) {
			page.Upcoming = append(page.Upcoming, a)
		} else {
			page.Past = append(page.Past, a)
		}
	}
	for _, f := range fus {
		if f.Appointment == nil {
			page.FollowUps = append(page.FollowUps, f)
		}
	}
	p.page(w, r, u, http.StatusOK, "appointments", u.l.T("appointments.title"), page, nil)
}

type appointmentPage struct {
	A        *booking.Appointment
	Upcoming bool
	D        dates
}

func (p *Pages) appointment(w http.ResponseWriter, r *http.Request, u *person) {
	p.showAppointment(w, r, u, http.StatusOK, nil)
}

func (p *Pages) showAppointment(w http.ResponseWriter, r *http.Request, u *person, status int, e *pweb.FormErrors) {
	a, err := p.Booking.Appointment(r.Context(), u.p, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	page := appointmentPage{A: a, Upcoming: a.Status == "booked" && a.End.After(p.Now()), D: p.dates(r.Context(), u)}
	p.page(w, r, u, status, "appointment", u.l.T("appointment.title"), page, e)
}

// cancel cancels an appointment, with the reason the person gave.
func (p *Pages) cancel(w http.ResponseWriter, r *http.Request, u *person) {
	reason := r.PostFormValue("reason")
	if len(reason) > 500 {
		e := &pweb.FormErrors{}
		e.Add("reason", u.l.T("appointment.reason.long"))
		p.showAppointment(w, r, u, http.StatusBadRequest, e)
		return
	}
	a, err := p.Booking.Cancel(r.Context(), u.p, r.PathValue("id"), reason)
	if errs.CodeOf(err) == errs.Conflict {
		e := &pweb.FormErrors{}
		e.Add("", u.l.T("appointment.already"))
		p.showAppointment(w, r, u, http.StatusConflict, e)
		return
	}
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	pweb.SetFlash(w, "success", u.l.T("appointment.cancelled"))
	http.Redirect(w, r, "/appointments/"+url.PathEscape(a.ID), http.StatusSeeOther)
}
