package web_test

// Handler tests of the administrators' pages about messages: the texts
// (/staff/notify/templates) and the providers (/staff/notify/providers),
// against an SMTP server and an SMS provider on loopback, and the
// suppressed addresses.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/notifytest"
)

func TestNotifyTextPages(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	s.person(t, "ana@example.org", "Ana Admin", identity.RoleAdmin)
	s.person(t, "nina@example.org", "Nina Nurse", identity.RoleNurse)
	admin := staffClient(t, s.site, "ana@example.org")
	edit := "/staff/notify/templates/edit?" + url.Values{"kind": {"result-ready"}, "channel": {"email"}, "lang": {"en"}, "level": {"simple"}}.Encode()

	st, _, body := send(t, admin, s.site, "GET", "/staff/notify/templates", nil)
	if st != http.StatusOK || !strings.Contains(body, "A new result is released to the patient.") || strings.Contains(body, `data-own="true"`) ||
		!strings.Contains(body, `href="`+edit+`"`) {
		t.Fatalf("the texts: %d %.800s", st, body)
	}
	st, _, body = send(t, admin, s.site, "GET", edit, nil)
	if st != http.StatusOK || !strings.Contains(body, `data-testid="preview"`) || !strings.Contains(body, "careloop's text") {
		t.Fatalf("a text's page: %d %.800s", st, body)
	}
	if st, _, _ := send(t, admin, s.site, "GET", "/staff/notify/templates/edit?kind=nothing&channel=email&lang=en&level=simple", nil); st != http.StatusNotFound {
		t.Errorf("an unknown text: %d", st)
	}

	mine := "Hello {{.Name}}. Something new waits for you at {{.Org}}{{if .Detail}}: your {{.Detail}}{{end}}. Open it: {{.Link}}"
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   []string
	}{
		{"a preview of a draft", url.Values{"action": {"preview"}, "subject": {"News from {{.Org}}"}, "body": {mine}}, http.StatusOK,
			[]string{"Hello Alex. Something new waits for you at Riverside Family Clinic. Open it:", "News from Riverside Family Clinic"}},
		{"a preview with the detail", url.Values{"action": {"preview"}, "subject": {"News"}, "body": {mine}, "detail": {"on"}}, http.StatusOK,
			[]string{": your cholesterol test.", "with the name of the test"}},
		{"a text without the link", url.Values{"action": {"save"}, "subject": {"News"}, "body": {"Hello {{.Name}}."}}, http.StatusBadRequest,
			[]string{`id="body-error"`, "must contain the link"}},
		{"a text that does not parse", url.Values{"action": {"preview"}, "subject": {"News"}, "body": {"Hello {{.Name"}}, http.StatusBadRequest,
			[]string{`id="body-error"`}},
		{"an email without a subject", url.Values{"action": {"save"}, "subject": {""}, "body": {mine}}, http.StatusBadRequest,
			[]string{`id="subject-error"`, "The subject is required"}},
		{"no button", url.Values{"subject": {"News"}, "body": {mine}}, http.StatusBadRequest, []string{"Press Preview, Save or Reset."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := send(t, admin, s.site, "POST", edit, tt.form)
			if st != tt.status {
				t.Fatalf("%d, want %d: %.500s", st, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q: %.3000s", w, body)
				}
			}
			if list, _ := s.app.Notify.Templates(context.Background(), s.org.ID); ownTexts(list) != 0 {
				t.Errorf("a refused or previewed text was saved")
			}
		})
	}

	// Saved: marked as the organisation's, used by the next message.
	st, loc, _ := send(t, admin, s.site, "POST", edit, url.Values{"action": {"save"}, "subject": {"News from {{.Org}}"}, "body": {mine}})
	if st != http.StatusSeeOther || loc != edit {
		t.Fatalf("saving: %d to %q", st, loc)
	}
	if _, _, body = send(t, admin, s.site, "GET", "/staff/notify/templates", nil); strings.Count(body, `data-own="true"`) != 1 {
		t.Errorf("the saved text is not marked as the organisation's")
	}
	tell(t, s, "result/1", "result-ready", "ada", "")
	if m := s.mailTo(t, "ada@example.org", 1); !strings.Contains(m.Body(), "Hello Ada. Something new waits for you at Riverside Family Clinic. Open it:") ||
		m.Header("Subject") != "News from Riverside Family Clinic" {
		t.Errorf("the email after saving: %q %q", m.Header("Subject"), m.Body())
	}
	// Reset: careloop's text again.
	st, loc, _ = send(t, admin, s.site, "POST", edit, url.Values{"action": {"reset"}})
	if list, _ := s.app.Notify.Templates(context.Background(), s.org.ID); st != http.StatusSeeOther || loc != edit || ownTexts(list) != 0 {
		t.Errorf("reset: %d to %q, own texts %d", st, loc, ownTexts(list))
	}

	// Only administrators.
	nina := staffClient(t, s.site, "nina@example.org")
	for _, path := range []string{"/staff/notify/templates", edit} {
		if st, _, _ := send(t, nina, s.site, "GET", path, nil); st != http.StatusForbidden {
			t.Errorf("a nurse opening %s: %d", path, st)
		}
	}
	if st, _, _ := send(t, nina, s.site, "POST", edit, url.Values{"action": {"save"}, "subject": {"x"}, "body": {mine}}); st != http.StatusForbidden {
		t.Errorf("a nurse saving a text: %d", st)
	}
}

func ownTexts(list []notify.TemplateView) int {
	n := 0
	for _, t := range list {
		if t.Own {
			n++
		}
	}
	return n
}

func TestNotifyProviderPages(t *testing.T) {
	s := startNotifySite(t)
	s.person(t, "ana@example.org", "Ana Admin", identity.RoleAdmin)
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	admin := staffClient(t, s.site, "ana@example.org")
	provider := notifytest.Start(t, "the gateway's signing secret, never shown")
	ctx := context.Background()

	st, _, body := send(t, admin, s.site, "GET", "/staff/notify/providers", nil)
	if st != http.StatusOK || !strings.Contains(body, "SMTP server") || !strings.Contains(body, "careloop's default") {
		t.Fatalf("the providers page: %d %.800s", st, body)
	}

	tests := []struct {
		name   string
		path   string
		form   url.Values
		status int
		field  string
	}{
		{"a webhook without its address", "/staff/notify/providers/sms", url.Values{"kind": {"webhook"}, "webhook-secret": {"s3cret"}}, http.StatusBadRequest, "webhook-url"},
		{"a webhook without its secret", "/staff/notify/providers/sms", url.Values{"kind": {"webhook"}, "webhook-url": {provider.URL}}, http.StatusBadRequest, "webhook-secret"},
		{"a webhook address that is not one", "/staff/notify/providers/sms", url.Values{"kind": {"webhook"}, "webhook-url": {"ftp://x"}, "webhook-secret": {"s3cret"}}, http.StatusBadRequest, ""},
		{"Twilio without an account", "/staff/notify/providers/sms", url.Values{"kind": {"twilio"}, "twilio-from": {"+15555550100"}, "twilio-secret": {"token"}}, http.StatusBadRequest, "twilio-account_sid"},
		{"an SMTP password in the address", "/staff/notify/providers/email", url.Values{"kind": {"smtp"}, "smtp-url": {"smtp://u:pw@mail.example:587"}, "smtp-from": {"a@b.example"}}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := send(t, admin, s.site, "POST", tt.path, tt.form)
			if st != tt.status || !strings.Contains(body, `class="error-summary"`) {
				t.Fatalf("%d, want %d with an error: %.500s", st, tt.status, body)
			}
			if tt.field != "" && !strings.Contains(body, `id="`+tt.field+`-error"`) {
				t.Errorf("the error is not on %s: %.3000s", tt.field, body)
			}
			if strings.Contains(body, "s3cret") || strings.Contains(body, `value="token"`) {
				t.Errorf("the page shows the secret typed")
			}
			if list, _ := s.app.NotifyProviders.Get(ctx, s.org.ID); !list[0].Default || !list[1].Default {
				t.Errorf("a refused provider was stored: %+v", list)
			}
		})
	}

	// The webhook set up: its secret is "set", never shown; kept when the
	// form is sent again without one.
	form := url.Values{"kind": {"webhook"}, "webhook-url": {provider.URL}, "webhook-secret": {provider.Secret}}
	if st, loc, _ := send(t, admin, s.site, "POST", "/staff/notify/providers/sms", form); st != http.StatusSeeOther || loc != "/staff/notify/providers" {
		t.Fatalf("saving the webhook: %d to %q", st, loc)
	}
	form.Del("webhook-secret")
	if st, _, _ := send(t, admin, s.site, "POST", "/staff/notify/providers/sms", form); st != http.StatusSeeOther {
		t.Fatalf("saving it again without the secret: %d", st)
	}
	st, _, body = send(t, admin, s.site, "GET", "/staff/notify/providers", nil)
	if st != http.StatusOK || strings.Contains(body, provider.Secret) || !strings.Contains(body, `<dd data-testid="secret-state">Set</dd>`) || !strings.Contains(body, provider.URL) {
		t.Errorf("the page after saving: %d, shows the secret %v: %.1500s", st, strings.Contains(body, provider.Secret), body)
	}

	// A test message through each provider: the provider's answer.
	st, _, body = send(t, admin, s.site, "POST", "/staff/notify/providers/sms/test", url.Values{"to": {"+1 555 555 0199"}, "lang": {"es"}})
	got := provider.Accepted()
	if st != http.StatusOK || len(got) != 1 || got[0].To != "+15555550199" || !strings.Contains(body, "The provider accepted the test message. Its reference: "+got[0].Ref) {
		t.Fatalf("a test text message: %d, accepted %+v: %.800s", st, got, body)
	}
	st, _, body = send(t, admin, s.site, "POST", "/staff/notify/providers/email/test", url.Values{"to": {"ana@example.org"}, "lang": {"en"}})
	if st != http.StatusOK || !strings.Contains(body, "The provider accepted the test message.") {
		t.Errorf("a test email: %d %.500s", st, body)
	}
	s.mailTo(t, "ana@example.org", 1)
	provider.Refuse("+15555550198")
	st, _, body = send(t, admin, s.site, "POST", "/staff/notify/providers/sms/test", url.Values{"to": {"+1 555 555 0198"}})
	if st < 400 || !strings.Contains(body, `id="test-sms-to-error"`) || !strings.Contains(body, "The provider did not accept the test message") {
		t.Errorf("a test the provider refuses: %d %.800s", st, body)
	}
	if st, _, body := send(t, admin, s.site, "POST", "/staff/notify/providers/sms/test", url.Values{"to": {"tomorrow"}}); st != http.StatusBadRequest || !strings.Contains(body, `id="test-sms-to-error"`) {
		t.Errorf("a test to a number that is not one: %d", st)
	}

	// Back to careloop's default.
	if st, _, _ := send(t, admin, s.site, "POST", "/staff/notify/providers/sms/remove", url.Values{}); st != http.StatusSeeOther {
		t.Errorf("removing: %d", st)
	}
	if list, _ := s.app.NotifyProviders.Get(ctx, s.org.ID); !list[1].Default {
		t.Errorf("after removing, the SMS provider: %+v", list[1])
	}
	// Only administrators.
	cora := staffClient(t, s.site, "cora@example.org")
	if st, _, _ := send(t, cora, s.site, "POST", "/staff/notify/providers/sms", form); st != http.StatusForbidden {
		t.Errorf("a coordinator setting a provider: %d", st)
	}
}

func TestSuppressionsPage(t *testing.T) {
	s := startNotifySite(t)
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	s.person(t, "nina@example.org", "Nina Nurse", identity.RoleNurse)
	ctx := context.Background()
	if err := s.app.Notify.Suppress(ctx, s.org.ID, notify.SMS, "+15555550111", "the person replied STOP"); err != nil {
		t.Fatal(err)
	}
	nina := staffClient(t, s.site, "nina@example.org")
	st, _, body := send(t, nina, s.site, "GET", "/staff/notify/suppressions", nil)
	if st != http.StatusOK || !strings.Contains(body, "+15555550111") || !strings.Contains(body, "the person replied STOP") || strings.Contains(body, "/lift") {
		t.Fatalf("the nurse's page: %d %.500s", st, body)
	}
	if st, _, _ := send(t, nina, s.site, "POST", "/staff/notify/suppressions/lift", url.Values{"channel": {"sms"}, "address": {"+15555550111"}}); st != http.StatusForbidden {
		t.Errorf("a nurse lifting a suppression: %d", st)
	}
	cora := staffClient(t, s.site, "cora@example.org")
	if st, _, _ := send(t, cora, s.site, "POST", "/staff/notify/suppressions/lift", url.Values{"channel": {"sms"}, "address": {"+15555550111"}}); st != http.StatusSeeOther {
		t.Errorf("the coordinator lifting it: %d", st)
	}
	if list, _ := s.app.Notify.Suppressions(ctx, s.org.ID); len(list) != 0 {
		t.Errorf("still suppressed: %+v", list)
	}
	if _, _, body := send(t, cora, s.site, "GET", "/staff/notify/suppressions", nil); !strings.Contains(body, `data-testid="no-suppressions"`) {
		t.Errorf("the empty page: %.300s", body)
	}
}
