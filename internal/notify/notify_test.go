package notify_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/notifytest"
	"github.com/careloop/careloop/internal/notify/sms"
	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
	"github.com/careloop/careloop/internal/tenant"
)

// people is the directory of the tests: contacts by recipient.
type people struct {
	mu sync.Mutex
	m  map[string]notify.Contact
}

func (p *people) Contact(_ context.Context, _, recipient string) (notify.Contact, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[recipient]
	if !ok {
		return c, errs.NotFoundf("no %s", recipient)
	}
	return c, nil
}

func (p *people) OrgName(context.Context, string) (string, error) { return "Riverside Clinic", nil }

func (p *people) add(recipient string, c notify.Contact) {
	p.mu.Lock()
	p.m[recipient] = c
	p.mu.Unlock()
}

// clock is the tests' time: real time shifted by an offset they set.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// set makes the clock read t now.
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.offset = time.Until(t)
	c.mu.Unlock()
}

type env struct {
	t      testing.TB
	d      *db.DB
	org    string
	people *people
	clock  *clock
	mail   *mailtest.Server
	sms    *notifytest.Provider
	prov   *notify.Providers
	s      *notify.Service
	api    *httptest.Server
}

const smsSecret = "test-signing-secret"

var orgSeq atomic.Int64

// newEnv starts a service on d for a new organisation; tune, if given,
// changes the service's settings first.
func newEnv(t testing.TB, d *db.DB, tune ...func(*notify.Config)) *env {
	t.Helper()
	ctx := context.Background()
	o := &tenant.Organization{Slug: fmt.Sprintf("riverside-%d", orgSeq.Add(1)), Name: "Riverside Clinic"}
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, o) }); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, org: o.ID, people: &people{m: map[string]notify.Contact{}}, clock: &clock{}}
	// Daytime everywhere the tests look: outside default quiet hours.
	e.clock.set(time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC))
	e.mail = mailtest.Start(t, mailtest.Options{RejectRcpt: []string{"bounce@example.org"}})
	e.sms = notifytest.Start(t, smsSecret)
	smtp, err := mail.NewSMTP(e.mail.URL+"?tls=none", "Riverside Clinic <no-reply@riverside.test>")
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	e.prov = notify.NewProviders(d, key, notify.ProviderDefaults{
		Email: notify.EmailSender{SMTP: smtp}, EmailKind: "smtp",
		SMS: notify.SMSSender{Provider: &sms.Webhook{URL: e.sms.URL, Secret: smsSecret, From: "+15550000000", Client: sms.NewClient()}}, SMSKind: "webhook",
	}, nil)
	mux := http.NewServeMux()
	e.api = httptest.NewServer(mux)
	t.Cleanup(e.api.Close)
	cfg := notify.Config{DB: d, Directory: e.people, Links: notify.NewLinks(key, "https://care.riverside.test", 0),
		Providers: e.prov, ReceiptsURL: e.api.URL, Poll: 5 * time.Millisecond, Lease: 3 * time.Second,
		MaxAttempts: 3, RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, Now: e.clock.Now}
	for _, f := range tune {
		f(&cfg)
	}
	e.s = notify.New(cfg)
	(&notify.API{Service: e.s, Providers: e.prov, PublicURL: e.api.URL}).Register(mux)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = e.s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	return e
}

func (e *env) enqueue(evs ...notify.Event) {
	e.t.Helper()
	for i := range evs {
		evs[i].OrgID = e.org
	}
	if err := e.s.Enqueue(context.Background(), evs...); err != nil {
		e.t.Fatal(err)
	}
}

// messages returns the event's messages by channel, once the planner made
// them.
func (e *env) messages(recipient string) map[string][]notify.Message {
	e.t.Helper()
	list, _, err := e.s.Messages(context.Background(), e.org, notify.Filter{Recipients: []string{recipient}, Count: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]notify.Message{}
	for _, m := range list {
		out[m.Channel] = append(out[m.Channel], m)
	}
	return out
}

// until waits for cond, failing the test after 20 seconds (a bound so
// that a broken test ends, not a measure of speed).
func (e *env) until(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("waited 20s for %s", what)
		}
	}
}

// state waits until the only message of recipient on channel is in state.
func (e *env) state(recipient, channel, state string) notify.Message {
	e.t.Helper()
	var m notify.Message
	e.until(recipient+"'s "+channel+" message "+state, func() bool {
		ms := e.messages(recipient)[channel]
		if len(ms) == 0 {
			return false
		}
		m = ms[0]
		return m.State == state
	})
	full, err := e.s.Message(context.Background(), e.org, m.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return full
}

func render(t testing.TB, k templates.Key, d templates.Data) templates.Rendered {
	t.Helper()
	r, err := templates.Default().Render(k, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var linkPattern = regexp.MustCompile(`https://care\.riverside\.test/n/[A-Za-z0-9_-]{43}`)

func TestNotifications(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		t.Run("once, in the person's language, without health information", func(t *testing.T) {
			e := newEnv(t, d)
			e.people.add("Patient/maria", notify.Contact{Name: "María", Email: "maria@example.org", Phone: "+15550001111", Lang: "es"})
			ev := notify.Event{Key: "journey/j1/released", Kind: "result-ready", Recipient: "Patient/maria", PatientID: "maria", Detail: "colesterol"}
			e.enqueue(ev)
			e.enqueue(ev) // the same key: nothing more
			msgs := e.mail.Wait(t, 1)
			email := e.state("Patient/maria", notify.Email, notify.Sent)
			want := render(t, templates.Key{Kind: templates.ResultReady, Channel: notify.Email, Lang: "es", Level: "simple"},
				templates.Data{Name: "María", Org: "Riverside Clinic", Link: "x"})
			if got := msgs[0].Header("Subject"); got != want.Subject {
				t.Errorf("subject %q, want the Spanish %q", got, want.Subject)
			}
			body := msgs[0].Body()
			if strings.Contains(body, "colesterol") {
				t.Errorf("the email names the test, which the patient did not choose:\n%s", body)
			}
			if !linkPattern.MatchString(body) || !strings.Contains(body, "Mar") {
				t.Errorf("the email has no signed link or greeting:\n%s", body)
			}
			if id := msgs[0].Header("Message-ID"); id != "<"+email.ID+"@riverside.test>" {
				t.Errorf("Message-ID %q, want the message's id %s", id, email.ID)
			}
			got := e.messages("Patient/maria")
			if len(got[notify.InApp]) != 1 || got[notify.InApp][0].State != notify.Delivered {
				t.Errorf("in-app copy: %+v", got[notify.InApp])
			}
			e.until("the SMS fallback skipped", func() bool {
				s := e.messages("Patient/maria")[notify.SMS]
				return len(s) == 1 && s[0].State == notify.Skipped
			})
			if n := len(e.mail.Messages()); n != 1 {
				t.Errorf("%d emails for one event sent twice, want 1", n)
			}
			if n := len(e.sms.Accepted()); n != 0 {
				t.Errorf("%d text messages, want none (email worked)", n)
			}

			// With details chosen, the next message names the test.
			if err := e.s.SetPreferences(context.Background(), e.org, "Patient/maria", notify.Preferences{Details: true}, "test"); err != nil {
				t.Fatal(err)
			}
			ev.Key = "journey/j2/released"
			e.enqueue(ev)
			if body := e.mail.Wait(t, 2)[1].Body(); !strings.Contains(body, "colesterol") {
				t.Errorf("the patient chose details, the email does not name the test:\n%s", body)
			}
		})

		t.Run("quiet hours hold messages to patients, not urgent ones to clinicians", func(t *testing.T) {
			e := newEnv(t, d)
			ny, _ := time.LoadLocation("America/New_York")
			night := time.Date(2026, 11, 24, 23, 30, 0, 0, ny)
			e.clock.set(night)
			e.people.add("Patient/pat", notify.Contact{Email: "pat@example.org", TimeZone: "America/New_York"})
			e.people.add("Practitioner/doc", notify.Contact{Email: "doc@example.org", TimeZone: "America/New_York", Staff: true})
			e.enqueue(notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/pat"},
				notify.Event{Key: "k2", Kind: "critical-escalation", Recipient: "Practitioner/doc", Target: "/staff/results/j1"})
			e.mail.Wait(t, 1)
			if got := e.mail.To("doc@example.org"); len(got) != 1 {
				t.Fatalf("the clinician got %d messages at night, want the urgent one", len(got))
			}
			held := e.state("Patient/pat", notify.Email, notify.Queued)
			morning := time.Date(2026, 11, 25, 8, 0, 0, 0, ny)
			if held.DueAt == nil || !held.DueAt.Equal(morning) {
				t.Fatalf("the patient's message is due %v, want the end of quiet hours %v", held.DueAt, morning)
			}
			if len(e.mail.To("pat@example.org")) != 0 {
				t.Fatal("the patient got a message in quiet hours")
			}
			// Jump to the morning only once the night's send is recorded:
			// a jump past its lease would make it look abandoned.
			e.state("Practitioner/doc", notify.Email, notify.Sent)
			e.clock.set(morning.Add(time.Second))
			e.mail.Wait(t, 2)
			e.state("Patient/pat", notify.Email, notify.Sent)
		})

		t.Run("opt-out and an SMS STOP are honoured", func(t *testing.T) {
			e := newEnv(t, d)
			if err := e.prov.Set(context.Background(), e.org, notify.ProviderSettings{Channel: notify.SMS, Kind: "webhook",
				Settings: map[string]string{"url": e.sms.URL, "from": "+15550000000"}, Secret: smsSecret}, "test", time.Now()); err != nil {
				t.Fatal(err)
			}
			e.people.add("Patient/sam", notify.Contact{Email: "sam@example.org", Phone: "+15550002222"})
			if err := e.s.SetPreferences(context.Background(), e.org, "Patient/sam", notify.Preferences{OptOut: []string{"email"}}, "sam"); err != nil {
				t.Fatal(err)
			}
			e.enqueue(notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/sam"})
			got := e.sms.Wait(t, 1, 20*time.Second)
			if got[0].To != "+15550002222" || !strings.Contains(got[0].Text, "https://care.riverside.test/n/") {
				t.Fatalf("text message %+v", got[0])
			}
			if len(e.messages("Patient/sam")[notify.Email]) != 0 {
				t.Fatal("an email was planned for a person who opted out of email")
			}
			// Sam replies STOP.
			if code := e.postSigned("/notify/inbound/webhook/"+e.org, `{"from":"+1 555 000 2222","to":"+15550000000","text":" stop "}`); code != http.StatusNoContent {
				t.Fatalf("inbound STOP answered %d", code)
			}
			e.enqueue(notify.Event{Key: "k2", Kind: "result-ready", Recipient: "Patient/sam"})
			e.until("the second SMS suppressed", func() bool {
				s := e.messages("Patient/sam")[notify.SMS]
				return len(s) == 2 && s[0].State == notify.Suppressed
			})
			if n := len(e.sms.Accepted()); n != 1 {
				t.Fatalf("%d text messages after STOP, want only the one before", n)
			}
			if e.messages("Patient/sam")[notify.InApp][0].State != notify.Delivered {
				t.Fatal("the in-app copy must still reach the portal")
			}
			// A wrong signature changes nothing.
			if code := e.post("/notify/inbound/webhook/"+e.org, `{"from":"+15550002222","text":"START"}`, "t=1,v1=00"); code != http.StatusForbidden {
				t.Fatalf("unsigned START answered %d, want 403", code)
			}
			if list, _ := e.s.Suppressions(context.Background(), e.org); len(list) != 1 {
				t.Fatalf("suppressions %+v", list)
			}
			if code := e.postSigned("/notify/inbound/webhook/"+e.org, `{"from":"+15550002222","to":"+15550000000","text":"START"}`); code != http.StatusNoContent {
				t.Fatalf("inbound START answered %d", code)
			}
			if list, _ := e.s.Suppressions(context.Background(), e.org); len(list) != 0 {
				t.Fatalf("START left suppressions %+v", list)
			}
		})

		t.Run("a bounced email falls back to SMS and suppresses the address", func(t *testing.T) {
			e := newEnv(t, d)
			e.people.add("Patient/bo", notify.Contact{Email: "bounce@example.org", Phone: "+15550003333"})
			e.enqueue(notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/bo"})
			e.sms.Wait(t, 1, 20*time.Second)
			email := e.state("Patient/bo", notify.Email, notify.Bounced)
			if !strings.Contains(email.LastError, "550") {
				t.Errorf("bounce reason %q", email.LastError)
			}
			text := e.state("Patient/bo", notify.SMS, notify.Sent)
			if text.Timeline[len(text.Timeline)-2].Detail != "fallback: the email message failed" {
				t.Errorf("SMS timeline %+v", text.Timeline)
			}
			list, err := e.s.Suppressions(context.Background(), e.org)
			if err != nil || len(list) != 1 || list[0].Address != "bounce@example.org" {
				t.Fatalf("suppressions %+v %v", list, err)
			}
		})

		t.Run("transient failures are retried with backoff", func(t *testing.T) {
			e := newEnv(t, d)
			e.sms.FailNext(2)
			e.people.add("Patient/ri", notify.Contact{Phone: "+15550004444"})
			e.enqueue(notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/ri"})
			e.sms.Wait(t, 1, 20*time.Second)
			m := e.state("Patient/ri", notify.SMS, notify.Sent)
			if m.Attempts != 3 {
				t.Errorf("%d attempts, want 3 (two 503s, then accepted)", m.Attempts)
			}
			retries := 0
			for _, st := range m.Timeline {
				if st.State == notify.Queued && strings.Contains(st.Detail, "failed") {
					retries++
				}
			}
			if retries != 2 {
				t.Errorf("timeline %+v: want 2 retries", m.Timeline)
			}
			if all, bad := e.sms.Requests(); all != 3 || bad != 0 {
				t.Errorf("provider saw %d requests (%d badly signed), want 3", all, bad)
			}
		})

		t.Run("receipts move messages on; a failed one wakes the fallback", func(t *testing.T) {
			e := newEnv(t, d)
			if err := e.prov.Set(context.Background(), e.org, notify.ProviderSettings{Channel: notify.SMS, Kind: "webhook",
				Settings: map[string]string{"url": e.sms.URL}, Secret: smsSecret}, "test", time.Now()); err != nil {
				t.Fatal(err)
			}
			e.people.add("Patient/a", notify.Contact{Phone: "+15550005555"})
			e.people.add("Patient/b", notify.Contact{Phone: "+15550006666", Email: "b@example.org"})
			if err := e.s.SetPreferences(context.Background(), e.org, "Patient/b", notify.Preferences{Channels: map[string][]string{"results": {"sms", "email"}}}, "b"); err != nil {
				t.Fatal(err)
			}
			e.enqueue(notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/a"}, notify.Event{Key: "k1", Kind: "result-ready", Recipient: "Patient/b"})
			got := e.sms.Wait(t, 2, 20*time.Second)
			a := e.state("Patient/a", notify.SMS, notify.Sent)
			b := e.state("Patient/b", notify.SMS, notify.Sent)
			var refA, refB string
			for _, m := range got {
				switch m.ID {
				case a.ID:
					refA = m.Ref
				case b.ID:
					refB = m.Ref
				}
				if !strings.HasPrefix(m.StatusCallback, e.api.URL+"/notify/receipts/webhook/"+e.org) {
					t.Errorf("status callback %q", m.StatusCallback)
				}
			}
			if a.ProviderRef != refA || refB == "" {
				t.Fatalf("provider refs %q/%q, want %q", a.ProviderRef, b.ProviderRef, refA)
			}
			receipt := func(ref, status string) int {
				return e.postSigned("/notify/receipts/webhook/"+e.org, fmt.Sprintf(`{"id":%q,"status":%q,"at":%q}`, ref, status, time.Now().UTC().Format(time.RFC3339)))
			}
			if code := receipt(refA, "delivered"); code != http.StatusNoContent {
				t.Fatalf("receipt answered %d", code)
			}
			e.state("Patient/a", notify.SMS, notify.Delivered)
			if code := receipt(refA, "sent"); code != http.StatusNoContent {
				t.Fatalf("late receipt answered %d", code)
			}
			if m := e.state("Patient/a", notify.SMS, notify.Delivered); m.DeliveredAt == nil {
				t.Fatal("a late 'sent' receipt moved the message back")
			}
			if code := receipt(refB, "failed"); code != http.StatusNoContent {
				t.Fatalf("receipt answered %d", code)
			}
			e.state("Patient/b", notify.SMS, notify.Failed)
			e.mail.Wait(t, 1)
			e.state("Patient/b", notify.Email, notify.Sent)
			if code := receipt("SM-unknown", "delivered"); code != http.StatusNotFound {
				t.Fatalf("receipt of an unknown message answered %d, want 404", code)
			}
		})

		t.Run("beyond the daily cap, one digest the next morning", func(t *testing.T) {
			e := newEnv(t, d)
			e.clock.set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
			e.people.add("Patient/di", notify.Contact{Email: "di@example.org"})
			if err := e.s.SetPreferences(context.Background(), e.org, "Patient/di", notify.Preferences{DailyCap: 2}, "di"); err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				e.enqueue(notify.Event{Key: fmt.Sprintf("k%d", i), Kind: "result-ready", Recipient: "Patient/di"})
			}
			e.mail.Wait(t, 2)
			e.until("two sent and two held", func() bool {
				n := map[string]int{}
				for _, m := range e.messages("Patient/di")[notify.Email] {
					n[m.State]++
				}
				return n[notify.Held] == 2 && n[notify.Sent] == 2
			})
			e.clock.set(time.Date(2026, 11, 25, 8, 0, 1, 0, time.UTC))
			msgs := e.mail.Wait(t, 3)
			digest := msgs[2]
			want := render(t, templates.Key{Kind: templates.Digest, Channel: notify.Email, Lang: "en", Level: "simple"},
				templates.Data{Org: "Riverside Clinic", Link: "x", Count: 2, Items: []string{"a", "b"}})
			if digest.Header("Subject") != want.Subject {
				t.Errorf("digest subject %q, want %q", digest.Header("Subject"), want.Subject)
			}
			e.until("held messages digested", func() bool {
				n := 0
				for _, m := range e.messages("Patient/di")[notify.Email] {
					if m.State == notify.Digested {
						n++
					}
				}
				return n == 2
			})
			if n := len(e.mail.Messages()); n != 3 {
				t.Fatalf("%d emails, want 2 and a digest", n)
			}
		})

		t.Run("signed links lead to the item once, and expire", func(t *testing.T) {
			e := newEnv(t, d)
			e.people.add("Practitioner/doc", notify.Contact{Email: "doc@example.org", Staff: true})
			e.enqueue(notify.Event{Key: "k1", Kind: "review-overdue", Recipient: "Practitioner/doc", Target: "/staff/results/j9"})
			body := e.mail.Wait(t, 1)[0].Body()
			link := linkPattern.FindString(body)
			if link == "" {
				t.Fatalf("no link in %s", body)
			}
			token := strings.TrimPrefix(link, "https://care.riverside.test/n/")
			target, err := e.s.OpenLink(context.Background(), token)
			if err != nil || target != "/staff/results/j9" {
				t.Fatalf("link leads to %q (%v)", target, err)
			}
			m := e.state("Practitioner/doc", notify.Email, notify.Opened)
			if m.OpenedAt == nil {
				t.Fatal("opened_at not set")
			}
			bad := []byte(token)
			bad[5] ^= 1
			if _, err := e.s.OpenLink(context.Background(), string(bad)); !errors.Is(err, notify.ErrLinkInvalid) {
				t.Fatalf("tampered link: %v", err)
			}
			e.clock.set(time.Now().Add(15 * 24 * time.Hour))
			if _, err := e.s.OpenLink(context.Background(), token); !errors.Is(err, notify.ErrLinkExpired) {
				t.Fatalf("a link 15 days old: %v, want expired", err)
			}
		})
	})
}

func (e *env) postSigned(path, body string) int {
	return e.post(path, body, sms.SignWebhook(smsSecret, []byte(body), time.Now()))
}

func (e *env) post(path, body, sig string) int {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.api.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Careloop-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
