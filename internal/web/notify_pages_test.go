package web_test

// Handler tests of the pages about messages: the links of messages (/n/),
// through sign-in with a "next" page; one-click unsubscribe without a
// session; the inbox and the preferences. careloop runs with its
// notification service: events become messages sent through a real SMTP
// server on loopback, and the tests follow the links those emails carry.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
)

// startNotifySite starts a careloop whose emails go to an SMTP server on
// loopback, with its job workers and its notification service running.
func startNotifySite(t *testing.T) *mailSite {
	t.Helper()
	s := startMailSite(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.app.Notify.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return s
}

// contactPatient is a Patient record with an email address and a mobile
// number.
func contactPatient(id, given, family, email, phone string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q,"given":[%q]}],"birthDate":"1961-05-04","telecom":[{"system":"email","value":%q},{"system":"phone","use":"mobile","value":%q}]}`,
		id, family, given, email, phone)
}

// notifyPatient stores a patient with an email address and a mobile
// number, an account linked to the record, and preferences without quiet
// hours (so that the tests do not depend on the time of day) on channels.
func notifyPatient(t *testing.T, s *mailSite, id, given, family string, channels ...string) {
	t.Helper()
	email := id + "@example.org"
	s.record(t, "Patient", id, contactPatient(id, given, family, email, patientPhone(id)))
	s.linked(t, email, given+" "+family, identity.RolePatient, "Patient/"+id)
	prefs := notify.Preferences{QuietStart: "00:00", QuietEnd: "00:00"}
	if len(channels) > 0 {
		prefs.Channels = map[string][]string{"results": channels}
	}
	if err := s.app.Notify.SetPreferences(context.Background(), s.org.ID, "Patient/"+id, prefs, "test"); err != nil {
		t.Fatal(err)
	}
}

// patientPhone is the mobile number of a test patient, one per first
// letter of the id.
func patientPhone(id string) string { return fmt.Sprintf("+1 555 555 %04d", int(id[0])) }

// tell enqueues a message of kind for a patient.
func tell(t *testing.T, s *mailSite, key, kind, patient, target string) {
	t.Helper()
	err := s.app.Notify.Enqueue(context.Background(), notify.Event{OrgID: s.org.ID, Key: key, Kind: kind,
		Recipient: "Patient/" + patient, PatientID: patient, Target: target})
	if err != nil {
		t.Fatal(err)
	}
}

// waitMessage waits until a message about patient matches ok, and returns
// it; the minute bounds a broken test, it measures nothing.
func waitMessage(t *testing.T, s *mailSite, patient string, ok func(m notify.Message) bool) notify.Message {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		msgs, _, err := s.app.Notify.Messages(context.Background(), s.org.ID, notify.Filter{PatientID: patient, Count: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message about %s matches after a minute: %+v", patient, msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailTo waits for the n-th email (from 1) to addr.
func (s *mailSite) mailTo(t *testing.T, addr string, n int) mailtest.Message {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		if got := s.smtp.To(addr); len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails to %s after a minute, want %d", len(s.smtp.To(addr)), addr, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	openLinkPattern        = regexp.MustCompile(`http://localhost:\d+(/n/[A-Za-z0-9_-]+)`)
	unsubscribeLinkPattern = regexp.MustCompile(`<http://localhost:\d+(/n/[A-Za-z0-9_-]+/unsubscribe)>`)
)

// messageLink returns the path of the tracked link in an email.
func messageLink(t *testing.T, m mailtest.Message) string {
	t.Helper()
	match := openLinkPattern.FindStringSubmatch(m.Body())
	if match == nil {
		t.Fatalf("no link in %q", m.Body())
	}
	return match[1]
}

// browserLike returns a client with its own cookies that does not follow
// redirects, as a browser not signed in.
func browserLike(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signInForm is the sign-in form posted with next.
func (s *mailSite) signInForm(email, next string) url.Values {
	return url.Values{"org": {s.org.Slug}, "email": {email}, "password": {password}, "next": {next}}
}

func TestMessageLinkThroughSignIn(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	tell(t, s, "result/1", "result-ready", "ada", "")
	link := messageLink(t, s.mailTo(t, "ada@example.org", 1))
	email := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.Email && m.State == notify.Sent })
	inapp := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.InApp })

	// Not signed in: the link is recorded as followed, and leads to the
	// sign-in page that will land on the message.
	c := browserLike(t)
	st, loc, _ := send(t, c, s.site, "GET", link, nil)
	want := "/account/messages/" + inapp.ID
	if st != http.StatusSeeOther || loc != "/signin?next="+url.QueryEscape(want) {
		t.Fatalf("GET %s: %d to %q, want 303 to sign in with next %s", link, st, loc, want)
	}
	if m, err := s.app.Notify.Message(context.Background(), s.org.ID, email.ID); err != nil || m.State != notify.Opened || m.OpenedAt == nil {
		t.Errorf("the followed link is not recorded: %+v %v", m, err)
	}
	st, _, body := send(t, c, s.site, "GET", loc, nil)
	if st != http.StatusOK || !strings.Contains(body, `name="next" value="`+want+`"`) {
		t.Fatalf("the sign-in page does not carry next: %d %.500s", st, body)
	}
	st, loc, _ = send(t, c, s.site, "POST", "/signin", s.signInForm("ada@example.org", want))
	if st != http.StatusSeeOther || loc != want {
		t.Fatalf("sign-in with next: %d to %q, want %s", st, loc, want)
	}
	st, _, body = send(t, c, s.site, "GET", loc, nil)
	if st != http.StatusOK || !strings.Contains(body, inapp.Subject) {
		t.Fatalf("the message after sign-in: %d %.500s", st, body)
	}
	if m, _ := s.app.Notify.Message(context.Background(), s.org.ID, inapp.ID); m.ReadAt == nil {
		t.Errorf("the message shown is not marked read")
	}

	// Signed in, the link leads straight there; the sign-in page too.
	if st, loc, _ := send(t, c, s.site, "GET", link, nil); st != http.StatusSeeOther || loc != want {
		t.Errorf("the link while signed in: %d to %q", st, loc)
	}
	if st, loc, _ := send(t, c, s.site, "GET", "/signin?next=%2Faccount%2Fnotifications", nil); st != http.StatusSeeOther || loc != "/account/notifications" {
		t.Errorf("the sign-in page while signed in: %d to %q", st, loc)
	}

	// Bad links: a changed token is the 404 page; an expired one says so.
	if st, _, body := send(t, browserLike(t), s.site, "GET", link[:len(link)-2]+"xx", nil); st != http.StatusNotFound || !strings.Contains(body, "Page not found") {
		t.Errorf("a forged link: %d %.300s", st, body)
	}
	key, err := keys.LoadOrCreate(s.app.Config.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	expired := notify.NewLinks(key.Derive("notify links", 32), s.base, 0).Open(email.ID, time.Now().Add(-15*24*time.Hour))
	st, _, body = send(t, browserLike(t), s.site, "GET", strings.TrimPrefix(expired, s.base), nil)
	if st != http.StatusGone || !strings.Contains(body, "This link has expired") || !strings.Contains(body, `href="/signin?next=%2Faccount%2Fmessages"`) {
		t.Errorf("an expired link: %d %.600s", st, body)
	}
}

func TestSignInNextWithSecondFactor(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "bea", "Bea", "Bell")
	secret := enrollTOTP(t, s.site, apiSignIn(t, s.site, "bea@example.org"))

	c := browserLike(t)
	st, loc, _ := send(t, c, s.site, "POST", "/signin", s.signInForm("bea@example.org", "/account/notifications"))
	if st != http.StatusSeeOther || loc != "/signin/factor" {
		t.Fatalf("password step: %d to %q", st, loc)
	}
	// The enrolment used the current time step; each is accepted once.
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, loc, _ = send(t, c, s.site, "POST", "/signin/factor", url.Values{"code": {code}})
	if st != http.StatusSeeOther || loc != "/account/notifications" {
		t.Fatalf("second factor with next: %d to %q", st, loc)
	}
	// Spent: the browser no longer holds it.
	u, err := url.Parse(s.base + "/signin/factor")
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "careloop_next" {
			t.Errorf("the next page is still remembered after the second factor: %q", ck.Value)
		}
	}
}

func TestSignInIgnoresForeignNext(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor")
	tests := []struct{ name, next string }{
		{"another host", "//evil.example"},
		{"another host with a path", "//evil.example/account"},
		{"an absolute URL", "https://evil.example"},
		{"a scheme", "javascript:alert(1)"},
		{"a backslash", "/\\evil.example"},
		{"a tab browsers drop", "/\t/evil.example"},
		{"a relative path", "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browserLike(t)
			st, _, body := send(t, c, s.site, "GET", "/signin?next="+url.QueryEscape(tt.next), nil)
			// The sign-in form, after the language switcher (whose next is
			// this page, local whatever its query).
			form := body[strings.Index(body, `action="/signin"`)+1:]
			if st != http.StatusOK || strings.Contains(form, `name="next"`) {
				t.Errorf("the sign-in page carries %q: %d", tt.next, st)
			}
			st, loc, _ := send(t, c, s.site, "POST", "/signin", s.signInForm("ada@example.org", tt.next))
			if st != http.StatusSeeOther || loc != "/home" {
				t.Errorf("sign-in with next %q: %d to %q, want the patient's /home", tt.next, st, loc)
			}
		})
	}
}

func TestUnsubscribeOneClick(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	tell(t, s, "result/1", "result-ready", "ada", "")
	m := s.mailTo(t, "ada@example.org", 1)
	match := unsubscribeLinkPattern.FindStringSubmatch(m.Header("List-Unsubscribe"))
	if match == nil || m.Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("the email's unsubscribe headers: %q, %q", m.Header("List-Unsubscribe"), m.Header("List-Unsubscribe-Post"))
	}
	link := match[1]
	suppressed := func() bool {
		list, err := s.app.Notify.Suppressions(context.Background(), s.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(list, func(x notify.Suppression) bool { return x.Address == "ada@example.org" && x.Channel == notify.Email })
	}

	// Opening the link asks; it changes nothing (mail scanners open links).
	st, _, body := send(t, browserLike(t), s.site, "GET", link, nil)
	if st != http.StatusOK || !strings.Contains(body, "Stop these messages") || suppressed() {
		t.Fatalf("opening the unsubscribe link: %d, suppressed %v: %.300s", st, suppressed(), body)
	}

	// A mail provider's one-click request: from its own servers, without a
	// session, declaring another origin.
	req, err := http.NewRequest("POST", s.base+link, strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://mail.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !suppressed() {
		t.Fatalf("one-click unsubscribe: %d, suppressed %v", resp.StatusCode, suppressed())
	}
	// Said again (the button after the provider's request): the same answer.
	st, _, body = send(t, browserLike(t), s.site, "POST", link, url.Values{"List-Unsubscribe": {"One-Click"}})
	if st != http.StatusOK || !strings.Contains(body, "We will send no more email") || !strings.Contains(body, `href="/account/notifications"`) {
		t.Errorf("unsubscribing again: %d %.400s", st, body)
	}
	// The next message is not emailed, only kept in the inbox.
	tell(t, s, "result/2", "result-ready", "ada", "")
	got := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.Email && m.State == notify.Suppressed })
	if got.SentAt != nil {
		t.Errorf("an email to an unsubscribed address was sent: %+v", got)
	}
	// A link of another purpose or a changed one unsubscribes nothing.
	open := strings.TrimSuffix(link, "/unsubscribe")
	for _, bad := range []string{open[:len(open)-2] + "xx/unsubscribe", messageLink(t, m) + "/unsubscribe"} {
		if bad == link {
			continue
		}
		if st, _, _ := send(t, browserLike(t), s.site, "POST", bad, url.Values{}); st != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", bad, st)
		}
	}
}

func TestInboxPages(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	notifyPatient(t, s, "bob", "Bob", "Brown", notify.Email)
	s.person(t, "rui@example.org", "Rui Rocha", identity.RolePatient) // no record yet
	tell(t, s, "result/1", "result-ready", "ada", "")
	tell(t, s, "visit/1", "appointment-reminder", "ada", "")
	tell(t, s, "result/9", "result-ready", "bob", "")
	first := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.InApp && m.Kind == "result-ready" })
	waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.InApp && m.Kind == "appointment-reminder" })
	bobs := waitMessage(t, s, "bob", func(m notify.Message) bool { return m.Channel == notify.InApp })

	ada := noRedirects(apiSignIn(t, s.site, "ada@example.org"))
	st, _, body := send(t, ada, s.site, "GET", "/account", nil)
	if st != http.StatusOK || !strings.Contains(body, "2 unread") {
		t.Errorf("the account page's unread count: %d %.300s", st, body)
	}
	st, _, body = send(t, ada, s.site, "GET", "/account/messages", nil)
	if st != http.StatusOK || strings.Count(body, `data-unread="true"`) != 2 || strings.Count(body, "<strong>Unread:</strong>") != 2 ||
		!strings.Contains(body, "You have 2 unread messages.") || strings.Contains(body, bobs.ID) {
		t.Fatalf("the inbox: %d %.800s", st, body)
	}
	// In pages of one: each message once, then no further page.
	rows := regexp.MustCompile(`href="/account/messages/([0-9a-f-]{36})"`)
	var seen []string
	path := "/account/messages?count=1"
	for pages := 0; path != ""; pages++ {
		if pages == 3 {
			t.Fatalf("more than two pages of one for two messages: %v", seen)
		}
		st, _, body = send(t, ada, s.site, "GET", path, nil)
		ids := rows.FindAllStringSubmatch(body, -1)
		if st != http.StatusOK || len(ids) != 1 || (pages > 0) != strings.Contains(body, "Newest messages") {
			t.Fatalf("page %d of one: %d, %d messages: %.500s", pages+1, st, len(ids), body)
		}
		seen = append(seen, ids[0][1])
		path = ""
		if next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body); next != nil {
			path = strings.ReplaceAll(next[1], "&amp;", "&")
		}
	}
	if len(seen) != 2 || seen[0] == seen[1] || !slices.Contains(seen, first.ID) {
		t.Errorf("pages of one showed %v", seen)
	}
	if st, _, _ := send(t, ada, s.site, "GET", "/account/messages?count=none", nil); st != http.StatusBadRequest {
		t.Errorf("a page size that is not a number: %d", st)
	}

	// Opening one marks it read.
	st, _, body = send(t, ada, s.site, "GET", "/account/messages/"+first.ID, nil)
	if st != http.StatusOK || !strings.Contains(body, first.Subject) {
		t.Fatalf("a message: %d %.300s", st, body)
	}
	if _, _, body = send(t, ada, s.site, "GET", "/account", nil); !strings.Contains(body, "1 unread") {
		t.Errorf("after reading one, the account page: %.300s", body)
	}
	// Someone else's message, an unknown one: the same 404 page, nothing
	// of it shown or changed.
	for _, id := range []string{bobs.ID, "no-such-message"} {
		if st, _, body := send(t, ada, s.site, "GET", "/account/messages/"+id, nil); st != http.StatusNotFound || strings.Contains(body, bobs.Subject) {
			t.Errorf("another's message %s: %d", id, st)
		}
	}
	if m, _ := s.app.Notify.Message(context.Background(), s.org.ID, bobs.ID); m.ReadAt != nil {
		t.Errorf("Bob's message was marked read by Ada")
	}
	// Each view is in the audit log, about Ada only.
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
	if kinds["notify-inbox"] < 3 || kinds["notify-inbox-message"] != 1 {
		t.Errorf("audited views of Ada's messages: %v", kinds)
	}

	// A patient whose record is not linked has no inbox yet.
	rui := noRedirects(apiSignIn(t, s.site, "rui@example.org"))
	if st, _, body := send(t, rui, s.site, "GET", "/account/messages", nil); st != http.StatusOK || !strings.Contains(body, `data-testid="no-inbox"`) {
		t.Errorf("the inbox of an account without a record: %d %.300s", st, body)
	}
	// With the audit log down, the inbox shows nothing.
	if err := s.app.Audit.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _, body := send(t, ada, s.site, "GET", "/account/messages", nil); st < 500 || strings.Contains(body, first.Subject) {
		t.Errorf("the inbox with the audit log down: %d", st)
	}
}

func TestNotifyPreferencesPage(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor")
	s.person(t, "cai@example.org", "Cai Carer", identity.RoleCaregiver)
	s.person(t, "nina@example.org", "Nina Nurse", identity.RoleNurse)
	ctx := context.Background()
	stored := func(recipient string) notify.Preferences {
		p, err := s.app.Notify.Preferences(ctx, s.org.ID, recipient)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := stored("Patient/ada")
	ada := noRedirects(apiSignIn(t, s.site, "ada@example.org"))
	st, _, body := send(t, ada, s.site, "GET", "/account/notifications", nil)
	if st != http.StatusOK || !strings.Contains(body, `id="channels-results-first"`) || !strings.Contains(body, `value="00:00"`) ||
		!strings.Contains(body, "This is health information") {
		t.Fatalf("the preferences page: %d %.600s", st, body)
	}

	valid := url.Values{
		"channels-results-first": {"sms"}, "channels-results-fallback": {"email"},
		"channels-appointments-first": {"email"}, "channels-appointments-fallback": {""},
		"channels-reminders-first": {"email"}, "channels-reminders-fallback": {"sms"},
		"quiet_start": {"22:00"}, "quiet_end": {"07:00:00"}, "time_zone": {"America/New_York"}, "lang": {"es"},
		"level": {"standard"}, "daily_cap": {"3"}, "details": {"on"}, "opt_out_sms": {"on"},
	}
	// with is the valid form with fields changed (name, value, …).
	with := func(changes ...string) url.Values {
		f := url.Values{}
		for k, v := range valid {
			f[k] = v
		}
		for i := 0; i+1 < len(changes); i += 2 {
			f.Set(changes[i], changes[i+1])
		}
		return f
	}
	tests := []struct {
		name  string
		form  url.Values
		field string
		words string
	}{
		{"a time that is not one", with("quiet_start", "25:00"), "quiet_start", "Start of quiet hours:"},
		{"one end of quiet hours", with("quiet_end", ""), "quiet_start", "give both the start and the end"},
		{"the same channel twice", with("channels-results-fallback", "sms"), "channels-results-fallback", "listed twice"},
		{"no channel at all", with("channels-results-first", "", "channels-results-fallback", ""), "channels-results-first", "choose email or text message"},
		{"an unknown channel", with("channels-results-first", "pigeon"), "channels-results-first", "unknown channel"},
		{"a time zone that is not one", with("time_zone", "Mars/Olympus"), "time_zone", "is not a time zone"},
		{"a language not offered", with("lang", "fr"), "lang", "is not offered"},
		{"a daily limit not a number", with("daily_cap", "many"), "daily_cap", "enter a number"},
		{"a daily limit too high", with("daily_cap", "500"), "daily_cap", "between 1 and 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := send(t, ada, s.site, "POST", "/account/notifications", tt.form)
			if st != http.StatusBadRequest {
				t.Fatalf("%d, want 400: %.300s", st, body)
			}
			if !strings.Contains(body, `id="`+tt.field+`-error"`) || !strings.Contains(body, `href="#`+tt.field+`"`) || !strings.Contains(body, tt.words) {
				t.Errorf("the error is not on %s with %q: %.2000s", tt.field, tt.words, body)
			}
			if got := stored("Patient/ada"); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("refused preferences changed what is stored: %+v", got)
			}
		})
	}

	st, loc, _ := send(t, ada, s.site, "POST", "/account/notifications", valid)
	if st != http.StatusSeeOther || loc != "/account/notifications" {
		t.Fatalf("saving: %d to %q", st, loc)
	}
	got := stored("Patient/ada")
	want := notify.Preferences{Channels: map[string][]string{"results": {"sms", "email"}, "appointments": {"email"}, "reminders": {"email", "sms"}},
		QuietStart: "22:00", QuietEnd: "07:00", TimeZone: "America/New_York", Lang: "es", Level: "standard", DailyCap: 3, Details: true, OptOut: []string{"sms"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %+v\nwant %+v", got, want)
	}
	// Spanish is now Ada's profile language: her pages speak it.
	_, _, body = send(t, ada, s.site, "GET", "/account/notifications", nil)
	for _, w := range []string{`<html lang="es"`, `<option value="es" selected>`, `<option value="en" lang="en">`, `value="22:00"`, `<option value="America/New_York" selected>`, `id="details" name="details" value="on" checked`} {
		if !strings.Contains(body, w) {
			t.Errorf("the saved page lacks %s", w)
		}
	}

	// Staff choose for their own account: the care team's messages.
	nina := staffClient(t, s.site, "nina@example.org")
	st, _, body = send(t, nina, s.site, "GET", "/account/notifications", nil)
	if st != http.StatusOK || !strings.Contains(body, `id="channels-care-team-first"`) || strings.Contains(body, `id="channels-results-first"`) || strings.Contains(body, `id="details"`) {
		t.Fatalf("a nurse's preferences page: %d %.600s", st, body)
	}
	staffForm := url.Values{"channels-care-team-first": {"email"}, "quiet_start": {"23:00"}, "quiet_end": {"06:00"}, "level": {"standard"}, "daily_cap": {"5"}}
	if st, _, _ := send(t, nina, s.site, "POST", "/account/notifications", staffForm); st != http.StatusSeeOther {
		t.Fatalf("a nurse saving: %d", st)
	}
	nurse, _, err := s.app.Accounts.ByEmail(ctx, s.org.ID, "nina@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got := stored("account:" + nurse.ID); got.QuietStart != "23:00" || fmt.Sprint(got.Channels) != "map[care-team:[email]]" {
		t.Errorf("the nurse's stored preferences: %+v", got)
	}

	// A caregiver has none of their own to set.
	cai := noRedirects(apiSignIn(t, s.site, "cai@example.org"))
	if st, _, body := send(t, cai, s.site, "GET", "/account/notifications", nil); st != http.StatusOK || !strings.Contains(body, `data-testid="no-prefs"`) {
		t.Errorf("a caregiver's preferences page: %d", st)
	}
	if st, _, _ := send(t, cai, s.site, "POST", "/account/notifications", valid); st != http.StatusForbidden {
		t.Errorf("a caregiver saving: %d, want 403", st)
	}
}
