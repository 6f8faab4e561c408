package web_test

// Handler tests of the care team's message pages (/staff/messages, a
// patient's history, retry) on a real careloop whose text messages go to
// an SMS provider on loopback that refuses one patient's number.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/notifytest"
	"github.com/careloop/careloop/internal/notify/sms"
)

// failedAndBounced makes Ada (in Dr Doc's care) a text message her
// number refuses (failed) and Bob (in another clinician's care) an email
// his address bounced, and returns both.
func failedAndBounced(t *testing.T, s *mailSite) (failed, bounced notify.Message) {
	t.Helper()
	ctx := context.Background()
	provider := notifytest.Start(t, "a signing secret of the test provider")
	if err := s.app.NotifyProviders.Set(ctx, s.org.ID, notify.ProviderSettings{Channel: notify.SMS, Kind: "webhook",
		Settings: map[string]string{"url": provider.URL}, Secret: provider.Secret}, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	ada, err := sms.NormalizePhone(patientPhone("ada"))
	if err != nil {
		t.Fatal(err)
	}
	provider.Refuse(ada)
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Practitioner", "other", `{"resourceType":"Practitioner","id":"other","name":[{"family":"Other"}]}`)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.SMS)
	notifyPatient(t, s, "bob", "Bob", "Brown", notify.Email)
	s.record(t, "ServiceRequest", "ada-order", `{"resourceType":"ServiceRequest","id":"ada-order","status":"active","intent":"order","subject":{"reference":"Patient/ada"},"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`)
	s.record(t, "ServiceRequest", "bob-order", `{"resourceType":"ServiceRequest","id":"bob-order","status":"active","intent":"order","subject":{"reference":"Patient/bob"},"requester":{"reference":"Practitioner/other"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`)
	tell(t, s, "result/ada", "result-ready", "ada", "")
	tell(t, s, "result/bob", "result-ready", "bob", "")
	failed = waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.SMS && m.State == notify.Failed })
	sent := waitMessage(t, s, "bob", func(m notify.Message) bool { return m.Channel == notify.Email && m.State == notify.Sent })
	if err := s.app.Notify.ApplyReceipt(ctx, s.org.ID, "smtp", sms.Receipt{MessageID: sent.ID, Status: notify.Bounced, ErrorCode: "550"}); err != nil {
		t.Fatal(err)
	}
	bounced = waitMessage(t, s, "bob", func(m notify.Message) bool { return m.ID == sent.ID && m.State == notify.Bounced })
	return failed, bounced
}

// retried waits until message id was sent again n times and failed again;
// the minute bounds a broken test.
func retried(t *testing.T, s *mailSite, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		m, err := s.app.Notify.Message(context.Background(), s.org.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		again := 0
		for _, st := range m.Timeline {
			if strings.Contains(st.Detail, "sent again") {
				again++
			}
		}
		if again == n && m.State == notify.Failed && m.Timeline[len(m.Timeline)-1].State == notify.Failed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s after a minute: %s, timeline %+v", id, m.State, m.Timeline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStaffMessagePages(t *testing.T) {
	s := startNotifySite(t)
	failed, bounced := failedAndBounced(t, s)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	s.person(t, "cleo@example.org", "Cleo Compliance", identity.RoleCompliance)
	doc := staffClient(t, s.site, "doc@example.org")
	ctx := context.Background()

	// The failure queue: Ada's failed text message, with why and "Send
	// again"; Bob, outside Dr Doc's care, is not there.
	st, _, body := send(t, doc, s.site, "GET", "/staff/messages", nil)
	if st != http.StatusOK || !strings.Contains(body, "Ada Okafor (Patient/ada)") || !strings.Contains(body, "/staff/messages/"+failed.ID+"/retry") ||
		!strings.Contains(body, `data-state="Failed"`) || strings.Contains(body, "Brown") || strings.Contains(body, bounced.ID) {
		t.Fatalf("the clinician's failure queue: %d %.1500s", st, body)
	}
	if !strings.Contains(strings.ReplaceAll(body, "<wbr>", ""), failed.LastError) {
		t.Errorf("the queue does not say what went wrong (%q)", failed.LastError)
	}
	tests := []struct {
		name, method, path string
		form               url.Values
		status             int
	}{
		{"a message of a patient out of reach", "GET", "/staff/messages/" + bounced.ID, nil, http.StatusNotFound},
		{"sending it again", "POST", "/staff/messages/" + bounced.ID + "/retry", url.Values{}, http.StatusNotFound},
		{"the history of a patient out of reach", "GET", "/staff/patients/bob/messages", nil, http.StatusNotFound},
		{"an unknown message", "GET", "/staff/messages/no-such-message", nil, http.StatusNotFound},
		{"an unknown state", "GET", "/staff/messages?state=lost", nil, http.StatusBadRequest},
		{"an unknown channel", "GET", "/staff/messages?channel=fax", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := send(t, doc, s.site, tt.method, tt.path, tt.form)
			if st != tt.status {
				t.Fatalf("%d, want %d: %.300s", st, tt.status, body)
			}
			for _, secret := range []string{"Brown", "bob@example.org", bounced.ID} {
				if strings.Contains(body, secret) {
					t.Errorf("the answer shows %q", secret)
				}
			}
		})
	}
	// Filters: Bob's patient id finds nothing for Dr Doc; Ada's inbox copy
	// is found by state and channel.
	if _, _, body := send(t, doc, s.site, "GET", "/staff/messages?state=any&patient=Patient%2Fbob", nil); strings.Contains(body, bounced.ID) || !strings.Contains(body, `data-testid="no-messages"`) {
		t.Errorf("filtering by a patient out of reach shows messages")
	}
	if _, _, body := send(t, doc, s.site, "GET", "/staff/messages?state=delivered&channel=inapp", nil); !strings.Contains(body, `data-state="Delivered"`) || strings.Contains(body, failed.ID) {
		t.Errorf("filtering the delivered inbox copies: %.800s", body)
	}
	st, _, body = send(t, doc, s.site, "GET", "/staff/patients/ada/messages", nil)
	if st != http.StatusOK || !strings.Contains(body, failed.ID) || !strings.Contains(body, "Messages about Ada Okafor (Patient/ada)") {
		t.Errorf("Ada's history: %d %.500s", st, body)
	}

	// Sent again: back to the queue with a confirmation; the timeline
	// names who asked; the provider refuses it again.
	st, loc, _ := send(t, doc, s.site, "POST", "/staff/messages/"+failed.ID+"/retry", url.Values{"back": {"/staff/messages?state=failures"}})
	if st != http.StatusSeeOther || loc != "/staff/messages?state=failures" {
		t.Fatalf("retry: %d to %q", st, loc)
	}
	retried(t, s, failed.ID, 1)
	st, _, body = send(t, doc, s.site, "GET", "/staff/messages/"+failed.ID, nil)
	if st != http.StatusOK || !strings.Contains(body, "sent again at the request of Dr Dee Doc") {
		t.Errorf("the message's timeline after the retry: %d %.2000s", st, body)
	}
	// A retry never leads off the care team's pages.
	if st, loc, _ := send(t, doc, s.site, "POST", "/staff/messages/"+failed.ID+"/retry", url.Values{"back": {"//evil.example/staff/"}}); st != http.StatusSeeOther || loc != "/staff/messages/"+failed.ID {
		t.Errorf("retry with a foreign back: %d to %q", st, loc)
	}
	retried(t, s, failed.ID, 2)

	// The compliance officer reads every patient's messages, and sends none.
	cleo := staffClient(t, s.site, "cleo@example.org")
	st, _, body = send(t, cleo, s.site, "GET", "/staff/messages", nil)
	if st != http.StatusOK || !strings.Contains(body, "Bob Brown") || !strings.Contains(body, "Ada Okafor") || strings.Contains(body, `data-testid="retry"`) {
		t.Errorf("the compliance officer's queue: %d %.1000s", st, body)
	}
	before, err := s.app.Notify.Message(ctx, s.org.ID, failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := send(t, cleo, s.site, "POST", "/staff/messages/"+failed.ID+"/retry", url.Values{}); st != http.StatusForbidden {
		t.Errorf("a retry by the compliance officer: %d, want 403", st)
	}
	if after, _ := s.app.Notify.Message(ctx, s.org.ID, failed.ID); len(after.Timeline) != len(before.Timeline) {
		t.Errorf("the compliance officer's refused retry changed the message")
	}

	// A bounced message cannot be sent again: the service's reason.
	cora := staffClient(t, s.site, "cora@example.org")
	st, _, body = send(t, cora, s.site, "GET", "/staff/messages", nil)
	if st != http.StatusOK || !strings.Contains(body, `data-testid="bounced"`) {
		t.Errorf("the coordinator's queue does not explain the bounce: %d", st)
	}
	st, _, body = send(t, cora, s.site, "POST", "/staff/messages/"+bounced.ID+"/retry", url.Values{})
	if st != http.StatusConflict || !strings.Contains(body, `class="error-summary"`) || !strings.Contains(body, "The address refused this message") {
		t.Errorf("retrying a bounced message: %d %.500s", st, body)
	}
	if m, _ := s.app.Notify.Message(ctx, s.org.ID, bounced.ID); m.State != notify.Bounced {
		t.Errorf("the bounced message is now %s", m.State)
	}

	// Patients open none of these pages.
	ada := noRedirects(apiSignIn(t, s.site, "ada@example.org"))
	for _, path := range []string{"/staff/messages", "/staff/messages/" + failed.ID, "/staff/patients/ada/messages"} {
		// The language switcher returns to the address asked for; nothing
		// else of the message shows.
		st, _, body := send(t, ada, s.site, "GET", path, nil)
		if st != http.StatusForbidden || strings.Contains(strings.ReplaceAll(body, `name="next" value="`+path+`"`, ""), failed.ID) {
			t.Errorf("a patient opening %s: %d", path, st)
		}
	}

	// The views and the retry are in the audit log, about Ada.
	s.settleAudit(t)
	found, err := s.app.Audit.Search(ctx, audit.Query{OrgID: s.org.ID, Patient: "Patient/ada", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range found {
		for _, c := range f.Entry.Subtype {
			kinds[c.Code]++
		}
	}
	if kinds["notify-failures"] < 1 || kinds["notify-patient-messages"] != 1 || kinds["notify-message"] < 1 || kinds["notify-retry"] != 2 {
		t.Errorf("audited accesses to Ada's messages: %v", kinds)
	}
	// With the audit log down, the pages show nothing.
	if err := s.app.Audit.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/staff/messages", "/staff/messages/" + failed.ID, "/staff/patients/ada/messages"} {
		if st, _, body := send(t, doc, s.site, "GET", path, nil); st < 500 || strings.Contains(body, "Okafor") {
			t.Errorf("%s with the audit log down: %d", path, st)
		}
	}
}

// TestResultLinksToMessages: the journey page of a result links to the
// patient's message history.
func TestResultLinksToMessages(t *testing.T) {
	s := startNotifySite(t)
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Patient", "ada", adaPatient)
	s.record(t, "ServiceRequest", "ada-order", `{"resourceType":"ServiceRequest","id":"ada-order","status":"active","intent":"order","subject":{"reference":"Patient/ada"},"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`)
	s.settleJourneys(t)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	doc := staffClient(t, s.site, "doc@example.org")
	j := s.journeyOf(t, "ServiceRequest/ada-order")
	st, _, body := send(t, doc, s.site, "GET", "/staff/results/"+j.ID, nil)
	if st != http.StatusOK || !strings.Contains(body, `href="/staff/patients/ada/messages"`) {
		t.Errorf("the journey page: %d, link to messages %v", st, strings.Contains(body, "/staff/patients/ada/messages"))
	}
}
