package signin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/signin"
)

// syncBuffer is a log destination safe for the workers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// unreachableSMTP returns an SMTP sender to a loopback port where nothing
// listens: every send fails at connect, as with a server that is down.
func unreachableSMTP(t *testing.T) *mail.SMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := mail.NewSMTP("smtp://"+addr+"?tls=none", "careloop <no-reply@careloop.test>")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failFirst sends its first message through down and the rest through up.
type failFirst struct {
	mu       sync.Mutex
	attempts int
	down, up mail.Sender
}

func (f *failFirst) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	f.attempts++
	first := f.attempts == 1
	f.mu.Unlock()
	if first {
		return f.down.Send(ctx, m)
	}
	return f.up.Send(ctx, m)
}

// jobRow is an account job as stored by River.
type jobRow struct {
	kind, state, text string // text: args, metadata and errors, as stored
	attempt           int
}

func (f *lifecycleFixture) jobRows() []jobRow {
	f.t.Helper()
	text := "CAST(%s AS TEXT)"
	if f.d.Dialect == db.SQLite {
		text = "json(%s)" // River keeps JSONB there
	}
	rows, err := f.d.Read.Query(fmt.Sprintf(`SELECT kind, state, attempt, %s, %s, COALESCE(%s, '')
		FROM river_job WHERE kind LIKE 'signin.%%' ORDER BY id`, fmt.Sprintf(text, "args"), fmt.Sprintf(text, "metadata"), fmt.Sprintf(text, "errors")))
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var r jobRow
		var args, meta, errs string
		if err := rows.Scan(&r.kind, &r.state, &r.attempt, &args, &meta, &errs); err != nil {
			f.t.Fatal(err)
		}
		r.text = args + "\n" + decoded(f.t, args) + "\n" + meta + "\n" + errs
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// decoded returns the values of the arguments' JSON that are base64 (as
// []byte fields are), decoded: bytes in clear in them would be in clear in
// the database too.
func decoded(t *testing.T, args string) string {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal([]byte(args), &fields); err != nil {
		t.Fatalf("job args %q: %v", args, err)
	}
	var out []string
	for _, v := range fields {
		if s, ok := v.(string); ok {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil {
				out = append(out, string(b))
			}
		}
	}
	return strings.Join(out, "\n")
}

// The account emails and requests as the lifecycle's callers make them.
type emailCase struct {
	name    string
	to      string
	path    string   // of the link in the email
	typed   []string // what the person typed, besides the address, that no job may show
	request func(f *lifecycleFixture) error
}

var emailCases = []emailCase{
	{name: "invitation", to: "ivy@example.org", path: "/invitation", typed: []string{"Ivy Invited"}, request: func(f *lifecycleFixture) error {
		_, _, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: "ivy@example.org", Role: identity.RoleNurse, Name: "Ivy Invited", By: "cli"})
		return err
	}},
	{name: "registration", to: "reg@example.org", path: "/verify-email", typed: []string{goodPassword, "Rex Registrant", "1975-01-02"}, request: func(f *lifecycleFixture) error {
		return f.life.Register(context.Background(), f.org, signin.Registration{Email: "reg@example.org", Password: goodPassword,
			Name: "Rex Registrant", BirthDate: "1975-01-02", Address: "192.0.2.7"})
	}},
	{name: "recovery request", to: "nurse@example.org", path: "/recovery", request: func(f *lifecycleFixture) error {
		return f.life.RequestRecovery(context.Background(), f.org, "nurse@example.org", "192.0.2.8")
	}},
}

func TestQueuedEmailsHoldNoSecretsInClear(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		for _, tc := range emailCases {
			t.Run(tc.name, func(t *testing.T) {
				f.t = t
				if err := tc.request(f); err != nil {
					t.Fatal(err)
				}
				msg := f.mailTo(tc.to, 1)
				path, token := linkIn(t, msg)
				if path != tc.path || token == "" {
					t.Fatalf("link to %s with token %q", path, token)
				}
				rows := f.jobRows()
				var emails int
				for _, r := range rows {
					if r.kind == "signin.email" {
						emails++
					}
					for _, secret := range append([]string{token, tc.to, "Riverside Clinic"}, tc.typed...) {
						if strings.Contains(r.text, secret) {
							t.Errorf("a %s job holds %q in clear: %s", r.kind, secret, r.text)
						}
					}
					if r.state != "completed" {
						t.Errorf("a %s job is %s", r.kind, r.state)
					}
				}
				if emails == 0 {
					t.Errorf("no email job among %d jobs", len(rows))
				}
			})
		}
		f.t = t
	})
}

func TestEmailRetriedAfterSMTPFailure(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		flaky := &failFirst{down: unreachableSMTP(t)}
		f := newLifecycleFixtureWith(t, d, fixtureOptions{sender: func(s mail.Sender) mail.Sender { flaky.up = s; return flaky }})
		tok, _, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: "retry@example.org", Role: identity.RoleNurse, By: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		msg := f.mailTo(tok.Email, 1)
		_, token := linkIn(t, msg)
		if n := len(f.smtp.To(tok.Email)); n != 1 {
			t.Errorf("%d messages arrived, want 1", n)
		}
		rows := f.jobRows()
		if len(rows) != 1 || rows[0].state != "completed" || rows[0].attempt != 2 {
			t.Fatalf("jobs %+v, want one completed at the second attempt", rows)
		}
		if !strings.Contains(rows[0].text, "example.org") || strings.Contains(rows[0].text, token) {
			t.Errorf("the job's error should name the domain and not the link: %s", rows[0].text)
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "will be retried") || !strings.Contains(logs, "domain=example.org") || !strings.Contains(logs, "invitation") {
			t.Errorf("the failure is not logged with subject and domain: %s", logs)
		}
		for _, secret := range []string{token, tok.Email, "Set your name and password"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %q: %s", secret, logs)
			}
		}
	})
}

func TestEmailGivenUpAfterItsAttempts(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		down := unreachableSMTP(t)
		f := newLifecycleFixtureWith(t, d, fixtureOptions{stopped: true, sender: func(mail.Sender) mail.Sender { return down }})
		tok, link, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: "lost@example.org", Role: identity.RoleNurse, By: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		// Its last attempt comes at once rather than hours later.
		dbtest.MustExec(t, d, "UPDATE river_job SET max_attempts = 2 WHERE kind = 'signin.email'")
		f.startQueue()
		f.settle()
		rows := f.jobRows()
		if len(rows) != 1 || rows[0].state != "discarded" || rows[0].attempt != 2 {
			t.Fatalf("jobs %+v, want one discarded after 2 attempts", rows)
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "account email given up") || !strings.Contains(logs, "domain=example.org") || !strings.Contains(logs, "invitation") {
			t.Errorf("giving up is not logged with subject and domain: %s", logs)
		}
		_, token, _ := strings.Cut(link, "token=")
		for _, secret := range []string{token, tok.Email, "Set your name and password"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %q", secret)
			}
		}
		if n := len(f.smtp.Messages()); n != 0 {
			t.Errorf("%d messages arrived through a server that is down", n)
		}
	})
}

func TestEmailSentAfterRestart(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		for _, tc := range emailCases {
			t.Run(tc.name, func(t *testing.T) {
				f.t = t
				f.stopQueue() // the process stops (or dies) after answering
				if err := tc.request(f); err != nil {
					t.Fatal(err)
				}
				if n := len(f.smtp.To(tc.to)); n != 0 {
					t.Fatalf("%d messages sent with no queue running", n)
				}
				// A new process: a new mailer with the same key, and a new
				// queue.
				mailer, err := signin.NewMailer(d, jobsInserter(t, d), f.mailKey, f.sender, nil)
				if err != nil {
					t.Fatal(err)
				}
				f.life.Mail = mailer
				f.startQueue()
				msg := f.mailTo(tc.to, 1)
				if path, token := linkIn(t, msg); path != tc.path || token == "" {
					t.Errorf("link to %s with token %q", path, token)
				}
				if n := len(f.smtp.To(tc.to)); n != 1 {
					t.Errorf("%d messages, want 1", n)
				}
			})
		}
		f.t = t
		// The link of the invitation sent after the restart works.
		_, token := linkIn(t, f.mailTo("ivy@example.org", 1))
		if _, err := f.life.AcceptInvitation(context.Background(), f.org, signin.Acceptance{Token: token, Name: "Ivy", Password: newPassword, Address: "192.0.2.9"}); err != nil {
			t.Errorf("accept the invitation: %v", err)
		}
	})
}

func jobsInserter(t *testing.T, d *db.DB) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// A command that runs no workers all the time (careloop user) sends what
// it queued before it ends: Wait runs the workers until then.
func TestWaitSendsWhatTheProcessQueued(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixtureWith(t, d, fixtureOptions{stopped: true})
		w := river.NewWorkers()
		signin.AddWorkers(w, func() (*signin.Lifecycle, error) { return f.life, nil })
		runner, err := jobs.New(d, jobs.Config{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		mailer, err := signin.NewMailer(d, runner, f.mailKey, f.sender, nil)
		if err != nil {
			t.Fatal(err)
		}
		mailer.Runner = runner
		f.life.Mail = mailer
		for _, email := range []string{"one@example.org", "two@example.org"} {
			if _, _, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: email, Role: identity.RoleNurse, By: "cli"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(f.smtp.Messages()); n != 0 {
			t.Fatalf("%d messages before Wait", n)
		}
		mailer.Wait()
		for _, email := range []string{"one@example.org", "two@example.org"} {
			if n := len(f.smtp.To(email)); n != 1 {
				t.Errorf("%d messages to %s after Wait, want 1", n, email)
			}
		}
		for _, r := range f.jobRows() {
			if r.state != "completed" {
				t.Errorf("a %s job is %s after Wait", r.kind, r.state)
			}
		}
	})
}

// An answer that could tell whether an account exists queues the same:
// one job of the request's kind, whatever the account.
func TestProbingRequestsQueueTheSameJob(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixtureWith(t, d, fixtureOptions{stopped: true})
		ctx := context.Background()
		cases := []struct {
			name    string
			kind    string
			request func(email string) error
		}{
			{name: "registration", kind: "signin.registration", request: func(email string) error {
				return f.life.Register(ctx, f.org, signin.Registration{Email: email, Password: goodPassword, Name: "Someone", BirthDate: "1990-01-01", Address: "192.0.2.1"})
			}},
			{name: "recovery", kind: "signin.recovery", request: func(email string) error {
				return f.life.RequestRecovery(ctx, f.org, email, "192.0.2.1")
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f.t = t
				var kinds [][]string
				for _, email := range []string{"nurse@example.org", "nobody@example.org"} {
					before := len(f.jobRows())
					if err := tc.request(email); err != nil {
						t.Fatalf("%s: %v", email, err)
					}
					var got []string
					for _, r := range f.jobRows()[before:] {
						got = append(got, r.kind+"/"+r.state)
					}
					kinds = append(kinds, got)
				}
				for i, got := range kinds {
					if len(got) != 1 || got[0] != tc.kind+"/available" {
						t.Errorf("request %d queued %v, want one %s job", i+1, got, tc.kind)
					}
				}
			})
		}
		f.t = t
	})
}
