package web_test

// Browser test of the pages about messages: a patient follows the link of
// an email while signed out, signs in with their second factor, lands on
// the message, then reads the inbox and changes how they are contacted;
// axe-core on each page, at a phone's width and a desktop's.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
)

// atWidths runs check on the current page at a phone's width (360 px)
// and a desktop's, and fails when the page is wider than the phone's
// screen (content that needs sideways scrolling).
func (b *browser) atWidths(name string, check func(width string)) {
	b.t.Helper()
	for _, w := range []struct {
		name          string
		width, height int64
	}{{"phone", 360, 740}, {"desktop", 1024, 900}} {
		b.do(chromedp.EmulateViewport(w.width, w.height))
		if got := eval[int64](b, `window.innerWidth`); got != w.width {
			b.t.Fatalf("the browser's window is %d px wide, want %d", got, w.width)
		}
		if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); over {
			b.t.Errorf("%s at %d px is wider than the screen: %d px: %v", name, w.width, eval[int](b, `document.documentElement.scrollWidth`),
				eval[[]string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth).slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`))
		}
		check(name + " (" + w.name + ")")
	}
}

func TestBrowserNotifications(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	secret := enrollTOTP(t, s.site, apiSignIn(t, s.site, "ada@example.org"))
	tell(t, s, "result/1", "result-ready", "ada", "")
	link := messageLink(t, s.mailTo(t, "ada@example.org", 1))
	waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.Email })
	inapp := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.InApp })
	b := newBrowser(t, s.site)

	// Signed out, the email's link leads to sign-in, which remembers the
	// message through the password and the second factor.
	b.markPage()
	b.do(chromedp.Navigate(s.base + link))
	b.waitFor("/signin")
	want := "/account/messages/" + inapp.ID
	if got := b.attr(`form[action="/signin"] input[name=next]`, "value"); got != want {
		t.Fatalf("the sign-in form carries next %q, want %q", got, want)
	}
	b.checkA11y("the sign-in page on the way to a message")
	b.fill("#email", "ada@example.org")
	b.fill("#password", password)
	b.click(`form[action="/signin"] button[type=submit]`, "/signin/factor")
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/signin/factor"] button`, want)
	if got := b.text("h1"); got != inapp.Subject {
		t.Errorf("the message's heading %q, want %q", got, inapp.Subject)
	}
	if got := b.text(`[data-testid=message-body]`); !strings.Contains(got, firstLine(inapp.Body)) {
		t.Errorf("the message's text %q lacks %q", got, firstLine(inapp.Body))
	}
	b.atWidths("a message", b.checkA11y)

	// The inbox: the message, read now, is not marked unread.
	b.open("/account/messages")
	rows := b.rows(`[data-testid=message]`)
	if len(rows) != 1 || strings.Contains(rows[0], "Unread") || !strings.Contains(rows[0], inapp.Subject) {
		t.Errorf("the inbox rows: %q", rows)
	}
	if got := b.text(`[data-testid=unread-count]`); got != "You have no unread messages." {
		t.Errorf("the inbox says %q", got)
	}
	b.atWidths("the inbox", b.checkA11y)

	// Preferences: a daily limit too high is refused on its field; then
	// Spanish and quiet hours from 22:00 to 07:00 are saved.
	b.open("/account/notifications")
	b.atWidths("the preferences", b.checkA11y)
	b.set("#daily_cap", "500")
	b.click("#save-prefs", "/account/notifications")
	if got := b.errorSummary(); !strings.Contains(got, "between 1 and 50") {
		t.Errorf("a daily limit of 500: error summary %q", got)
	}
	if got := b.attr("#daily_cap", "aria-invalid"); got != "true" {
		t.Errorf("the daily limit's aria-invalid = %q", got)
	}
	b.atWidths("the preferences with an error", b.checkA11y)
	b.set("#daily_cap", "4")
	b.set("#lang", "es")
	b.set("#quiet_start", "22:00")
	b.set("#quiet_end", "07:00")
	b.click("#save-prefs", "/account/notifications")
	if got := b.text(".flash"); !strings.Contains(got, "saved") {
		t.Errorf("after saving the page says %q %s", got, b.errorSummary())
	}
	for field, want := range map[string]string{"#lang": "es", "#quiet_start": "22:00", "#quiet_end": "07:00", "#daily_cap": "4"} {
		if got := eval[string](b, `document.querySelector("`+field+`").value`); got != want {
			t.Errorf("after saving, %s is %q, want %q", field, got, want)
		}
	}
	prefs, err := s.app.Notify.Preferences(context.Background(), s.org.ID, "Patient/ada")
	if err != nil {
		t.Fatal(err)
	}
	if prefs.Lang != "es" || prefs.QuietStart != "22:00" || prefs.QuietEnd != "07:00" || prefs.DailyCap != 4 {
		t.Errorf("stored preferences: %+v", prefs)
	}
	b.atWidths("the saved preferences", b.checkA11y)
}

// firstLine is the first line of a text.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// TestBrowserStaffMessagePages runs axe-core on the care team's and the
// administrators' pages about messages, at a phone's width and a
// desktop's, and sends a failed message again from the queue.
func TestBrowserStaffMessagePages(t *testing.T) {
	s := startNotifySite(t)
	failed, _ := failedAndBounced(t, s)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.person(t, "ana@example.org", "Ana Admin", identity.RoleAdmin)
	b := newBrowser(t, s.site)

	b.signIn("doc@example.org", "/account/security")
	b.enrollTOTP()
	b.open("/account")
	b.click(`a[href="/staff/messages"]`, "/staff/messages")
	if rows := b.rows(`[data-testid=staff-message]`); len(rows) != 1 || !strings.Contains(rows[0], "Ada Okafor") {
		t.Fatalf("the failure queue: %q", rows)
	}
	b.atWidths("the failure queue", b.checkA11y)
	b.click(`[data-testid=retry]`, "/staff/messages")
	if got := b.text(".flash"); !strings.Contains(got, "queued to be sent again") {
		t.Errorf("after sending again the page says %q %s", got, b.errorSummary())
	}
	retried(t, s, failed.ID, 1)
	b.open("/staff/messages/" + failed.ID)
	if got := b.rows(`[data-testid=status]`); !strings.Contains(strings.Join(got, " "), "sent again at the request of Dr Dee Doc") {
		t.Errorf("the timeline: %q", got)
	}
	b.atWidths("a message's delivery", b.checkA11y)
	b.open("/staff/patients/ada/messages")
	b.atWidths("a patient's messages", b.checkA11y)
	b.open("/staff/notify/suppressions")
	b.atWidths("the suppressed addresses", b.checkA11y)
	b.open("/staff/messages?state=lost")
	b.atWidths("the queue with a bad filter", b.checkA11y)
	b.open("/account")
	b.signOut()

	b.signIn("ana@example.org", "/account/security")
	b.enrollTOTP()
	b.open("/staff/notify/templates")
	b.atWidths("the texts", b.checkA11y)
	b.click(`[data-testid=text] a`, "/staff/notify/templates/edit")
	b.set("#body", "Hello {{.Name}}.")
	b.click("#save", "/staff/notify/templates/edit")
	if got := b.errorSummary(); !strings.Contains(got, "must contain the link") {
		t.Errorf("a text without its link: %q", got)
	}
	b.atWidths("a text with an error", b.checkA11y)
	b.set("#body", "Hello {{.Name}}, news at {{.Org}}: {{.Link}}")
	b.click("#preview", "/staff/notify/templates/edit")
	if got := b.text(`[data-testid=preview-body]`); !strings.Contains(got, "Hello Alex, news at Riverside Family Clinic:") {
		t.Errorf("the preview: %q", got)
	}
	b.atWidths("a text's preview", b.checkA11y)
	b.open("/staff/notify/providers")
	b.atWidths("the providers", b.checkA11y)
}
