package web_test

// Handler tests of the care team's results pages (/staff/results) on a
// real careloop with its job queue running: journeys are built by the
// journeys' own workers from FHIR writes.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// startJourneySite starts a site whose job queue runs, so that FHIR
// writes move journeys.
func startJourneySite(t *testing.T) *site {
	t.Helper()
	s := startSite(t)
	ctx, stop := context.WithCancel(context.Background())
	if err := s.app.Jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = s.app.Jobs.Stop(context.Background())
	})
	return s
}

// settleJourneys waits until the journey jobs that are due have run, and
// fails when any attempt of one of them failed.
func (s *site) settleJourneys(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		b, err := jobs.BacklogOf(context.Background(), s.app.DB, "journey.")
		if err != nil {
			t.Fatal(err)
		}
		if b.Failed > 0 {
			t.Fatalf("%d journey jobs failed: %.1000s", b.Failed, b.LastError)
		}
		if b.Waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d journey jobs still waiting after two minutes", b.Waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// journeyOf returns the journey that follows anchor.
func (s *site) journeyOf(t testing.TB, anchor string) *journey.Journey {
	t.Helper()
	j, _, err := s.app.Journeys.ByAnchor(context.Background(), s.org.ID, anchor)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

const labCategory = `[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]`

// labResult is a final laboratory Observation of today.
func labResult(id, patient, code, display string, value float64, unit string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","category":%s,"code":{"coding":[{"system":"http://loinc.org","code":%q,"display":%q}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":%g,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}`,
		id, labCategory, code, display, patient, time.Now().UTC().Format(time.RFC3339), value, unit, unit)
}

// criticalPotassium writes an order by requester for patient, its
// critical potassium result and the final report: one journey, anchored
// on the order, whose acknowledgement is due in 30 minutes.
func (s *site) criticalPotassium(t testing.TB, prefix, patient, requester string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	s.record(t, "ServiceRequest", prefix+"-order", fmt.Sprintf(`{"resourceType":"ServiceRequest","id":"%s-order","status":"active","intent":"order","subject":{"reference":"Patient/%s"},"requester":{"reference":"%s"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`, prefix, patient, requester))
	s.record(t, "Observation", prefix+"-k", labResult(prefix+"-k", patient, "2823-3", "Potassium", 7.1, "mmol/L"))
	s.record(t, "DiagnosticReport", prefix+"-report", fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":"%s-report","status":"final","basedOn":[{"reference":"ServiceRequest/%s-order"}],"subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},"issued":%q,"result":[{"reference":"Observation/%s-k"}]}`, prefix, prefix, patient, now, prefix))
}

const bobPatient = `{"resourceType":"Patient","id":"bob","name":[{"family":"Brown","given":["Bob"]}],"birthDate":"1970-02-03"}`

// seedResults stores Dr Doc's patient Ada with a normal, an abnormal and a
// critical result (the critical one ordered by Dr Doc, which puts Ada in
// the doctor's care), and Bob, outside Dr Doc's care, with a critical
// result ordered by someone else; then waits for the journeys.
func seedResults(t testing.TB, s *site) {
	t.Helper()
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Practitioner", "other", `{"resourceType":"Practitioner","id":"other","name":[{"family":"Other"}]}`)
	s.record(t, "Patient", "ada", adaPatient)
	s.record(t, "Patient", "bob", bobPatient)
	s.record(t, "Observation", "ada-na", labResult("ada-na", "ada", "2951-2", "Sodium", 140, "mmol/L"))
	s.record(t, "Observation", "ada-a1c", labResult("ada-a1c", "ada", "4548-4", "Hemoglobin A1c", 8.1, "%"))
	s.criticalPotassium(t, "ada", "ada", "Practitioner/doc")
	s.criticalPotassium(t, "bob", "bob", "Practitioner/other")
	s.settleJourneys(t)
}

// staffClient signs in through the JSON API and enrolls an authenticator
// app, which leaves the session with its second factor verified. The
// client does not follow redirects.
func staffClient(t *testing.T, s *site, email string) *http.Client {
	t.Helper()
	c := apiSignIn(t, s, email)
	enrollTOTP(t, s, c)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// page sends a request for a page with c's session, as a browser does.
func page(t *testing.T, c *http.Client, s *site, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestResultsInboxEmpty(t *testing.T) {
	s := startJourneySite(t)
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	doc := staffClient(t, s, "doc@example.org")
	for _, q := range []string{"", "?queue=overdue-review", "?queue=unviewed", "?queue=followup-unbooked"} {
		st, body := page(t, doc, s, "GET", "/staff/results"+q, nil)
		if st != http.StatusOK || !strings.Contains(body, `data-testid="no-results"`) || !strings.Contains(body, "Nothing is waiting in this queue") {
			t.Errorf("empty inbox %q: %d %.300s", q, st, body)
		}
		if strings.Contains(body, `data-testid="result"`) {
			t.Errorf("empty inbox %q lists results", q)
		}
	}
	if st, body := page(t, doc, s, "GET", "/staff/results?queue=nonsense", nil); st != http.StatusBadRequest || !strings.Contains(body, "is not a queue") {
		t.Errorf("an unknown queue: %d %.300s", st, body)
	}
}

func TestResultsPagesRefuseOthers(t *testing.T) {
	s := startJourneySite(t)
	seedResults(t, s)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.linked(t, "ada@example.org", "Ada Okafor", identity.RolePatient, "Patient/ada")
	s.person(t, "nina@example.org", "Nina Nurse", identity.RoleNurse)
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	doc := staffClient(t, s, "doc@example.org")
	bob := s.journeyOf(t, "ServiceRequest/bob-order")
	ada := s.journeyOf(t, "ServiceRequest/ada-order")

	tests := []struct {
		name, method, path string
		form               url.Values
		status             int
	}{
		{"an unknown journey", "GET", "/staff/results/no-such-journey", nil, http.StatusNotFound},
		{"a journey of a patient out of reach", "GET", "/staff/results/" + bob.ID, nil, http.StatusNotFound},
		{"acknowledging it", "POST", "/staff/results/" + bob.ID + "/acknowledge", url.Values{"note": {"seen"}}, http.StatusNotFound},
		{"commenting on it", "POST", "/staff/results/" + bob.ID + "/comment", url.Values{"text": {"seen"}}, http.StatusNotFound},
		{"holding it", "POST", "/staff/results/" + bob.ID + "/hold", url.Values{"reason": {"to discuss"}, "until": {time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")}}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := page(t, doc, s, tt.method, tt.path, tt.form)
			if st != tt.status {
				t.Fatalf("%d, want %d: %.300s", st, tt.status, body)
			}
			// Nothing of the journey leaks: not its patient, test or flag.
			for _, secret := range []string{"Brown", "Patient/bob", "Potassium", bob.FlagReason, bob.ID} {
				if strings.Contains(body, secret) {
					t.Errorf("the answer shows %q", secret)
				}
			}
		})
	}
	if got := s.journeyOf(t, "ServiceRequest/bob-order"); got.ReviewedAt != nil || got.HoldUntil != nil {
		t.Errorf("an action on a journey out of reach changed it: %+v", got)
	}
	_, body := page(t, doc, s, "GET", "/staff/results", nil)
	if strings.Contains(body, "Brown") || !strings.Contains(body, "Ada Okafor") {
		t.Errorf("the inbox lists Bob (%v) or not Ada (%v)", strings.Contains(body, "Brown"), strings.Contains(body, "Ada Okafor"))
	}

	if st, _ := page(t, doc, s, "GET", "/staff/results?cursor=x", nil); st != http.StatusBadRequest {
		t.Errorf("a cursor not of this list: %d", st)
	}

	// Acknowledging, releasing and holding are for clinicians; the care
	// coordinator (who reaches every patient) and a nurse comment; a
	// patient opens none of the pages.
	coord := staffClient(t, s, "cora@example.org")
	nurse := staffClient(t, s, "nina@example.org")
	for _, c := range []*http.Client{coord, nurse} {
		for _, action := range []string{"acknowledge", "release", "hold"} {
			if st, _ := page(t, c, s, "POST", "/staff/results/"+ada.ID+"/"+action, url.Values{"note": {"x"}}); st != http.StatusForbidden {
				t.Errorf("%s by a nurse or coordinator: %d, want 403", action, st)
			}
		}
	}
	if st, _ := page(t, coord, s, "POST", "/staff/results/"+ada.ID+"/comment", url.Values{"text": {"Patient called back"}}); st != http.StatusSeeOther {
		t.Errorf("the coordinator's comment: %d, want 303", st)
	}
	if got := s.journeyOf(t, "ServiceRequest/ada-order"); got.ReviewedAt != nil {
		t.Errorf("acknowledged by someone not a clinician: %+v", got)
	}
	// A nurse outside Ada's care does not reach her journeys.
	if st, _ := page(t, nurse, s, "POST", "/staff/results/"+ada.ID+"/comment", url.Values{"text": {"x"}}); st != http.StatusNotFound {
		t.Errorf("a comment by a nurse outside the patient's care: %d, want 404", st)
	}
	anonymous := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if st, body := page(t, anonymous, s, "GET", "/staff/results/"+ada.ID, nil); st != http.StatusSeeOther || strings.Contains(body, "Potassium") {
		t.Errorf("without a session: %d, want 303 to /signin", st)
	}
	patient := apiSignIn(t, s, "ada@example.org")
	patient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/staff/results", "/staff/results/" + ada.ID} {
		if st, body := page(t, patient, s, "GET", path, nil); st != http.StatusForbidden || strings.Contains(body, "Potassium") {
			t.Errorf("a patient opening %s: %d", path, st)
		}
	}
}

// TestResultsPagesFailClosed: when the audit log cannot store the entry of
// a page view, the page is refused and shows no health data.
func TestResultsPagesFailClosed(t *testing.T) {
	s := startJourneySite(t)
	seedResults(t, s)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	doc := staffClient(t, s, "doc@example.org")
	ada := s.journeyOf(t, "ServiceRequest/ada-order")
	for _, path := range []string{"/staff/results", "/staff/results/" + ada.ID} {
		if st, body := page(t, doc, s, "GET", path, nil); st != http.StatusOK || !strings.Contains(body, "Ada Okafor") {
			t.Fatalf("%s with the audit log up: %d", path, st)
		}
	}
	if err := s.app.Audit.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/staff/results", "/staff/results/" + ada.ID} {
		st, body := page(t, doc, s, "GET", path, nil)
		if st < 500 {
			t.Errorf("%s with the audit log down: %d, want a refusal", path, st)
		}
		for _, secret := range []string{"Okafor", "Potassium", ada.FlagReason} {
			if strings.Contains(body, secret) {
				t.Errorf("%s with the audit log down shows %q", path, secret)
			}
		}
	}
}

// TestResultsInboxPages: the inbox in pages of two, by cursor, keeps the
// order of urgency across pages.
func TestResultsInboxPages(t *testing.T) {
	s := startJourneySite(t)
	seedResults(t, s)
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	coord := staffClient(t, s, "cora@example.org")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	flags := regexp.MustCompile(`data-testid="result" data-flag="([A-Za-z ]+)"`)

	var got []string
	path, pages := "/staff/results?queue=open&count=2", 0
	for path != "" {
		st, body := page(t, coord, s, "GET", path, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %.300s", path, st, body)
		}
		pages++
		for _, m := range flags.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if pages > 1 && !strings.Contains(body, `href="/staff/results?count=2&amp;queue=open">First page`) {
			t.Errorf("page %d has no link to the first", pages)
		}
		path = ""
		if m := next.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	// Two critical results (Ada's and Bob's), then the abnormal, then the
	// normal one.
	if pages != 2 || strings.Join(got, " ") != "Critical Critical Abnormal Normal" {
		t.Errorf("%d pages, flags %q", pages, got)
	}
	if st, _ := page(t, coord, s, "GET", "/staff/results?count=many", nil); st != http.StatusBadRequest {
		t.Errorf("a page size not a number: %d", st)
	}
	if st, _ := page(t, coord, s, "GET", "/staff/results?count=500", nil); st != http.StatusBadRequest {
		t.Errorf("a page size of 500: %d", st)
	}
}

// TestResultsHoldAndRelease: a clinician holds the release of a pathology
// order before its report (bad input refused on its fields, changing
// nothing), the final report then stays held, and releasing it ends the
// hold.
func TestResultsHoldAndRelease(t *testing.T) {
	s := startJourneySite(t)
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Patient", "ada", adaPatient)
	s.record(t, "ServiceRequest", "biopsy", `{"resourceType":"ServiceRequest","id":"biopsy","status":"active","intent":"order","subject":{"reference":"Patient/ada"},"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":"22634-0","display":"Pathology report"}]}}`)
	s.settleJourneys(t)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	doc := staffClient(t, s, "doc@example.org")
	j := s.journeyOf(t, "ServiceRequest/biopsy")
	base := "/staff/results/" + j.ID
	future := time.Now().UTC().Add(7 * 24 * time.Hour).Format("2006-01-02T15:04")

	tests := []struct {
		name, action string
		form         url.Values
		status       int
		want         []string
	}{
		{"release before any result", "release", url.Values{}, http.StatusConflict, []string{`class="error-summary"`, "has no final result to release"}},
		{"hold without reason or end", "hold", url.Values{"reason": {""}, "until": {""}}, http.StatusBadRequest,
			[]string{`id="reason-error"`, "Write why the result is held", `id="until-error"`, "Enter until when"}},
		{"hold until a time not a time", "hold", url.Values{"reason": {"to discuss"}, "until": {"next week"}}, http.StatusBadRequest,
			[]string{`id="until-error"`, "as a date and time", "to discuss"}},
		{"hold until the past", "hold", url.Values{"reason": {"to discuss"}, "until": {"2020-01-01T09:00"}}, http.StatusBadRequest,
			[]string{`id="until-error"`, "The end of the hold must be in the future"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := page(t, doc, s, "POST", base+"/"+tt.action, tt.form)
			if st != tt.status {
				t.Fatalf("%d, want %d: %.300s", st, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
		})
	}
	if got := s.journeyOf(t, "ServiceRequest/biopsy"); got.HoldUntil != nil || got.ReleasedAt != nil {
		t.Fatalf("refused actions changed the journey: %+v", got)
	}

	if st, _ := page(t, doc, s, "POST", base+"/hold", url.Values{"reason": {"Sensitive pathology, to discuss at the visit"}, "until": {future}}); st != http.StatusSeeOther {
		t.Fatalf("hold: %d", st)
	}
	if _, body := page(t, doc, s, "GET", base, nil); !strings.Contains(body, "Release held until") || !strings.Contains(body, "Sensitive pathology, to discuss at the visit") {
		t.Errorf("the held journey's page does not show the hold")
	}
	s.record(t, "DiagnosticReport", "biopsy-report", fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":"biopsy-report","status":"final","basedOn":[{"reference":"ServiceRequest/biopsy"}],"subject":{"reference":"Patient/ada"},"code":{"coding":[{"system":"http://loinc.org","code":"22634-0"}]},"issued":%q}`, time.Now().UTC().Format(time.RFC3339)))
	s.settleJourneys(t)
	if got := s.journeyOf(t, "ServiceRequest/biopsy"); got.FinalAt == nil || got.ReleasedAt != nil {
		t.Fatalf("the final report of a held order: %+v", got)
	}
	if st, _ := page(t, doc, s, "POST", base+"/release", url.Values{}); st != http.StatusSeeOther {
		t.Fatalf("release: %d", st)
	}
	if got := s.journeyOf(t, "ServiceRequest/biopsy"); got.ReleasedAt == nil {
		t.Fatalf("not released: %+v", got)
	}
	_, body := page(t, doc, s, "GET", base, nil)
	if !strings.Contains(body, "Released by a clinician") || !strings.Contains(body, "hold ended early") || strings.Contains(body, `id="release"`) {
		t.Errorf("the released journey's page: released %v, hold ended %v, still offers release %v", strings.Contains(body, "Released by a clinician"),
			strings.Contains(body, "hold ended early"), strings.Contains(body, `id="release"`))
	}
}
