package booking

import (
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// API serves booking as JSON under /booking to signed-in people. Every
// handler calls the Service, which decides access, audits and answers
// errors as errs codes; httpx.WriteError turns them into statuses.
type API struct {
	s    *Service
	auth func(*http.Request) (*fhir.Principal, error)
}

// API returns the JSON API of s; auth returns the caller of a request
// (access.Users.Authenticate, say) or an errs.Unauthorized.
func (s *Service) API(auth func(*http.Request) (*fhir.Principal, error)) *API {
	return &API{s: s, auth: auth}
}

// Register adds the routes to mux:
//
//	GET  /booking/followups                        open follow-ups: {"followups":[…]}
//	GET  /booking/followups/{id}                   one follow-up (ServiceRequest id)
//	GET  /booking/slots?order=ServiceRequest/ID&from=&to=   {"slots":[…]}
//	GET  /booking/appointments                     {"appointments":[…]}
//	GET  /booking/appointments/{id}                one appointment
//	POST /booking/appointments {"order","slot"}    book: 201 and the appointment
//	POST /booking/appointments/{id}/reschedule {"slot"}
//	POST /booking/appointments/{id}/cancel {"reason"}
//
// from and to are RFC 3339 times or dates (midnight UTC).
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /booking/followups", a.with(a.followUps))
	mux.HandleFunc("GET /booking/followups/{id}", a.with(a.followUp))
	mux.HandleFunc("GET /booking/slots", a.with(a.slots))
	mux.HandleFunc("GET /booking/slots/{id}", a.with(a.slot))
	mux.HandleFunc("GET /booking/appointments", a.with(a.appointments))
	mux.HandleFunc("GET /booking/appointments/{id}", a.with(a.appointment))
	mux.HandleFunc("POST /booking/appointments", a.with(a.book))
	mux.HandleFunc("POST /booking/appointments/{id}/reschedule", a.with(a.reschedule))
	mux.HandleFunc("POST /booking/appointments/{id}/cancel", a.with(a.cancel))
}

func (a *API) with(h func(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.auth(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

func (a *API) followUps(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	fs, err := a.s.FollowUps(r.Context(), p)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"followups": fs})
}

func (a *API) followUp(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	f, err := a.s.FollowUp(r.Context(), p, "ServiceRequest/"+r.PathValue("id"))
	if errs.CodeOf(err) == errs.Invalid {
		return errs.NotFoundf("This follow-up is not known.")
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, f)
}

func (a *API) slots(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	q := r.URL.Query()
	order := q.Get("order")
	if order == "" {
		return errs.Invalidf("order", "Name the follow-up: order=ServiceRequest/ID.")
	}
	from, err := parseWhen("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := parseWhen("to", q.Get("to"))
	if err != nil {
		return err
	}
	slots, err := a.s.Slots(r.Context(), p, order, from, to)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"slots": slots})
}

// slot is one time of an order, checked as booking checks it.
func (a *API) slot(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	order := r.URL.Query().Get("order")
	if order == "" {
		return errs.Invalidf("order", "Name the follow-up: order=ServiceRequest/ID.")
	}
	sl, err := a.s.Slot(r.Context(), p, order, r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, sl)
}

func (a *API) appointments(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	as, err := a.s.Appointments(r.Context(), p)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"appointments": as})
}

func (a *API) appointment(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	ap, err := a.s.Appointment(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, ap)
}

// bookRequest is the body of POST /booking/appointments.
type bookRequest struct {
	Order string `json:"order"` // "ServiceRequest/ID"
	Slot  string `json:"slot"`  // the slot's id
}

func (a *API) book(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	var in bookRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Order == "" {
		return errs.Invalidf("order", "Name the follow-up to book: \"order\": \"ServiceRequest/ID\".")
	}
	if in.Slot == "" {
		return errs.Invalidf("slot", "Choose a time: \"slot\" is the id of one of the times offered.")
	}
	ap, err := a.s.Book(r.Context(), p, in.Order, in.Slot)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, ap)
}

// rescheduleRequest is the body of POST /booking/appointments/{id}/reschedule.
type rescheduleRequest struct {
	Slot string `json:"slot"`
}

func (a *API) reschedule(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	var in rescheduleRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Slot == "" {
		return errs.Invalidf("slot", "Choose a time: \"slot\" is the id of one of the times offered.")
	}
	ap, err := a.s.Reschedule(r.Context(), p, r.PathValue("id"), in.Slot)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, ap)
}

// cancelRequest is the body of POST /booking/appointments/{id}/cancel.
type cancelRequest struct {
	Reason string `json:"reason"`
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	var in cancelRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	ap, err := a.s.Cancel(r.Context(), p, r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, ap)
}

// parseWhen reads an RFC 3339 time or a date (its midnight UTC); "" is the
// zero time.
func parseWhen(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errs.Invalidf(field, "must be a time (2026-11-20T09:00:00Z) or a date (2026-11-20)")
}
