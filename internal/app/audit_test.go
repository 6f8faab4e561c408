package app_test

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// entries returns the audit entries stored after the first skip.
func (s *server) auditEntries(skip int) []*audit.Entry {
	s.t.Helper()
	if err := s.a.Audit.Flush(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	rows, err := s.a.DB.Read.QueryContext(context.Background(), "SELECT body FROM audit_entry ORDER BY pos")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []*audit.Entry
	for i := 0; rows.Next(); i++ {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			s.t.Fatal(err)
		}
		if i < skip {
			continue
		}
		e, err := audit.ParseEntry(body)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestAuditTrail checks that every FHIR interaction and sign-in event
// leaves exactly one audit entry, naming the right person and patients,
// and that a read fails when its entry cannot be stored.
func TestAuditTrail(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.put(s.tokenA, clinicA)
			ps := people()
			alice, doc := find(ps, "alice@example.org"), find(ps, "doc@example.org")
			s.signIn(alice, false)
			s.signIn(doc, true)
			type want struct {
				subtype, action string
				outcome         audit.Outcome
				subject, role   string
				patients        []string
			}
			for _, tc := range []struct {
				name string
				do   func() response
				code int
				want want
			}{
				{"read with an API key", func() response { return s.do("GET", "/fhir/Observation/obs-alice", nil) }, 200,
					want{"read", "R", audit.Success, "api-key/", "api-key", []string{"Patient/alice"}}},
				{"a patient searches her results", func() response { return s.as(alice, "GET", "/fhir/Observation", nil) }, 200,
					want{"search-type", "R", audit.Success, "account/" + alice.id, "patient", []string{"Patient/alice"}}},
				{"a patient is refused another record", func() response { return s.as(alice, "GET", "/fhir/Observation/obs-bob", nil) }, 404,
					want{"read", "R", audit.MinorFailure, "account/" + alice.id, "patient", []string{"Patient/bob"}}},
				{"a clinician records a result", func() response {
					return s.as(doc, "POST", "/fhir/Observation", []byte(obs("", "alice")), "Content-Type", "application/fhir+json")
				}, 201, want{"create", "C", audit.Success, "account/" + doc.id, "clinician", []string{"Patient/alice"}}},
				{"a clinician reads a history", func() response { return s.as(doc, "GET", "/fhir/Observation/obs-alice/_history", nil) }, 200,
					want{"history-instance", "R", audit.Success, "account/" + doc.id, "clinician", []string{"Patient/alice"}}},
				{"a transaction is one entry", func() response {
					return s.do("POST", "/fhir", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
						{"resource":`+obs("", "alice")+`,"request":{"method":"POST","url":"Observation"}},
						{"resource":`+obs("", "bob")+`,"request":{"method":"POST","url":"Observation"}}]}`))
				}, 200, want{"transaction", "E", audit.Success, "api-key/", "api-key", []string{"Patient/alice", "Patient/bob"}}},
				{"an update", func() response { return s.do("PUT", "/fhir/Observation/obs-bob", []byte(obs("obs-bob", "bob"))) }, 200,
					want{"update", "U", audit.Success, "api-key/", "api-key", []string{"Patient/bob"}}},
				{"a patch", func() response {
					return s.do("PATCH", "/fhir/Observation/obs-bob", []byte(`[{"op":"replace","path":"/status","value":"amended"}]`),
						"Content-Type", "application/json-patch+json")
				}, 200, want{"patch", "U", audit.Success, "api-key/", "api-key", []string{"Patient/bob"}}},
				{"a vread", func() response { return s.do("GET", "/fhir/Observation/obs-bob/_history/1", nil) }, 200,
					want{"vread", "R", audit.Success, "api-key/", "api-key", []string{"Patient/bob"}}},
				{"a clinician's $everything", func() response { return s.as(doc, "GET", "/fhir/Patient/alice/$everything", nil) }, 200,
					want{"operation", "E", audit.Success, "account/" + doc.id, "clinician", []string{"Patient/alice"}}},
				{"a delete", func() response { return s.do("DELETE", "/fhir/Observation/obs-carol", nil) }, 204,
					want{"delete", "D", audit.Success, "api-key/", "api-key", []string{"Patient/carol"}}},
			} {
				before := len(s.auditEntries(0))
				r := tc.do()
				if r.status != tc.code {
					t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
				}
				got := s.auditEntries(before)
				if len(got) != 1 {
					t.Fatalf("%s: %d audit entries, want 1", tc.name, len(got))
				}
				en := got[0]
				sub := ""
				if len(en.Subtype) > 0 {
					sub = en.Subtype[0].Code
				}
				if sub != tc.want.subtype || string(en.Action) != tc.want.action || en.Outcome != tc.want.outcome ||
					!strings.HasPrefix(en.Agent.Subject, tc.want.subject) || en.Agent.Role != tc.want.role ||
					!slices.Equal(en.Patients, tc.want.patients) || en.RequestID == "" || en.Agent.Address != "127.0.0.1" {
					t.Errorf("%s: entry %+v, want %+v", tc.name, en, tc.want)
				}
			}

			// Sign-ins through the API: a wrong password, then the right one.
			org, _ := s.a.Orgs.BySlug(context.Background(), "clinic-a")
			hash, err := identity.HashPassword("correct horse battery staple", identity.DefaultPasswordParams)
			if err != nil {
				t.Fatal(err)
			}
			pat := &identity.Account{OrgID: org.ID, Email: "bob@example.org", DisplayName: "Bob", Role: identity.RolePatient, FHIRRef: "Patient/bob"}
			if err := s.a.DB.InTx(context.Background(), func(tx *sql.Tx) error { return s.a.Accounts.CreateTx(context.Background(), tx, pat, hash) }); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				password string
				code     int
				outcome  audit.Outcome
			}{{"wrong horse battery staple", http.StatusUnauthorized, audit.MinorFailure}, {"correct horse battery staple", http.StatusOK, audit.Success}} {
				before := len(s.auditEntries(0))
				r := s.do("POST", "/auth/signin", []byte(`{"org":"clinic-a","email":"bob@example.org","password":"`+tc.password+`"}`),
					"Authorization", "", "Content-Type", "application/json")
				if r.status != tc.code {
					t.Fatalf("sign-in: %d %s", r.status, r.body)
				}
				got := s.auditEntries(before)
				if len(got) != 1 || got[0].Type != audit.TypeLogin || got[0].Outcome != tc.outcome || got[0].Agent.Subject != "account/"+pat.ID {
					t.Errorf("sign-in with %q: entries %+v", tc.password, got)
				}
			}

			// A read whose entry cannot be stored fails, and sends no data.
			if err := s.a.Audit.Close(); err != nil {
				t.Fatal(err)
			}
			r := s.do("GET", "/fhir/Observation/obs-alice", nil)
			if r.status < 500 || strings.Contains(string(r.body), "mg/dL") {
				t.Errorf("a read with the audit log down: %d %s", r.status, r.body)
			}
		})
	}
}
