package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/notifytest"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
)

// notifyPatients is how many patients the batch writes to: the even ones
// by email, the odd ones by text message.
const notifyPatients = 300

// notifyWorld is an organisation whose email goes to a loopback SMTP
// server and whose text messages go to a loopback SMS provider.
type notifyWorld struct {
	t     *testing.T
	store []string
	token string
	org   string
	mail  *mailtest.Server
	sms   *notifytest.Provider
	d     *db.DB
}

// newNotifyWorld sets the organisation up. The test servers take 10 ms
// to confirm each message they kept, four at a time, so that the batch
// takes long enough to be killed in the middle and some messages are in
// doubt when it is.
func newNotifyWorld(t *testing.T, store []string) *notifyWorld {
	t.Helper()
	w := &notifyWorld{t: t, store: store}
	w.token, w.org = crashSetup(t, store)
	w.mail = mailtest.Start(t, mailtest.Options{AcceptDelay: 10 * time.Millisecond})
	w.sms = notifytest.Start(t, "crash-secret")
	w.sms.Latency = 10 * time.Millisecond
	w.sms.Limit(4)
	ctx := context.Background()
	cfg, err := config.Parse("serve", config.Store, store, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.NotifyProviders.Set(ctx, w.org, notify.ProviderSettings{Channel: notify.Email, Kind: "smtp",
		Settings: map[string]string{"url": "smtp://" + w.mail.Addr + "?tls=none", "from": "Crash Clinic <no-reply@crash.test>"}}, "test", now))
	must(a.NotifyProviders.Set(ctx, w.org, notify.ProviderSettings{Channel: notify.SMS, Kind: "webhook",
		Settings: map[string]string{"url": w.sms.URL, "from": "+15550000000"}, Secret: "crash-secret"}, "test", now))
	for i := range notifyPatients {
		// Quiet hours would hold the batch until morning: these
		// patients have none.
		must(a.Notify.SetPreferences(ctx, w.org, fmt.Sprintf("Patient/np-%d", i), notify.Preferences{QuietStart: "00:00", QuietEnd: "00:00"}, "test"))
	}
	w.d, err = db.Open(ctx, db.Options{SQLitePath: cfg.SQLitePath(), PostgresURL: cfg.PostgresURL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.d.Close() })
	return w
}

// writePatients stores the patients through the FHIR API.
func (w *notifyWorld) writePatients(base string) {
	w.t.Helper()
	var entries []string
	for i := range notifyPatients {
		telecom := fmt.Sprintf(`{"system":"email","value":"np-%d@example.org"}`, i)
		if i%2 == 1 {
			telecom = fmt.Sprintf(`{"system":"phone","use":"mobile","value":"+1555%07d"}`, i)
		}
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Patient","id":"np-%d","name":[{"given":["Pat%d"]}],"telecom":[%s]},"request":{"method":"PUT","url":"Patient/np-%d"}}`, i, i, telecom, i))
	}
	w.post(base+"/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`, 200)
}

// sendBatch posts an event per patient in one request, as a scheduling
// system would.
func (w *notifyWorld) sendBatch(base string) {
	w.t.Helper()
	var evs []string
	for i := range notifyPatients {
		evs = append(evs, fmt.Sprintf(`{"key":"batch-1","kind":"appointment-reminder","recipient":"Patient/np-%d","about_at":"2026-12-01T09:30:00Z"}`, i))
	}
	w.post(base+"/notify/events", "["+strings.Join(evs, ",")+"]", 202)
}

func (w *notifyWorld) post(url, body string, want int) {
	w.t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(url, "/fhir") {
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		w.t.Fatalf("POST %s: %d %s", url, resp.StatusCode, got)
	}
}

// arrived counts what reached the test servers: distinct messages (emails
// by Message-ID, texts by idempotency key) and every delivery, repeats
// included.
func (w *notifyWorld) arrived() (distinct, emails, emailRepeats, texts, textRequests int) {
	ids := map[string]bool{}
	for _, m := range w.mail.Messages() {
		ids[m.Header("Message-ID")] = true
		emails++
	}
	texts = len(w.sms.Accepted())
	textRequests, _ = w.sms.Requests()
	return len(ids) + texts, emails, emails - len(ids), texts, textRequests
}

// inDoubt counts the messages whose sender died before recording the
// outcome and that were sent again.
func (w *notifyWorld) inDoubt() int {
	w.t.Helper()
	var n int
	err := w.d.Read.QueryRow("SELECT count(*) FROM notify_status WHERE state = 'sending' AND detail LIKE 'in doubt%'").Scan(&n)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *notifyWorld) until(what string, cond func() bool) {
	w.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			d, e, r, x, q := w.arrived()
			w.t.Fatalf("no %s within two minutes (%d distinct: %d emails with %d repeats, %d texts from %d requests)", what, d, e, r, x, q)
		}
	}
}

func buildCareloop(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "careloop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestMessagesSurviveKill is the crash test of notifications: careloop
// serve takes a batch of 300 messages (150 emails to a loopback SMTP
// server, 150 texts to a loopback SMS provider) and is killed (SIGKILL)
// while sending them. After a restart every message arrives. A text is
// never accepted twice: a message in doubt is sent again under the same
// idempotency key, which the provider honours. An email in doubt is sent
// again with the same Message-ID; the test counts such repeats at the
// SMTP server and requires each to be one careloop recorded as in doubt.
func TestMessagesSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	bin := buildCareloop(t)
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			store := []string{"--data-dir", t.TempDir()}
			if e == db.Postgres {
				store = append(store, "--db", dbtest.PostgresURL(t))
			}
			w := newNotifyWorld(t, store)
			flags := append([]string{"--notify-lease", "2s"}, store...)
			srv := startServe(t, bin, flags)
			w.writePatients(srv.base)
			w.sendBatch(srv.base)
			w.until("a third of the batch", func() bool { d, _, _, _, _ := w.arrived(); return d >= notifyPatients/3 })
			srv.kill()
			before, _, _, _, _ := w.arrived()
			var recorded int
			if err := w.d.Read.QueryRow("SELECT count(*) FROM notify_messages WHERE state = 'sent'").Scan(&recorded); err != nil {
				t.Fatal(err)
			}
			t.Logf("at the kill: %d arrived, %d recorded sent", before, recorded)

			srv = startServe(t, bin, flags)
			w.until("the whole batch", func() bool { d, _, _, _, _ := w.arrived(); return d >= notifyPatients })
			// Let anything that would repeat arrive before counting.
			time.Sleep(3 * time.Second)
			srv.stop()
			distinct, emails, emailRepeats, texts, textRequests := w.arrived()
			doubt := w.inDoubt()
			t.Logf("killed after %d of %d; then %d distinct: %d emails (%d repeats), %d texts (%d requests); %d messages in doubt",
				before, notifyPatients, distinct, emails, emailRepeats, texts, textRequests, doubt)
			if distinct != notifyPatients || texts != notifyPatients/2 || emails-emailRepeats != notifyPatients/2 {
				t.Fatalf("%d distinct messages (%d texts, %d emails), want %d, half each", distinct, texts, emails-emailRepeats, notifyPatients)
			}
			if emailRepeats > doubt || textRequests-texts > doubt {
				t.Fatalf("%d email repeats and %d repeated text requests, but only %d messages were in doubt", emailRepeats, textRequests-texts, doubt)
			}
			var unsent int
			if err := w.d.Read.QueryRow("SELECT count(*) FROM notify_messages WHERE channel <> 'inapp' AND state NOT IN ('sent', 'skipped')").Scan(&unsent); err != nil {
				t.Fatal(err)
			}
			if unsent != 0 {
				t.Fatalf("%d email or text messages are not sent", unsent)
			}
		})
	}
}

// TestTwoNodesSendOnce runs two careloop processes on one PostgreSQL
// database: a batch of 300 messages, events posted to both, is sent with
// not one repeat at the test servers.
func TestTwoNodesSendOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it twice")
	}
	store := []string{"--data-dir", t.TempDir(), "--db", dbtest.PostgresURL(t)}
	bin := buildCareloop(t)
	w := newNotifyWorld(t, store)
	a := startServe(t, bin, store)
	b := startServe(t, bin, store)
	w.writePatients(a.base)
	half := notifyPatients / 2
	for i := range notifyPatients {
		base := a.base
		if i >= half {
			base = b.base
		}
		w.post(base+"/notify/events", fmt.Sprintf(`{"key":"batch-2","kind":"appointment-reminder","recipient":"Patient/np-%d"}`, i), 202)
	}
	w.until("the whole batch", func() bool { d, _, _, _, _ := w.arrived(); return d >= notifyPatients })
	time.Sleep(2 * time.Second)
	a.stop()
	b.stop()
	distinct, emails, emailRepeats, texts, textRequests := w.arrived()
	t.Logf("%d distinct: %d emails, %d texts from %d requests", distinct, emails, texts, textRequests)
	if distinct != notifyPatients || emailRepeats != 0 || textRequests != texts {
		t.Fatalf("%d distinct, %d email repeats, %d text requests for %d texts: want every message once", distinct, emailRepeats, textRequests, texts)
	}
	var sentBy int
	if err := w.d.Read.QueryRow("SELECT count(DISTINCT lease_owner) FROM notify_messages WHERE state = 'sent'").Scan(&sentBy); err != nil {
		t.Fatal(err)
	}
	t.Logf("sent by %d processes", sentBy)
}
