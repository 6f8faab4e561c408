package booking_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
)

// TestAPI drives the JSON API end to end over HTTP: each step is a request
// by someone, with the status and the parts of the answer expected.
func TestAPI(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		people := map[string]*fhir.Principal{
			"pat":   e.person("patient", "pat"),
			"other": e.person("patient", "other"),
			"key":   {OrgID: e.org, Subject: "apikey/1", Kind: "api-key"},
		}
		auth := func(r *http.Request) (*fhir.Principal, error) {
			if p := people[r.Header.Get("X-Test-As")]; p != nil {
				return p, nil
			}
			return nil, errs.E(errs.Unauthorized, "Sign in.")
		}
		mux := http.NewServeMux()
		e.s.API(auth).Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()

		id := "" // the appointment booked below
		steps := []struct {
			name, as, method, path, body string
			status                       int
			want                         map[string]string // gjson path → value
		}{
			{"follow-ups", "pat", "GET", "/booking/followups", "", 200,
				map[string]string{"followups.#": "2", "followups.0.order": "ServiceRequest/fu-any", "followups.1.display": "Kidney follow-up visit"}},
			{"one follow-up", "pat", "GET", "/booking/followups/fu", "", 200, map[string]string{"order": "ServiceRequest/fu", "reason": "DiagnosticReport/r1"}},
			{"someone else's follow-up", "pat", "GET", "/booking/followups/fu-other", "", 404, map[string]string{"error.code": "not_found"}},
			{"slots", "pat", "GET", "/booking/slots?order=ServiceRequest/fu", "", 200,
				map[string]string{"slots.#.id": `["s1","s2","s3"]`, "slots.0.with": "Dr Ana Silva", "slots.0.start": "2026-11-23T09:00:00Z"}},
			{"slots in a window", "pat", "GET", "/booking/slots?order=ServiceRequest/fu&from=2026-11-24&to=2027-02-01T00:00:00Z", "", 200,
				map[string]string{"slots.#.id": `["s3","s-late"]`}},
			{"slots without order", "pat", "GET", "/booking/slots", "", 400, map[string]string{"error.field": "order"}},
			{"one slot", "pat", "GET", "/booking/slots/s3?order=ServiceRequest/fu", "", 200, map[string]string{"id": "s3", "with": "Dr Ana Silva"}},
			{"one slot without order", "pat", "GET", "/booking/slots/s3", "", 400, map[string]string{"error.field": "order"}},
			{"an unknown slot", "pat", "GET", "/booking/slots/nope?order=ServiceRequest/fu", "", 404, nil},
			{"slots from a bad time", "pat", "GET", "/booking/slots?order=ServiceRequest/fu&from=tomorrow", "", 400, map[string]string{"error.field": "from"}},
			{"slots over a window too long", "pat", "GET", "/booking/slots?order=ServiceRequest/fu&from=2026-11-21&to=2027-03-01", "", 400, map[string]string{"error.field": "to"}},
			{"book without a slot", "pat", "POST", "/booking/appointments", `{"order":"ServiceRequest/fu"}`, 400, map[string]string{"error.field": "slot"}},
			{"book without an order", "pat", "POST", "/booking/appointments", `{"slot":"s1"}`, 400, map[string]string{"error.field": "order"}},
			{"book with an unknown field", "pat", "POST", "/booking/appointments", `{"order":"ServiceRequest/fu","slot":"s1","when":"now"}`, 400, map[string]string{"error.field": "when"}},
			{"book with a malformed order", "pat", "POST", "/booking/appointments", `{"order":"fu","slot":"s1"}`, 400, map[string]string{"error.field": "order"}},
			{"book", "pat", "POST", "/booking/appointments", `{"order":"ServiceRequest/fu","slot":"s1"}`, 201,
				map[string]string{"status": "booked", "order": "ServiceRequest/fu", "slot": "s1", "patient": "pat", "version": "1"}},
			{"book a taken slot", "other", "POST", "/booking/appointments", `{"order":"ServiceRequest/fu-other","slot":"s1"}`, 409,
				map[string]string{"error.message": "This time has just been taken. Please choose another."}},
			{"appointments", "pat", "GET", "/booking/appointments", "", 200, map[string]string{"appointments.#": "1", "appointments.0.id": "{id}"}},
			{"someone else's appointment", "other", "GET", "/booking/appointments/{id}", "", 404, nil},
			{"move someone else's appointment", "other", "POST", "/booking/appointments/{id}/reschedule", `{"slot":"s2"}`, 404, nil},
			{"reschedule without a slot", "pat", "POST", "/booking/appointments/{id}/reschedule", `{}`, 400, map[string]string{"error.field": "slot"}},
			{"reschedule", "pat", "POST", "/booking/appointments/{id}/reschedule", `{"slot":"s2"}`, 200,
				map[string]string{"id": "{id}", "slot": "s2", "version": "2", "start": "2026-11-23T10:00:00Z"}},
			{"the appointment", "pat", "GET", "/booking/appointments/{id}", "", 200, map[string]string{"slot": "s2", "where": "Riverside Clinic"}},
			{"the old slot is free", "other", "POST", "/booking/appointments", `{"order":"ServiceRequest/fu-other","slot":"s1"}`, 201, nil},
			{"cancel", "pat", "POST", "/booking/appointments/{id}/cancel", `{"reason":"Feeling better"}`, 200,
				map[string]string{"status": "cancelled", "cancel_reason": "Feeling better"}},
			{"cancel again", "pat", "POST", "/booking/appointments/{id}/cancel", `{}`, 409, map[string]string{"error.code": "conflict"}},
			{"a system", "key", "GET", "/booking/followups", "", 403, nil},
			{"nobody", "", "GET", "/booking/appointments", "", 401, nil},
		}
		for _, st := range steps {
			path := strings.ReplaceAll(st.path, "{id}", id)
			var body io.Reader
			if st.body != "" {
				body = strings.NewReader(st.body)
			}
			req, err := http.NewRequest(st.method, srv.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if st.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("X-Test-As", st.as)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != st.status {
				t.Fatalf("%s: %s %s answered %d, want %d: %s", st.name, st.method, path, resp.StatusCode, st.status, raw)
			}
			if !json.Valid(raw) || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: not JSON: %s", st.name, raw)
			}
			if st.name == "book" {
				id = gjson.GetBytes(raw, "id").String()
			}
			for p, v := range st.want {
				v = strings.ReplaceAll(v, "{id}", id)
				got := gjson.GetBytes(raw, p)
				if strings.HasPrefix(v, "[") {
					got = gjson.Parse(got.Raw)
					if strings.ReplaceAll(got.Raw, " ", "") != v {
						t.Fatalf("%s: %s = %s, want %s", st.name, p, got.Raw, v)
					}
				} else if got.String() != v {
					t.Fatalf("%s: %s = %q, want %q in %s", st.name, p, got.String(), v, raw)
				}
			}
		}
	})
}
