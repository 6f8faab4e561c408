package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/session"
)

// The records of the policy tests: three patients of clinic-a (Alice in
// Dr Doc's care through an encounter and Nurse's through an appointment,
// Bob with an order from Dr Doc2 performed by Tech, Carol in Dr Doc's care
// team with a Consent that closes her Observations to Dr Doc and Dr Doc2),
// and Zed of clinic-b in Dr B's care.
var clinicA = []string{
	`{"resourceType":"Organization","id":"org1","name":"Clinic A"}`,
	`{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`,
	`{"resourceType":"Practitioner","id":"doc2","name":[{"family":"Doc2"}]}`,
	`{"resourceType":"Practitioner","id":"nurse1","name":[{"family":"Nurse"}]}`,
	`{"resourceType":"Practitioner","id":"tech1","name":[{"family":"Tech"}]}`,
	`{"resourceType":"Patient","id":"alice","name":[{"family":"Alice"}],"birthDate":"1980-01-01"}`,
	`{"resourceType":"Patient","id":"bob","name":[{"family":"Bob"}],"birthDate":"1970-02-02"}`,
	`{"resourceType":"Patient","id":"carol","name":[{"family":"Carol"}],"birthDate":"1990-03-03"}`,
	`{"resourceType":"Encounter","id":"enc-alice","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/alice"},"participant":[{"individual":{"reference":"Practitioner/doc"}}]}`,
	`{"resourceType":"CareTeam","id":"ct-carol","status":"active","subject":{"reference":"Patient/carol"},"participant":[{"member":{"reference":"Practitioner/doc"}}]}`,
	`{"resourceType":"Appointment","id":"appt-alice","status":"booked","start":"2026-11-20T10:00:00Z","end":"2026-11-20T10:30:00Z","participant":[{"actor":{"reference":"Patient/alice"},"status":"accepted"},{"actor":{"reference":"Practitioner/nurse1"},"status":"accepted"}]}`,
	`{"resourceType":"ServiceRequest","id":"sr-bob","status":"active","intent":"order","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"subject":{"reference":"Patient/bob"},"requester":{"reference":"Practitioner/doc2"},"performer":[{"reference":"Practitioner/tech1"}]}`,
	obs("obs-alice", "alice"), obs("obs-bob", "bob"), obs("obs-carol", "carol"),
	`{"resourceType":"Task","id":"task-alice","status":"requested","intent":"order","for":{"reference":"Patient/alice"}}`,
	`{"resourceType":"Consent","id":"consent-carol","status":"active",
	  "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	  "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
	  "patient":{"reference":"Patient/carol"},
	  "policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},
	  "provision":{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}],
	    "actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"reference":"Practitioner/doc"}},
	             {"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"reference":"Practitioner/doc2"}}]}}`,
}

var clinicB = []string{
	`{"resourceType":"Practitioner","id":"docb","name":[{"family":"DocB"}]}`,
	`{"resourceType":"Patient","id":"zed","name":[{"family":"Zed"}],"birthDate":"1960-04-04"}`,
	`{"resourceType":"Encounter","id":"enc-zed","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/zed"},"participant":[{"individual":{"reference":"Practitioner/docb"}}]}`,
	obs("obs-zed", "zed"),
}

// obs is a glucose Observation of the patient; without an id when id is "".
func obs(id, patient string) string {
	idMember := ""
	if id != "" {
		idMember = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Observation",%s"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":95,"unit":"mg/dL"}}`, idMember, patient)
}

// refs are the resources every person of the table asks for, from
// clinic-a's records and clinic-b's.
var refs = []string{"Patient/alice", "Patient/bob", "Patient/carol", "Observation/obs-alice", "Observation/obs-bob",
	"Observation/obs-carol", "Encounter/enc-alice", "CareTeam/ct-carol", "Appointment/appt-alice", "ServiceRequest/sr-bob",
	"Task/task-alice", "Consent/consent-carol", "Practitioner/doc", "Organization/org1", "Patient/zed", "Observation/obs-zed"}

// person is an account of the table, with an open session.
type person struct {
	slug, email string
	role        identity.Role
	fhirRef     string
	// sees are the refs answered 200; forbidden the types answered 403;
	// every other ref answers 404, as if it did not exist.
	sees      []string
	forbidden []string
	// observations is how many Observations a search finds; -1 when the
	// search is forbidden.
	observations int
	cookie       string
	id           string
}

func people() []*person {
	directory := []string{"Practitioner/doc", "Organization/org1"}
	return []*person{
		{slug: "clinic-a", email: "alice@example.org", role: identity.RolePatient, fhirRef: "Patient/alice",
			sees:      append([]string{"Patient/alice", "Observation/obs-alice", "Encounter/enc-alice", "Appointment/appt-alice"}, directory...),
			forbidden: []string{"Task"}, observations: 1},
		{slug: "clinic-a", email: "carer@example.org", role: identity.RoleCaregiver,
			sees:      append([]string{"Patient/bob", "Observation/obs-bob", "ServiceRequest/sr-bob"}, directory...),
			forbidden: []string{"Task"}, observations: 1},
		{slug: "clinic-a", email: "doc@example.org", role: identity.RoleClinician, fhirRef: "Practitioner/doc",
			sees: append([]string{"Patient/alice", "Patient/carol", "Observation/obs-alice", "Encounter/enc-alice", "CareTeam/ct-carol",
				"Appointment/appt-alice", "Task/task-alice", "Consent/consent-carol"}, directory...),
			observations: 1},
		{slug: "clinic-a", email: "doc2@example.org", role: identity.RoleClinician, fhirRef: "Practitioner/doc2",
			sees: append([]string{"Patient/bob", "Patient/carol", "Observation/obs-bob", "Observation/obs-carol", "CareTeam/ct-carol",
				"ServiceRequest/sr-bob", "Consent/consent-carol"}, directory...),
			observations: 2},
		{slug: "clinic-a", email: "nurse@example.org", role: identity.RoleNurse, fhirRef: "Practitioner/nurse1",
			sees:         append([]string{"Patient/alice", "Observation/obs-alice", "Encounter/enc-alice", "Appointment/appt-alice", "Task/task-alice"}, directory...),
			observations: 1},
		{slug: "clinic-a", email: "tech@example.org", role: identity.RoleTechnician, fhirRef: "Practitioner/tech1",
			sees:      append([]string{"Patient/bob", "Observation/obs-bob", "ServiceRequest/sr-bob"}, directory...),
			forbidden: []string{"CareTeam", "Appointment", "Consent"}, observations: 1},
		{slug: "clinic-a", email: "coord@example.org", role: identity.RoleCoordinator,
			sees: append([]string{"Patient/alice", "Patient/bob", "Patient/carol", "Encounter/enc-alice", "CareTeam/ct-carol",
				"Appointment/appt-alice", "ServiceRequest/sr-bob", "Task/task-alice", "Consent/consent-carol"}, directory...),
			forbidden: []string{"Observation"}, observations: -1},
		{slug: "clinic-a", email: "compliance@example.org", role: identity.RoleCompliance,
			sees:      append([]string{"Patient/alice", "Patient/bob", "Patient/carol", "Consent/consent-carol"}, directory...),
			forbidden: []string{"Observation", "Encounter", "CareTeam", "Appointment", "ServiceRequest", "Task"}, observations: -1},
		{slug: "clinic-a", email: "admin@example.org", role: identity.RoleAdmin, sees: directory,
			forbidden: []string{"Patient", "Observation", "Encounter", "CareTeam", "Appointment", "ServiceRequest", "Task", "Consent"}, observations: -1},
		{slug: "clinic-b", email: "docb@example.org", role: identity.RoleClinician, fhirRef: "Practitioner/docb",
			sees: []string{"Patient/zed", "Observation/obs-zed"}, observations: 1},
	}
}

// signIn creates the account and opens a session for it, with a second
// factor verified when factor is set, and returns the cookie header.
func (s *server) signIn(p *person, factor bool) {
	s.t.Helper()
	ctx := context.Background()
	org, err := s.a.Orgs.BySlug(ctx, p.slug)
	if err != nil {
		s.t.Fatal(err)
	}
	if p.id == "" {
		acct := &identity.Account{OrgID: org.ID, Email: p.email, DisplayName: p.email, Role: p.role, FHIRRef: p.fhirRef}
		if err := s.a.DB.InTx(ctx, func(tx *sql.Tx) error { return s.a.Accounts.CreateTx(ctx, tx, acct, "not-used") }); err != nil {
			s.t.Fatal(err)
		}
		p.id = acct.ID
	}
	_, secret, err := s.a.Sessions.Open(ctx, session.New{OrgID: org.ID, AccountID: p.id, Role: string(p.role), FactorVerified: factor})
	if err != nil {
		s.t.Fatal(err)
	}
	p.cookie = session.CookieName + "=" + secret
}

// as sends a request with p's session cookie and no bearer token.
func (s *server) as(p *person, method, path string, body []byte, headers ...string) response {
	s.t.Helper()
	h := append([]string{"Authorization", "", "Cookie", p.cookie}, headers...)
	if strings.HasPrefix(path, "/access") && body != nil {
		h = append(h, "Content-Type", "application/json")
	}
	return s.do(method, path, body, h...)
}

func (s *server) put(token string, resources []string) {
	s.t.Helper()
	for _, raw := range resources {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(raw), &head); err != nil {
			s.t.Fatal(err)
		}
		r := s.do("PUT", "/fhir/"+head.ResourceType+"/"+head.ID, []byte(raw), "Authorization", "Bearer "+token)
		if r.status != http.StatusCreated {
			s.t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, r.status, r.body)
		}
	}
}

func find(ps []*person, email string) *person {
	for _, p := range ps {
		if p.email == email {
			return p
		}
	}
	panic(email)
}

// TestPolicyEveryRoleEveryResource signs in one person of every role and
// asks for every kind of resource: their own record, other patients', those
// in and out of their care, behind a Consent, another organisation's. Proxy
// access and break-glass are granted through the API first, and the
// table's expectations hold only if both took effect.
func TestPolicyEveryRoleEveryResource(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.put(s.tokenA, clinicA)
			s.put(s.tokenB, clinicB)
			ps := people()
			for _, p := range ps {
				s.signIn(p, true)
			}
			carer, doc2, coord := find(ps, "carer@example.org"), find(ps, "doc2@example.org"), find(ps, "coord@example.org")

			// Before any grant, the caregiver reaches nobody and Dr Doc2 not Carol.
			if r := s.as(carer, "GET", "/fhir/Patient/bob", nil); r.status != http.StatusNotFound {
				t.Fatalf("caregiver before the proxy grant: %d, want 404", r.status)
			}
			if r := s.as(doc2, "GET", "/fhir/Patient/carol", nil); r.status != http.StatusNotFound {
				t.Fatalf("Dr Doc2 before break-glass: %d, want 404", r.status)
			}
			if r := s.as(coord, "POST", "/access/proxies", []byte(`{"caregiver_email":"carer@example.org","patient":"bob","reason":"daughter"}`)); r.status != http.StatusCreated {
				t.Fatalf("proxy grant: %d %s", r.status, r.body)
			}
			if r := s.as(doc2, "POST", "/access/break-glass", []byte(`{"patient":"carol","reason":"x"}`)); r.status != http.StatusBadRequest {
				t.Fatalf("break-glass without a real reason: %d %s, want 400", r.status, r.body)
			}
			if r := s.as(doc2, "POST", "/access/break-glass", []byte(`{"patient":"carol","reason":"Unconscious in the emergency department"}`)); r.status != http.StatusCreated {
				t.Fatalf("break-glass: %d %s", r.status, r.body)
			}

			for _, p := range ps {
				sees := map[string]bool{}
				for _, ref := range p.sees {
					sees[ref] = true
				}
				forbidden := map[string]bool{}
				for _, typ := range p.forbidden {
					forbidden[typ] = true
				}
				for _, ref := range refs {
					want := http.StatusNotFound
					typ, _, _ := strings.Cut(ref, "/")
					switch {
					case forbidden[typ]:
						want = http.StatusForbidden
					case sees[ref]:
						want = http.StatusOK
					}
					if r := s.as(p, "GET", "/fhir/"+ref, nil); r.status != want {
						t.Errorf("%s (%s) GET %s: %d, want %d: %s", p.email, p.role, ref, r.status, want, r.body)
					}
				}
				r := s.as(p, "GET", "/fhir/Observation?_total=accurate", nil)
				if p.observations < 0 {
					if r.status != http.StatusForbidden {
						t.Errorf("%s searching Observations: %d, want 403", p.email, r.status)
					}
					continue
				}
				if r.status != http.StatusOK {
					t.Fatalf("%s searching Observations: %d %s", p.email, r.status, r.body)
				}
				if got, n := total(t, r), len(entries(t, r)); got != p.observations || n != p.observations {
					t.Errorf("%s searching Observations: total %d with %d entries, want %d", p.email, got, n, p.observations)
				}
			}

			// The compliance officers see the break-glass.
			compliance := find(ps, "compliance@example.org")
			r := s.as(compliance, "GET", "/access/break-glass?unreviewed=true", nil)
			if r.status != http.StatusOK || !strings.Contains(string(r.body), "Unconscious in the emergency department") {
				t.Errorf("break-glass log: %d %s", r.status, r.body)
			}
			if r := s.as(doc2, "GET", "/access/break-glass", nil); r.status != http.StatusForbidden {
				t.Errorf("a clinician reading the break-glass log: %d, want 403", r.status)
			}

			// Revoking the proxy closes the record again at once.
			r = s.as(carer, "GET", "/access/proxies", nil)
			var list struct{ Proxies []struct{ ID string } }
			if err := json.Unmarshal(r.body, &list); err != nil || len(list.Proxies) != 1 {
				t.Fatalf("caregiver's proxies: %d %s", r.status, r.body)
			}
			if r := s.as(carer, "DELETE", "/access/proxies/"+list.Proxies[0].ID, nil); r.status != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
			if r := s.as(carer, "GET", "/fhir/Patient/bob", nil); r.status != http.StatusNotFound {
				t.Errorf("caregiver after revocation: %d, want 404", r.status)
			}
		})
	}
}

// TestPolicyWrites checks that people write only where they may: within
// their role's types and into records they reach.
func TestPolicyWrites(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.put(s.tokenA, clinicA)
			ps := people()
			alice, doc := find(ps, "alice@example.org"), find(ps, "doc@example.org")
			s.signIn(alice, false)
			s.signIn(doc, true)
			comm := func(patient string) []byte {
				return []byte(fmt.Sprintf(`{"resourceType":"Communication","status":"completed","subject":{"reference":"Patient/%s"},"payload":[{"contentString":"hello"}]}`, patient))
			}
			for _, tc := range []struct {
				name         string
				who          *person
				method, path string
				body         []byte
				want         int
			}{
				{"patient writes a message in her record", alice, "POST", "/fhir/Communication", comm("alice"), http.StatusCreated},
				{"patient writes into another record", alice, "POST", "/fhir/Communication", comm("bob"), http.StatusForbidden},
				{"patient records an Observation", alice, "POST", "/fhir/Observation", []byte(obs("", "alice")), http.StatusForbidden},
				{"clinician records for a patient in care", doc, "POST", "/fhir/Observation", []byte(obs("", "alice")), http.StatusCreated},
				{"clinician records for a patient outside care", doc, "POST", "/fhir/Observation", []byte(obs("", "bob")), http.StatusForbidden},
				{"clinician overwrites a record outside care", doc, "PUT", "/fhir/Observation/obs-bob", []byte(obs("obs-bob", "bob")), http.StatusNotFound},
				{"clinician moves a record out of reach", doc, "PUT", "/fhir/Observation/obs-alice", []byte(obs("obs-alice", "bob")), http.StatusForbidden},
				{"clinician deletes", doc, "DELETE", "/fhir/Observation/obs-alice", nil, http.StatusForbidden},
				{"transaction writing outside care", doc, "POST", "/fhir", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
					{"resource":` + obs("", "alice") + `,"request":{"method":"POST","url":"Observation"}},
					{"resource":` + obs("", "bob") + `,"request":{"method":"POST","url":"Observation"}}]}`), http.StatusForbidden},
			} {
				if r := s.as(tc.who, tc.method, tc.path, tc.body, "Content-Type", "application/fhir+json"); r.status != tc.want {
					t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.want, r.body)
				}
			}
			// The refused transaction left nothing behind: one Observation
			// for Alice (from the fixture) and the one created above.
			r := s.do("GET", "/fhir/Observation?subject=Patient/alice&_total=accurate", nil)
			if got := total(t, r); got != 2 {
				t.Errorf("Observations of Alice after the writes: %d, want 2", got)
			}
		})
	}
}

// TestPolicySessions checks the session side of the policy point: staff
// without a second factor, ended sessions, cross-origin writes.
func TestPolicySessions(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.put(s.tokenA, clinicA)
			ps := people()
			doc, alice := find(ps, "doc@example.org"), find(ps, "alice@example.org")
			s.signIn(doc, false)
			if r := s.as(doc, "GET", "/fhir/Patient/alice", nil); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "second factor") {
				t.Errorf("staff without a second factor: %d %s, want 403 naming the second factor", r.status, r.body)
			}
			s.signIn(alice, false)
			if r := s.as(alice, "GET", "/fhir/Patient/alice", nil); r.status != http.StatusOK {
				t.Errorf("patient without a second factor: %d, want 200", r.status)
			}
			if r := s.as(alice, "POST", "/fhir/Communication", []byte(`{"resourceType":"Communication","status":"completed","subject":{"reference":"Patient/alice"}}`),
				"Content-Type", "application/fhir+json", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
				t.Errorf("cross-origin write with the cookie: %d, want 403", r.status)
			}
			if r := s.as(alice, "POST", "/auth/signout", nil); r.status != http.StatusNoContent {
				t.Fatalf("sign out: %d", r.status)
			}
			if r := s.as(alice, "GET", "/fhir/Patient/alice", nil); r.status != http.StatusUnauthorized {
				t.Errorf("the cookie after sign-out: %d, want 401", r.status)
			}
		})
	}
}

// TestPolicyConcurrentFirstUse sends the first signed-in requests of a
// server at the same time: under -race, the policy's lazily made caches
// must not race, and every answer must be right.
func TestPolicyConcurrentFirstUse(t *testing.T) {
	s := newServer(t, dbtest.Engines()[0])
	s.put(s.tokenA, clinicA)
	ps := people()
	alice, doc := find(ps, "alice@example.org"), find(ps, "doc@example.org")
	s.signIn(alice, false)
	s.signIn(doc, true)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := alice
			if i%2 == 1 {
				who = doc
			}
			statuses[i] = s.as(who, "GET", "/fhir/Observation/obs-alice", nil).status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("request %d: %d, want 200", i, st)
		}
	}
}
