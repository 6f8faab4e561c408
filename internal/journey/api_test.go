package journey_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// principal authenticates every request as one person.
type principal struct{ p *fhir.Principal }

func (a principal) Authenticate(*http.Request) (*fhir.Principal, error) { return a.p, nil }

// failingAudit cannot store entries.
type failingAudit struct{ reads, changes int }

func (f *failingAudit) Record(context.Context, *fhir.Principal, journey.Access) error {
	f.reads++
	return errors.New("audit store down")
}

func (f *failingAudit) RecordTx(context.Context, *sql.Tx, *fhir.Principal, journey.Access) error {
	f.changes++
	return errors.New("audit store down")
}

// TestAPIFailsClosed: when the audit entry cannot be stored, reads are
// refused and actions change nothing.
func TestAPIFailsClosed(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "7", "HH"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		doc := &fhir.Principal{OrgID: e.org, Subject: "account/doc", Kind: "user", Role: "clinician",
			Compartments: func(string) ([]string, bool) { return []string{"pat"}, true }}
		audit := &failingAudit{}
		mux := http.NewServeMux()
		(&journey.API{Service: e.s, Users: principal{doc}, Audit: audit}).Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		for _, tc := range []struct{ method, path string }{
			{"GET", "/journeys/inbox"}, {"GET", "/journeys/" + j.ID}, {"POST", "/journeys/" + j.ID + "/acknowledge"},
		} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 500 {
				t.Errorf("%s %s answered %d without an audit entry", tc.method, tc.path, resp.StatusCode)
			}
		}
		if audit.reads != 2 || audit.changes != 1 {
			t.Fatalf("audit asked %d reads, %d changes", audit.reads, audit.changes)
		}
		if j, _ := e.journey("ServiceRequest/sr1"); j.ReviewedAt != nil {
			t.Fatalf("acknowledged without an audit entry: %+v", j)
		}
		// A Consent closing the patient's Observations to the clinician hides
		// the journeys too.
		doc.Compartments = func(typ string) ([]string, bool) {
			if typ == "Observation" {
				return nil, true
			}
			return []string{"pat"}, true
		}
		resp, err := http.Get(srv.URL + "/journeys/" + j.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || audit.reads != 2 {
			t.Fatalf("behind a Consent: %d, %d audit reads", resp.StatusCode, audit.reads)
		}
	})
}
