package web_test

// Browser test of the care team's results pages: the inbox and one
// journey, worked by a clinician, seen by a care coordinator, refused to a
// patient; axe-core on each page and state.

import (
	"context"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
)

func TestBrowserResults(t *testing.T) {
	s := startJourneySite(t)
	seedResults(t, s)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.linked(t, "ada@example.org", "Ada Okafor", identity.RolePatient, "Patient/ada")
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	critical := s.journeyOf(t, "ServiceRequest/ada-order")
	if critical.FlagReason == "" || critical.DueAt == nil {
		t.Fatalf("the critical potassium has no reason or no deadline: %+v", critical)
	}
	bob := s.journeyOf(t, "ServiceRequest/bob-order")

	b := newBrowser(t, s)
	b.signIn("doc@example.org", "/account/security")
	b.enrollTOTP()
	b.open("/account")
	b.click(`a[href="/staff/results"]`, "/staff/results")

	// Ada's three results, the critical one first, each with its flag; Bob
	// is outside Dr Doc's care.
	rows := b.rows(`[data-testid=result]`)
	flags := eval[[]string](b, `[...document.querySelectorAll("[data-testid=result]")].map(r => r.dataset.flag)`)
	if strings.Join(flags, " ") != "Critical Abnormal Normal" {
		t.Fatalf("inbox flags %q, want Critical Abnormal Normal: %q", flags, rows)
	}
	if !strings.Contains(rows[0], "Ada Okafor (Patient/ada)") || !strings.Contains(rows[0], "Potassium") ||
		!strings.Contains(rows[0], critical.FlagReason) || !strings.Contains(rows[0], "Acknowledgement due in") {
		t.Errorf("the critical row: %q (reason %q)", rows[0], critical.FlagReason)
	}
	if got := b.attr(`[data-testid=result] time`, "datetime"); got != critical.DueAt.UTC().Format("2006-01-02T15:04:05Z07:00") {
		t.Errorf("the deadline's <time> is %q, want %s", got, critical.DueAt.UTC())
	}
	if !strings.Contains(rows[2], "No deadline") {
		t.Errorf("the normal result's row: %q", rows[2])
	}
	for _, r := range rows {
		if strings.Contains(r, "Brown") {
			t.Errorf("the inbox lists a patient outside the clinician's care: %q", r)
		}
	}
	b.checkA11y("the results inbox")

	// Another queue, empty, says what the page is for.
	b.click(`a[data-queue="followup-unbooked"]`, "/staff/results")
	if got := b.text(`[data-testid=no-results]`); !strings.Contains(got, "Nothing is waiting") {
		t.Errorf("the empty follow-up queue says %q", got)
	}
	if got := b.text(`nav[aria-label=Queues] [aria-current=page]`); got != "Follow-up not booked" {
		t.Errorf("current queue %q", got)
	}
	b.checkA11y("the results inbox, an empty queue")
	b.click(`a[data-queue="review"]`, "/staff/results")

	// The critical result: its reason, its timeline, its resources.
	b.click(`[data-testid=result] a`, "/staff/results/"+critical.ID)
	if got := b.text(`[data-testid=flag-reason]`); got != critical.FlagReason {
		t.Errorf("the journey's reason %q, want %q", got, critical.FlagReason)
	}
	events := b.rows(`[data-testid=event]`)
	if len(events) == 0 || !strings.Contains(events[0], "ServiceRequest/ada-order, version 1") {
		t.Errorf("timeline %q", events)
	}
	if n := len(b.rows(`a[href="/fhir/DiagnosticReport/ada-report"]`)); n != 1 {
		t.Errorf("links to the report: %d", n)
	}
	b.checkA11y("a critical result")

	// An empty comment is refused on its field.
	b.set("#text", "")
	b.click(`form[action$="/comment"] button`, "/staff/results/"+critical.ID+"/comment")
	if got := b.errorSummary(); !strings.Contains(got, "Write a comment") {
		t.Errorf("an empty comment: error summary %q", got)
	}
	if got := b.attr("#text", "aria-invalid"); got != "true" {
		t.Errorf("the comment's aria-invalid = %q", got)
	}
	b.checkA11y("a critical result with an error")

	// Acknowledged with a note: the confirmation, the timeline, the
	// journey; the form is gone.
	b.set("#note", "Called the patient; repeat test today")
	b.click(`#acknowledge`, "/staff/results/"+critical.ID)
	if got := b.text(".flash"); !strings.Contains(got, "acknowledged") {
		t.Errorf("after acknowledging the page says %q %s", got, b.errorSummary())
	}
	events = b.rows(`[data-testid=event]`)
	last := events[len(events)-1]
	if !strings.Contains(last, "Reviewed by a clinician") || !strings.Contains(last, "By Dr Dee Doc") || !strings.Contains(last, "Called the patient; repeat test today") {
		t.Errorf("the acknowledgement in the timeline: %q", last)
	}
	if n := len(b.rows(`#acknowledge`)); n != 0 {
		t.Errorf("an acknowledged result still offers to acknowledge it")
	}
	if got := b.text(`[data-testid=due]`); got != "None running" {
		t.Errorf("deadline after acknowledging: %q", got)
	}
	b.checkA11y("an acknowledged result")
	if j := s.journeyOf(t, "ServiceRequest/ada-order"); j.ReviewedAt == nil || j.DueAt != nil {
		t.Errorf("the journey after the acknowledgement: %+v", j)
	}

	// Each page view and the action are in the audit log, about Ada.
	s.settleAudit(t)
	found, err := s.app.Audit.Search(context.Background(), audit.Query{OrgID: s.org.ID, Patient: "Patient/ada", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range found {
		for _, c := range f.Entry.Subtype {
			kinds[c.Code]++
		}
	}
	if kinds["journey-inbox"] < 2 || kinds["journey-journey"] < 3 || kinds["journey-acknowledge"] != 1 {
		t.Errorf("audited accesses to Ada's journeys: %v", kinds)
	}
	b.open("/account")
	b.signOut()

	// The care coordinator sees the critical results by flag, without
	// their reasons.
	b.signIn("cora@example.org", "/account/security")
	b.enrollTOTP()
	b.open("/staff/results")
	rows = b.rows(`[data-testid=result]`)
	if len(rows) == 0 || !strings.Contains(rows[0], "Bob Brown") || !strings.Contains(rows[0], "Critical") {
		t.Fatalf("the coordinator's inbox: %q", rows)
	}
	if n := len(b.rows(`[data-testid=flag-reason]`)); n != 0 || strings.Contains(b.text("main"), bob.FlagReason) {
		t.Errorf("the coordinator sees %d reasons", n)
	}
	b.checkA11y("the coordinator's inbox")
	b.click(`[data-testid=result] a`, "/staff/results/"+bob.ID)
	if strings.Contains(b.text("main"), bob.FlagReason) || b.text(`[data-testid=flag]`) != "Critical" {
		t.Errorf("the coordinator's view of a critical result: flag %q, shows the reason %v", b.text(`[data-testid=flag]`), strings.Contains(b.text("main"), bob.FlagReason))
	}
	if n := len(b.rows(`#acknowledge, #release`)); n != 0 {
		t.Errorf("the coordinator is offered clinicians' actions")
	}
	b.checkA11y("the coordinator's view of a result")
	b.open("/account")
	b.signOut()

	// A patient is refused.
	b.signIn("ada@example.org", "/home")
	b.open("/staff/results")
	if got := b.text("h1"); got != "Not allowed" {
		t.Errorf("a patient opening the results inbox: h1 %q", got)
	}
}
