package app_test

import (
	"context"
	"database/sql"
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
