package portal_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/portal"
)

const demoPatient = "patient@example.com"

var (
	orderLink = regexp.MustCompile(`href="/book\?order=([^"&]+)"`)
	slotInput = regexp.MustCompile(`name="slot" id="slot-[^"]+" value="([^"]+)"`)
)

// journeyOf returns the demo patient's shared, non-historical journey
// with the flag, and its test's name.
func (s *site) journeyOf(t *testing.T, flag journey.Flag) journey.Journey {
	t.Helper()
	js, _, _, err := s.app.Journeys.OfPatients(context.Background(), s.seed.Org.ID, []string{s.patient}, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if j.ReleasedAt != nil && !j.Historical() && j.Flag == flag {
			return j
		}
	}
	t.Fatalf("the demo patient has no shared %s result", flag)
	return journey.Journey{}
}

func TestPortal(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := startSite(t, e)
			t.Run("sign-in first", func(t *testing.T) { testSignInFirst(t, s) })
			t.Run("home", func(t *testing.T) { testHome(t, s) })
			t.Run("result", func(t *testing.T) { testResult(t, s) })
			t.Run("critical", func(t *testing.T) { testCritical(t, s) })
			t.Run("not shared yet", func(t *testing.T) { testNotShared(t, s) })
			t.Run("others' results", func(t *testing.T) { testOthers(t, s) })
			t.Run("spanish", func(t *testing.T) { testSpanish(t, s) })
			t.Run("display", func(t *testing.T) { testDisplay(t, s) })
			t.Run("booking", func(t *testing.T) { testBooking(t, s) })
			t.Run("download", func(t *testing.T) { testDownload(t, s) })
			t.Run("caregiver", func(t *testing.T) { testCaregiver(t, s) })
			t.Run("every page in every language", func(t *testing.T) { testEveryLanguage(t, s) })
			t.Run("the record's language", func(t *testing.T) { testRecordLanguage(t, s) })
		})
	}
}

func testSignInFirst(t *testing.T, s *site) {
	c := s.client(t)
	st, loc, _ := c.get("/results?x=1")
	if st != http.StatusSeeOther || loc != "/signin?next="+url.QueryEscape("/results?x=1") {
		t.Errorf("not signed in: %d to %q, want the sign-in page that returns here", st, loc)
	}
	staff := s.client(t)
	staff.signIn(s.seed.Accounts[0].Email) // a practitioner
	if st, _, body := staff.get("/home"); st != http.StatusForbidden || strings.Contains(text(body), "Hello") {
		t.Errorf("staff on the portal: %d %.200s", st, text(body))
	}
}

func testHome(t *testing.T, s *site) {
	c := s.client(t)
	c.signIn(demoPatient)
	body := text(c.page("/home"))
	for _, want := range []string{"Hello, ", "3 new results", "Needs attention now", "Outside the usual range", "In the usual range",
		"Follow-up visits to book", "Book a time", "Tests on the way", "Expected by", "unread message"} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, "Follow-up visit Ordered") {
		t.Error("the follow-up visit is listed as a test on the way")
	}
	// The results page lists the shared ones and those on the way.
	res := text(c.page("/results"))
	for _, want := range []string{"On the way", "Ready to read", "Lipid panel", "Hemoglobin A1c"} {
		if !strings.Contains(res, want) {
			t.Errorf("results lack %q: %s", want, res)
		}
	}
}

func testResult(t *testing.T, s *site) {
	ctx := context.Background()
	c := s.client(t)
	c.signIn(demoPatient)
	j := s.journeyOf(t, journey.Abnormal)
	if j.ViewedAt != nil {
		t.Fatalf("journey %s viewed before the test opened it", j.ID)
	}
	before := s.auditCount(t)
	html := c.page("/results/" + j.ID)
	body := text(html)
	for _, want := range []string{"A note from your care team", "Higher than usual", "Usual range:", "About this test",
		"What a high result can mean", "What to do next", "over time", "Show the results as a table", "Where your test is",
		"Shared with you", "I have read this result"} {
		if !strings.Contains(body, want) {
			t.Errorf("result page lacks %q: %s", want, body)
		}
	}
	// The range bar and the trend are images with a text alternative.
	if n := strings.Count(html, `role="img"`); n < 2 {
		t.Errorf("%d SVG images, want the range bar and the trend", n)
	}
	if !strings.Contains(html, "<desc") || !strings.Contains(html, "aria-labelledby") {
		t.Error("charts lack their text alternative")
	}
	// The trend lists each earlier shared A1c: the showcase has five.
	if rows := strings.Count(html, `<tr><td><time`); rows < 5 {
		t.Errorf("trend table has %d rows, want at least 5", rows)
	}
	// Opening a shared result records that the patient viewed it, and the
	// reads are in the audit log.
	got, _, err := s.app.Journeys.Get(ctx, s.seed.Org.ID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ViewedAt == nil {
		t.Error("viewing the result did not record it as viewed")
	}
	if after := s.auditCount(t); after-before < 3 {
		t.Errorf("%d audit entries for the result page, want the journey, the report and the trend", after-before)
	}
	// "I have read this result".
	st, loc, _ := c.post("/results/"+j.ID+"/acknowledge", nil)
	if st != http.StatusSeeOther || loc != "/results/"+j.ID {
		t.Fatalf("acknowledge: %d %q", st, loc)
	}
	if body := text(c.page(loc)); !strings.Contains(body, "Your care team can see that you read this result") ||
		!strings.Contains(body, "You told your care team you read this result") {
		t.Errorf("after acknowledging: %s", body)
	}
	if got, _, _ = s.app.Journeys.Get(ctx, s.seed.Org.ID, j.ID); got.AckedAt == nil {
		t.Error("the acknowledgement was not recorded")
	}
}

func testCritical(t *testing.T, s *site) {
	c := s.client(t)
	c.signIn(demoPatient)
	j := s.journeyOf(t, journey.Critical)
	body := text(c.page("/results/" + j.ID))
	for _, want := range []string{"Please call your clinic today", "Much higher than usual"} {
		if !strings.Contains(body, want) {
			t.Errorf("critical result lacks %q: %s", want, body)
		}
	}
}

// testNotShared: under a policy that shares results a day after they are
// final, a new critical result waits; the patient sees that it is coming,
// never its value, also not in a download or a trend.
func testNotShared(t *testing.T, s *site) {
	ctx := context.Background()
	pol, err := s.app.Journeys.Policy(ctx, s.seed.Org.ID)
	if err != nil {
		t.Fatal(err)
	}
	delayed := pol
	delayed.ReleaseDelay = 24 * time.Hour
	if err := s.app.Journeys.SetPolicy(ctx, s.seed.Org.ID, delayed); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.app.Journeys.SetPolicy(ctx, s.seed.Org.ID, pol); err != nil {
			t.Error(err)
		}
	}()
	now := time.Now().UTC().Format(time.RFC3339)
	obs := `{"resourceType":"Observation","id":"held-k","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}],"text":"Potassium"},"subject":{"reference":"Patient/` + s.patient + `"},
"effectiveDateTime":"` + now + `","valueQuantity":{"value":7.9,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`
	rep := `{"resourceType":"DiagnosticReport","id":"held-r","status":"final","code":{"text":"Potassium check"},"subject":{"reference":"Patient/` + s.patient + `"},
"effectiveDateTime":"` + now + `","issued":"` + now + `","result":[{"reference":"Observation/held-k"}]}`
	err = s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.app.Resources.PutTx(ctx, tx, s.seed.Org.ID, []fhir.Resource{{Type: "Observation", ID: "held-k", JSON: []byte(obs)}, {Type: "DiagnosticReport", ID: "held-r", JSON: []byte(rep)}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var j *journey.Journey
	for deadline := time.Now().Add(30 * time.Second); ; {
		j, _, err = s.app.Journeys.ByAnchor(ctx, s.seed.Org.ID, "DiagnosticReport/held-r")
		if err == nil && j.Flag == journey.Critical {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no critical journey for the new report: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if j.ReleasedAt != nil {
		t.Fatalf("a result was released at once under a policy that delays it by a day")
	}
	c := s.client(t)
	c.signIn(demoPatient)
	html := c.page("/results/" + j.ID)
	if body := text(html); !strings.Contains(body, "not ready for you yet") || strings.Contains(body, "7.9") {
		t.Errorf("unshared result page: %s", body)
	}
	st, _, rec := c.get("/account/data/record.json")
	if st != http.StatusOK {
		t.Fatalf("download: %d", st)
	}
	if strings.Contains(rec, "held-k") || strings.Contains(rec, "held-r") {
		t.Error("the download holds a result not shared with the patient")
	}
	// Nor does the trend of the potassium show it.
	k := s.journeyOf(t, journey.Critical)
	if body := c.page("/results/" + k.ID); strings.Contains(body, "7.9 mmol") {
		t.Error("the trend shows a result not shared with the patient")
	}
}

func testOthers(t *testing.T, s *site) {
	ctx := context.Background()
	g, err := demo.NewGenerator(s.seed.Config)
	if err != nil {
		t.Fatal(err)
	}
	other := g.Patient(1).PatientID
	js, _, _, err := s.app.Journeys.OfPatients(ctx, s.seed.Org.ID, []string{other}, "", 1)
	if err != nil || len(js) == 0 {
		t.Fatalf("no journey of another patient: %v", err)
	}
	c := s.client(t)
	c.signIn(demoPatient)
	if st, _, body := c.get("/results/" + js[0].ID); st != http.StatusNotFound || strings.Contains(body, js[0].Display+"</h1>") {
		t.Errorf("another patient's result: %d", st)
	}
	if st, _, _ := c.get("/account/data/record.json?patient=" + other); st != http.StatusNotFound {
		t.Errorf("another patient's record: %d", st)
	}
	if st, _, _ := c.get("/results/no-such-journey"); st != http.StatusNotFound {
		t.Errorf("unknown result: %d", st)
	}
}

func testSpanish(t *testing.T, s *site) {
	ctx := context.Background()
	recipient := "Patient/" + s.patient
	if err := s.app.Notify.SetPreferences(ctx, s.seed.Org.ID, recipient, notify.Preferences{}, "test"); err != nil {
		t.Fatal(err)
	}
	c := s.client(t)
	c.lang = "es-MX,es;q=0.9"
	c.signIn(demoPatient)
	// The demo patient's record prefers English: the profile comes before
	// the browser.
	if html := c.page("/home"); !strings.Contains(html, `<html lang="en"`) {
		t.Errorf("a patient whose record prefers English, with a Spanish browser: %.200s", text(html))
	}
	// The switcher: Spanish on this device, and in the profile.
	st, loc, _ := c.post("/lang", url.Values{"lang": {"es"}, "next": {"/results"}})
	if st != http.StatusSeeOther || loc != "/results" {
		t.Fatalf("switch: %d %q", st, loc)
	}
	if html := c.page("/home"); !strings.Contains(html, `<html lang="es" dir="ltr"`) || !strings.Contains(text(html), "Su salud de un vistazo") {
		t.Errorf("after switching to Spanish: %.300s", text(html))
	}
	prefs, err := s.app.Notify.Preferences(ctx, s.seed.Org.ID, recipient)
	if err != nil || prefs.Lang != "es" {
		t.Errorf("profile language %q (%v), want es", prefs.Lang, err)
	}
	// The profile's language on a new device, whatever its browser says.
	fresh := s.client(t)
	fresh.lang = "en-US"
	fresh.signIn(demoPatient)
	if body := fresh.page("/home"); !strings.Contains(body, `<html lang="es"`) {
		t.Error("a new device did not take the profile's language")
	}
	// Back to English.
	c.post("/lang", url.Values{"lang": {"en"}, "next": {"/home"}})
	if body := c.page("/results"); !strings.Contains(body, `<html lang="en"`) {
		t.Error("the switcher did not change the language back")
	}
	// An open redirect is refused.
	for _, outside := range []string{"//evil.example/x", "/\\evil.example/x", "/\t/evil.example/x", "https://evil.example/"} {
		if _, loc, _ := c.post("/lang", url.Values{"lang": {"en"}, "next": {outside}}); loc != "/home" {
			t.Errorf("switch to an outside page %q: to %q", outside, loc)
		}
	}
	if err := s.app.Notify.SetPreferences(ctx, s.seed.Org.ID, recipient, notify.Preferences{}, "test"); err != nil {
		t.Fatal(err)
	}
}

func testDisplay(t *testing.T, s *site) {
	c := s.client(t)
	c.signIn(demoPatient)
	st, _, body := c.post("/account/display", url.Values{"text": {"huge"}, "lang": {"en"}})
	if st != http.StatusBadRequest || !strings.Contains(text(body), "Choose one of the text sizes") {
		t.Errorf("bad text size: %d %.300s", st, text(body))
	}
	st, loc, _ := c.post("/account/display", url.Values{"text": {"larger"}, "contrast": {"high"}, "lang": {"en"}})
	if st != http.StatusSeeOther || loc != "/account/display" {
		t.Fatalf("save display: %d %q", st, loc)
	}
	html := c.page("/home")
	if !strings.Contains(html, `class="text-larger contrast-high"`) {
		t.Errorf("display choices not applied: %.200s", html)
	}
}

func testBooking(t *testing.T, s *site) {
	ctx := context.Background()
	c := s.client(t)
	c.signIn(demoPatient)
	m := orderLink.FindStringSubmatch(c.page("/home"))
	if m == nil {
		t.Fatal("home offers no follow-up to book")
	}
	order, _ := url.QueryUnescape(m[1])
	book := c.page("/book?order=" + url.QueryEscape(order))
	slots := slotInput.FindAllStringSubmatch(book, -1)
	if len(slots) < 2 {
		t.Fatalf("%d free times offered", len(slots))
	}
	first, second := slots[0][1], slots[1][1]
	// Continue without choosing: the form says so.
	if st, _, body := c.get("/book/confirm?order=" + url.QueryEscape(order)); st != http.StatusBadRequest || !strings.Contains(text(body), "Choose a time.") {
		t.Errorf("no time chosen: %d", st)
	}
	if body := text(c.page("/book/confirm?order=" + url.QueryEscape(order) + "&slot=" + first)); !strings.Contains(body, "Check and confirm") {
		t.Errorf("confirm page: %s", body)
	}
	// A time three weeks ahead is confirmed as well (the appointment book
	// covers four weeks).
	later := slotInput.FindStringSubmatch(c.page("/book?order=" + url.QueryEscape(order) + "&week=1"))
	if later == nil {
		t.Fatal("no free time in the second page of weeks")
	}
	if st, _, body := c.get("/book/confirm?order=" + url.QueryEscape(order) + "&slot=" + later[1]); st != http.StatusOK {
		t.Errorf("confirming a time of a later week: %d %.300s", st, text(body))
	}
	st, loc, _ := c.post("/book", url.Values{"order": {order}, "slot": {first}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/appointments/") {
		t.Fatalf("book: %d %q", st, loc)
	}
	appt := strings.TrimPrefix(loc, "/appointments/")
	if body := text(c.page(loc)); !strings.Contains(body, "Your visit is booked for") || !strings.Contains(body, "Booked") {
		t.Errorf("appointment page: %s", body)
	}
	// The same time again is taken: said plainly, nothing booked.
	st, _, body := c.post("/book", url.Values{"order": {order}, "slot": {first}, "reschedule": {appt}})
	if st != http.StatusConflict || !strings.Contains(text(body), "just been taken") {
		t.Errorf("a taken time: %d %.300s", st, text(body))
	}
	// Reschedule to the second time, then cancel.
	st, loc, _ = c.post("/book", url.Values{"slot": {second}, "reschedule": {appt}})
	if st != http.StatusSeeOther || loc != "/appointments/"+appt {
		t.Fatalf("reschedule: %d %q", st, loc)
	}
	if body := text(c.page(loc)); !strings.Contains(body, "Your visit is moved to") {
		t.Errorf("after rescheduling: %s", body)
	}
	st, loc, _ = c.post("/appointments/"+appt+"/cancel", url.Values{"reason": {"I feel better"}})
	if st != http.StatusSeeOther {
		t.Fatalf("cancel: %d", st)
	}
	if body := text(c.page(loc)); !strings.Contains(body, "Your appointment is cancelled") || !strings.Contains(body, "I feel better") {
		t.Errorf("after cancelling: %s", body)
	}
	if st, _, _ := c.post("/appointments/"+appt+"/cancel", nil); st != http.StatusConflict {
		t.Errorf("cancel twice: %d", st)
	}
	// Each step sent the patient a confirmation (messages are planned from
	// their events in the background: wait for them).
	want := []string{"appointment-booked", "appointment-changed", "appointment-cancelled"}
	kinds := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		msgs, _, err := s.app.Notify.Messages(ctx, s.seed.Org.ID, notify.Filter{PatientID: s.patient, Count: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			kinds[m.Kind] = true
		}
		if kinds[want[0]] && kinds[want[1]] && kinds[want[2]] || time.Now().After(deadline) {
			break
		}
	}
	for _, k := range want {
		if !kinds[k] {
			t.Errorf("no %s message (have %v)", k, kinds)
		}
	}
}

func testDownload(t *testing.T, s *site) {
	c := s.client(t)
	c.signIn(demoPatient)
	if body := text(c.page("/account/data")); !strings.Contains(body, "Printable summary") || !strings.Contains(body, "FHIR") {
		t.Errorf("downloads page: %s", body)
	}
	st, _, raw := c.get("/account/data/record.json")
	if st != http.StatusOK {
		t.Fatalf("record: %d", st)
	}
	var b struct {
		ResourceType, Type string
		Entry              []struct{ Resource json.RawMessage }
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatalf("record is not JSON: %v", err)
	}
	types := map[string]int{}
	for _, e := range b.Entry {
		var r struct{ ResourceType string }
		_ = json.Unmarshal(e.Resource, &r)
		types[r.ResourceType]++
	}
	if b.ResourceType != "Bundle" || b.Type != "collection" || types["Patient"] != 1 || types["Observation"] < 10 || types["DiagnosticReport"] < 3 {
		t.Errorf("record: %s %s %v", b.ResourceType, b.Type, types)
	}
	sum := text(c.page("/account/data/summary"))
	for _, want := range []string{"Health summary", "Date of birth", "Latest test results", "Hemoglobin A1c"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q: %s", want, sum)
		}
	}
}

// auditCount is the number of audit entries about the demo patient.
func (s *site) auditCount(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	if err := s.app.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Entries are searchable once sequenced into the log.
	if _, err := s.app.Audit.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := s.app.Audit.Search(ctx, audit.Query{OrgID: s.seed.Org.ID, Patient: "Patient/" + s.patient, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(found)
}

// testCaregiver: a caregiver with proxy access sees the patient's results,
// each named as the patient's, and may download the record.
func testCaregiver(t *testing.T, s *site) {
	ctx := context.Background()
	hash, err := identity.HashPassword(demo.DemoPassword, identity.DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	carer := &identity.Account{OrgID: s.seed.Org.ID, Email: "carer@example.com", DisplayName: "Chris Carer", Role: identity.RoleCaregiver}
	if err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error { return s.app.Accounts.CreateTx(ctx, tx, carer, hash) }); err != nil {
		t.Fatal(err)
	}
	c := s.client(t)
	c.signIn(carer.Email)
	if body := text(c.page("/results")); !strings.Contains(body, "No one has given you access to their record yet") {
		t.Errorf("a caregiver without access sees: %s", body)
	}
	// No record of their own, no language chosen: the browser's.
	c.lang = "es-MX,es;q=0.9,en;q=0.5"
	if html := c.page("/home"); !strings.Contains(html, `<html lang="es"`) {
		t.Error("Accept-Language es-MX did not give Spanish to a person without a profile language")
	}
	c.lang = ""
	if _, err := access.NewGrants(s.app.DB).GrantProxy(ctx, s.seed.Org.ID, carer.ID, s.patient, "test", "cares for her mother", nil); err != nil {
		t.Fatal(err)
	}
	s.app.Policy.Users.Forget(s.seed.Org.ID, carer.ID) // as the access service does after a grant
	c = s.client(t)
	c.signIn(carer.Email)
	j := s.journeyOf(t, journey.Normal)
	body := text(c.page("/results/" + j.ID))
	if !strings.Contains(body, "Result for ") {
		t.Errorf("the caregiver's page does not say whose result it is: %s", body)
	}
	if body := text(c.page("/account/data")); !strings.Contains(body, "Record of ") {
		t.Errorf("downloads page of a caregiver: %s", body)
	}
	if st, _, _ := c.get("/account/data/record.json?patient=" + s.patient); st != http.StatusOK {
		t.Errorf("caregiver's download: %d", st)
	}
}

// testEveryLanguage renders every portal page in every language of the
// catalog: each answers 200 in its language, and no message key shows
// through (a key missing from the catalog is shown as itself).
func testEveryLanguage(t *testing.T, s *site) {
	cat, err := portal.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	// A key missing from the catalog shows as itself: look for any word
	// shaped like a key of one of the catalog's groups ("result.ack.title").
	groups := map[string]bool{}
	for _, k := range cat.Keys("en") {
		g, _, _ := strings.Cut(k, ".")
		groups[g] = true
	}
	keyish := regexp.MustCompile(`\b([a-z]+)\.[a-z][a-z0-9\-]*(\.[a-z0-9\-]+)*\b`)
	c := s.client(t)
	c.signIn(demoPatient)
	home := c.page("/home")
	m := orderLink.FindStringSubmatch(home)
	if m == nil {
		t.Fatal("no follow-up to book on the home page")
	}
	order, _ := url.QueryUnescape(m[1])
	slot := slotInput.FindStringSubmatch(c.page("/book?order=" + url.QueryEscape(order)))
	if slot == nil {
		t.Fatal("no free time")
	}
	_, loc, _ := c.post("/book", url.Values{"order": {order}, "slot": {slot[1]}})
	if !strings.HasPrefix(loc, "/appointments/") {
		t.Fatalf("booking went to %q", loc)
	}
	pages := []string{"/home", "/results", "/results/" + s.journeyOf(t, journey.Normal).ID, "/results/" + s.journeyOf(t, journey.Abnormal).ID,
		"/results/" + s.journeyOf(t, journey.Critical).ID, "/appointments", loc, "/book?reschedule=" + strings.TrimPrefix(loc, "/appointments/"),
		"/book/confirm?reschedule=" + strings.TrimPrefix(loc, "/appointments/") + "&slot=" + slot[1],
		"/account/display", "/account/data", "/account/data/summary", "/results/no-such-result"}
	for _, lang := range cat.Languages() {
		c.http.Jar.SetCookies(mustURL(t, s.base), []*http.Cookie{{Name: "careloop_lang", Value: lang.Tag, Path: "/"}})
		for _, path := range pages {
			st, _, html := c.get(path)
			if st != http.StatusOK && !(path == "/results/no-such-result" && st == http.StatusNotFound) &&
				!(strings.HasPrefix(path, "/book/confirm") && st == http.StatusConflict) {
				t.Errorf("%s %s: %d", lang.Tag, path, st)
				continue
			}
			if !strings.Contains(html, `<html lang="`+lang.Tag+`"`) {
				t.Errorf("%s %s: not in %s", lang.Tag, path, lang.Tag)
			}
			for _, m := range keyish.FindAllStringSubmatch(text(html), -1) {
				if groups[m[1]] {
					t.Errorf("%s %s shows the key %q", lang.Tag, path, m[0])
				}
			}
		}
	}
	c.post(loc+"/cancel", nil) // free the time for the other tests
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// testRecordLanguage: without a language chosen (switcher, message
// preferences), the patient's record's preferred language is the page's.
func testRecordLanguage(t *testing.T, s *site) {
	ctx := context.Background()
	if err := s.app.Notify.SetPreferences(ctx, s.seed.Org.ID, "Patient/"+s.patient, notify.Preferences{}, "test"); err != nil {
		t.Fatal(err) // the display test chose English
	}
	st, err := s.app.Resources.Read(ctx, s.seed.Org.ID, "Patient", s.patient)
	if err != nil {
		t.Fatal(err)
	}
	var pat map[string]any
	if err := json.Unmarshal(st.JSON, &pat); err != nil {
		t.Fatal(err)
	}
	delete(pat, "meta")
	put := func(v map[string]any) {
		raw, _ := json.Marshal(v)
		if err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, err := s.app.Resources.PutTx(ctx, tx, s.seed.Org.ID, []fhir.Resource{{Type: "Patient", ID: s.patient, JSON: raw}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	spanish := map[string]any{}
	for k, v := range pat {
		spanish[k] = v
	}
	spanish["communication"] = []any{map[string]any{"language": map[string]any{"coding": []any{map[string]any{"system": "urn:ietf:bcp:47", "code": "es-MX"}}}, "preferred": true}}
	put(spanish)
	defer put(pat)
	c := s.client(t)
	c.signIn(demoPatient)
	if body := c.page("/home"); !strings.Contains(body, `<html lang="es"`) {
		t.Error("the record's preferred language (es-MX) was not the page's")
	}
}
