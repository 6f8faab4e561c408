package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestNotificationContacts plans messages to people as the application
// finds them: a patient's email, mobile number, name and language from
// the FHIR record; a patient whose record has no email by the email of
// their account; a practitioner as a member of the care team.
func TestNotificationContacts(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			ctx := context.Background()
			org, err := s.a.Orgs.BySlug(ctx, "clinic-a")
			if err != nil {
				t.Fatal(err)
			}
			s.put(s.tokenA, []string{
				`{"resourceType":"Patient","id":"rosa","name":[{"given":["Rosa","María"]}],"communication":[{"language":{"coding":[{"code":"en"}]}},{"language":{"coding":[{"code":"es-MX"}]},"preferred":true}],
				 "telecom":[{"system":"phone","use":"home","value":"+1 555 010 0000"},{"system":"phone","use":"mobile","value":"+1 (555) 010-0001"},{"system":"email","value":"rosa@example.org","period":{"end":"2020-01-01"}},{"system":"email","value":"rosa.m@example.org"}]}`,
				`{"resourceType":"Patient","id":"sam","name":[{"given":["Sam"]}]}`,
				`{"resourceType":"Practitioner","id":"doc","telecom":[{"system":"email","value":"doc@example.org"}]}`,
			})
			err = s.a.DB.InTx(ctx, func(tx *sql.Tx) error {
				return s.a.Accounts.CreateTx(ctx, tx, &identity.Account{OrgID: org.ID, Email: "sam@example.net", DisplayName: "Sam Lee",
					Role: identity.RolePatient, FHIRRef: "Patient/sam"}, "")
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.a.Notify.Enqueue(ctx,
				notify.Event{OrgID: org.ID, Key: "k", Kind: "result-ready", Recipient: "Patient/rosa", PatientID: "rosa"},
				notify.Event{OrgID: org.ID, Key: "k", Kind: "result-ready", Recipient: "Patient/sam", PatientID: "sam"},
				notify.Event{OrgID: org.ID, Key: "k", Kind: "review-overdue", Recipient: "Practitioner/doc", Target: "/staff/results/j1"})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = s.a.Notify.Run(runCtx) }()
			defer func() { stop(); <-done }()
			byRecipient := map[string]map[string]notify.Message{}
			for deadline := time.Now().Add(20 * time.Second); len(byRecipient) < 3; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("planned for %d of 3 people", len(byRecipient))
				}
				msgs, _, err := s.a.Notify.Messages(ctx, org.ID, notify.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				byRecipient = map[string]map[string]notify.Message{}
				for _, m := range msgs {
					if byRecipient[m.Recipient] == nil {
						byRecipient[m.Recipient] = map[string]notify.Message{}
					}
					byRecipient[m.Recipient][m.Channel] = m
				}
			}
			rosa := byRecipient["Patient/rosa"]
			if rosa[notify.Email].Address != "rosa.m@example.org" || rosa[notify.SMS].Address != "+15550100001" || rosa[notify.Email].Lang != "es" {
				t.Errorf("Rosa's messages: email %+v, text %+v", rosa[notify.Email], rosa[notify.SMS])
			}
			if sam := byRecipient["Patient/sam"]; sam[notify.Email].Address != "sam@example.net" {
				t.Errorf("Sam (no email on record) gets email at %q, want the account's", sam[notify.Email].Address)
			}
			if doc := byRecipient["Practitioner/doc"]; doc[notify.Email].Address != "doc@example.org" || doc[notify.InApp].Target != "/staff/results/j1" {
				t.Errorf("the clinician's messages: %+v", doc)
			}
		})
	}
}

// TestNotifyAPI goes through the notifications' JSON API as the people of
// the access table and a system: events by API key, the inbox and
// preferences of a patient, message history within a clinician's reach,
// the roles that may not retry or edit, texts and providers (secrets
// never echoed), each read of patients' messages audited.
func TestNotifyAPI(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.put(s.tokenA, clinicA)
			ps := people()
			for _, p := range ps {
				s.signIn(p, true)
			}
			alice, doc, compliance, admin := find(ps, "alice@example.org"), find(ps, "doc@example.org"), find(ps, "compliance@example.org"), find(ps, "admin@example.org")
			jsonH := []string{"Content-Type", "application/json"}

			// Events: a system may post them; a patient may not; a bad kind
			// is named.
			r := s.do("POST", "/notify/events", []byte(`[{"key":"r1","kind":"result-ready","recipient":"Patient/alice"},{"key":"r1","kind":"result-ready","recipient":"Patient/bob"}]`),
				append([]string{"Authorization", "Bearer " + s.tokenA}, jsonH...)...)
			if r.status != http.StatusAccepted {
				t.Fatalf("events by API key: %d %s", r.status, r.body)
			}
			r = s.do("POST", "/notify/events", []byte(`{"key":"r2","kind":"lab-gossip","recipient":"Patient/alice"}`), append([]string{"Authorization", "Bearer " + s.tokenA}, jsonH...)...)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"kind"`) {
				t.Fatalf("an unknown kind: %d %s", r.status, r.body)
			}
			if r := s.as(alice, "POST", "/notify/events", []byte(`{"key":"r3","kind":"result-ready","recipient":"Patient/bob"}`), jsonH...); r.status != http.StatusForbidden {
				t.Fatalf("a patient posting an event: %d", r.status)
			}

			runCtx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = s.a.Notify.Run(runCtx) }()
			defer func() { stop(); <-done }()

			// Alice's inbox: her message, unread, then read; Bob's is not hers.
			var inbox struct {
				Messages []struct{ ID, Subject string }
				Unread   int
			}
			for deadline := time.Now().Add(20 * time.Second); len(inbox.Messages) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("Alice's inbox stayed empty")
				}
				r := s.as(alice, "GET", "/notify/inbox", nil)
				if err := json.Unmarshal(r.body, &inbox); err != nil || r.status != 200 {
					t.Fatalf("inbox: %d %s", r.status, r.body)
				}
			}
			if len(inbox.Messages) != 1 || inbox.Unread != 1 {
				t.Fatalf("Alice's inbox: %+v", inbox)
			}
			if r := s.as(alice, "POST", "/notify/inbox/"+inbox.Messages[0].ID+"/read", nil); r.status != http.StatusNoContent {
				t.Fatalf("mark read: %d %s", r.status, r.body)
			}
			if r := s.as(alice, "GET", "/notify/inbox", nil); !strings.Contains(string(r.body), `"unread":0`) {
				t.Fatalf("after reading: %s", r.body)
			}
			org, _ := s.a.Orgs.BySlug(context.Background(), "clinic-a")
			bobs, _, err := s.a.Notify.Messages(context.Background(), org.ID, notify.Filter{PatientID: "bob", Channel: notify.InApp})
			if err != nil || len(bobs) != 1 {
				t.Fatalf("Bob's in-app message: %v %v", bobs, err)
			}
			if r := s.as(alice, "POST", "/notify/inbox/"+bobs[0].ID+"/read", nil); r.status != http.StatusNotFound {
				t.Fatalf("Alice marking Bob's message read: %d", r.status)
			}

			// Preferences: a wrong time is named; a good one is in force.
			r = s.as(alice, "PUT", "/notify/preferences", []byte(`{"quiet_start":"25:00","quiet_end":"08:00"}`), jsonH...)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "quiet_start") {
				t.Fatalf("a wrong quiet hour: %d %s", r.status, r.body)
			}
			r = s.as(alice, "PUT", "/notify/preferences", []byte(`{"lang":"es","quiet_start":"22:00","quiet_end":"07:00"}`), jsonH...)
			if r.status != http.StatusOK || !strings.Contains(string(r.body), `"recipient":"Patient/alice"`) || !strings.Contains(string(r.body), `"daily_cap":5`) {
				t.Fatalf("preferences: %d %s", r.status, r.body)
			}

			// A caregiver does not set the patient's choices.
			carer := find(ps, "carer@example.org")
			if r := s.as(carer, "PUT", "/notify/preferences", []byte(`{"lang":"en"}`), jsonH...); r.status != http.StatusForbidden {
				t.Fatalf("a caregiver setting preferences: %d %s", r.status, r.body)
			}

			// History: Dr Doc reaches Alice, not Bob.
			before := len(s.auditEntries(0))
			r = s.as(doc, "GET", "/notify/messages", nil)
			if r.status != http.StatusOK || !strings.Contains(string(r.body), `"patient_id":"alice"`) || strings.Contains(string(r.body), `"patient_id":"bob"`) {
				t.Fatalf("Dr Doc's message history: %d %.400s", r.status, r.body)
			}
			if r := s.as(doc, "GET", "/notify/patients/bob/messages", nil); r.status != http.StatusNotFound {
				t.Fatalf("Dr Doc reading Bob's messages: %d", r.status)
			}
			var audited bool
			for _, en := range s.auditEntries(before) {
				for _, c := range en.Subtype {
					audited = audited || c.Code == "notify-messages" && en.Agent.Subject == "account/"+doc.id && slices.Contains(en.Patients, "Patient/alice")
				}
			}
			if !audited {
				t.Error("Dr Doc's read of message history is not in the audit log")
			}

			// Roles: compliance reads but does not retry; only admins edit.
			if r := s.as(compliance, "GET", "/notify/messages", nil); r.status != http.StatusOK {
				t.Fatalf("compliance reading history: %d", r.status)
			}
			if r := s.as(compliance, "POST", "/notify/messages/"+bobs[0].ID+"/retry", nil); r.status != http.StatusForbidden {
				t.Fatalf("compliance retrying: %d", r.status)
			}
			if r := s.as(doc, "GET", "/notify/templates", nil); r.status != http.StatusForbidden {
				t.Fatalf("a clinician reading the texts: %d", r.status)
			}
			r = s.as(admin, "POST", "/notify/templates/preview", []byte(`{"kind":"result-ready","channel":"sms","lang":"en","level":"simple","body":"No link here"}`), jsonH...)
			if r.status != http.StatusBadRequest {
				t.Fatalf("a text without its link previewed: %d %s", r.status, r.body)
			}
			r = s.as(admin, "PUT", "/notify/providers/sms", []byte(`{"kind":"webhook","settings":{"url":"https://sms.example.net/send"},"secret":"very-secret-value"}`), jsonH...)
			if r.status != http.StatusOK || strings.Contains(string(r.body), "very-secret-value") || !strings.Contains(string(r.body), `"secret_set":true`) {
				t.Fatalf("provider set: %d %s", r.status, r.body)
			}
			if r := s.as(admin, "PUT", "/notify/providers/sms", []byte(`{"kind":"webhook","settings":{"url":"ftp://x"},"secret":"s"}`), jsonH...); r.status != http.StatusBadRequest {
				t.Fatalf("a provider with a bad URL: %d %s", r.status, r.body)
			}
		})
	}
}
