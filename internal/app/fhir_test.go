package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir/fhirtest"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/tenant"
)

// server is a running careloop on a fresh database, with two organisations
// and a token for each.
type server struct {
	t              testing.TB
	url            string
	tokenA, tokenB string
	a              *app.App
}

func newServer(t testing.TB, e db.Dialect) *server {
	t.Helper()
	_, opts := dbtest.OpenWithOptions(t, e)
	dbFlag := "sqlite:" + opts.SQLitePath
	if opts.PostgresURL != "" {
		dbFlag = opts.PostgresURL
	}
	cfg, err := config.Parse("serve", config.Store|config.Server, []string{"--db", dbFlag, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--max-body", "67108864"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ts := httptest.NewServer(a.Handler)
	t.Cleanup(ts.Close)
	s := &server{t: t, url: ts.URL, a: a}
	ctx := context.Background()
	for i, slug := range []string{"clinic-a", "clinic-b"} {
		err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			o := &tenant.Organization{Slug: slug, Name: slug}
			if err := a.Orgs.CreateTx(ctx, tx, o); err != nil {
				return err
			}
			_, token, err := a.Accounts.CreateAPIKeyTx(ctx, tx, o.ID, "test")
			if i == 0 {
				s.tokenA = token
			} else {
				s.tokenB = token
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body not JSON: %v: %.300s", r.status, err, r.body)
	}
	return m
}

// do sends a request with org A's token unless headers say otherwise.
func (s *server) do(method, path string, body []byte, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.tokenA)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// fixtureBundles reads the Synthea bundles and counts their resources.
func fixtureBundles(t *testing.T) (files []string, counts map[string]int) {
	t.Helper()
	files = fhirtest.SyntheaFiles(t)
	counts = map[string]int{}
	for _, f := range files {
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			counts[e.Resource.ResourceType]++
		}
	}
	return files, counts
}

func total(t *testing.T, r response) int {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("search answered %d: %s", r.status, r.body)
	}
	m := r.json(t)
	n, ok := m["total"].(float64)
	if !ok {
		t.Fatalf("no total in %.300s", r.body)
	}
	return int(n)
}

func entries(t *testing.T, r response) []map[string]any {
	t.Helper()
	m := r.json(t)
	var out []map[string]any
	es, _ := m["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any))
	}
	return out
}

func TestSyntheaImportAndSearch(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			files, want := fixtureBundles(t)
			start := time.Now()
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				r := s.do("POST", "/fhir", raw, "Prefer", "return=minimal")
				if r.status != 200 {
					t.Fatalf("%s: %d %.500s", filepath.Base(f), r.status, r.body)
				}
				for _, en := range entries(t, r) {
					if st := en["response"].(map[string]any)["status"]; st != "201 Created" {
						t.Fatalf("%s: entry status %v", filepath.Base(f), st)
					}
				}
			}
			t.Logf("imported %d bundles in %s", len(files), time.Since(start))
			start = time.Now()
			for typ, n := range want {
				if got := total(t, s.do("GET", "/fhir/"+typ+"?_summary=count", nil)); got != n {
					t.Errorf("%s: %d stored, want %d", typ, got, n)
				}
			}
			var unresolved int
			if err := s.a.DB.Read.QueryRow("SELECT count(*) FROM fhir_resources WHERE content LIKE '%urn:uuid:%'").Scan(&unresolved); err != nil || unresolved != 0 {
				t.Fatalf("%d resources still hold urn:uuid references (%v)", unresolved, err)
			}

			t.Logf("counted in %s", time.Since(start))
			checkKeptCompartments(t, s)
			// Pick one patient and check searches against the fixture itself.
			raw, _ := os.ReadFile(files[0])
			var bundle struct {
				Entry []struct {
					FullURL  string         `json:"fullUrl"`
					Resource map[string]any `json:"resource"`
				} `json:"entry"`
			}
			json.Unmarshal(raw, &bundle)
			family := ""
			var obsWithCode = map[string]int{}
			var obsIn2015 int
			var reportResults, encountersSince2015 int
			for _, en := range bundle.Entry {
				res := en.Resource
				switch res["resourceType"] {
				case "Patient":
					family = res["name"].([]any)[0].(map[string]any)["family"].(string)
				case "Observation":
					code := res["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
					obsWithCode[code]++
					if d, ok := res["effectiveDateTime"].(string); ok && strings.HasPrefix(d, "2015") {
						obsIn2015++
					}
				case "DiagnosticReport":
					if rs, ok := res["result"].([]any); ok {
						reportResults += len(rs)
					}
				case "Encounter":
					if st, ok := res["period"].(map[string]any)["start"].(string); ok && st >= "2015" {
						encountersSince2015++
					}
				}
			}
			pats := entries(t, s.do("GET", "/fhir/Patient?family="+family, nil))
			if len(pats) != 1 {
				t.Fatalf("Patient?family=%s: %d matches", family, len(pats))
			}
			pid := pats[0]["resource"].(map[string]any)["id"].(string)
			code, n := "", 0
			for c, k := range obsWithCode {
				if k > n || (k == n && c < code) {
					code, n = c, k
				}
			}
			if got := total(t, s.do("GET", "/fhir/Observation?patient="+pid+"&code=http://loinc.org|"+code+"&_total=accurate", nil)); got != n {
				t.Errorf("Observation?patient&code=%s: %d, want %d", code, got, n)
			}
			if got := total(t, s.do("GET", "/fhir/Observation?subject=Patient/"+pid+"&date=ge2015-01-01&date=lt2016-01-01&_total=accurate", nil)); got != obsIn2015 {
				t.Errorf("Observations of 2015: %d, want %d", got, obsIn2015)
			}
			if got := total(t, s.do("GET", "/fhir/Observation?subject:Patient.family="+family+"&code="+code+"&_total=accurate", nil)); got != n {
				t.Errorf("chained subject:Patient.family: %d, want %d", got, n)
			}
			if got := total(t, s.do("GET", "/fhir/Encounter?patient="+pid+"&date=ge2015&_total=accurate", nil)); got != encountersSince2015 {
				t.Errorf("Encounters since 2015: %d, want %d", got, encountersSince2015)
			}
			dr := s.do("GET", "/fhir/DiagnosticReport?patient="+pid+"&_include=DiagnosticReport:result&_count=1000", nil)
			included := 0
			for _, en := range entries(t, dr) {
				if en["search"].(map[string]any)["mode"] == "include" {
					included++
				}
			}
			if included != reportResults {
				t.Errorf("_include=DiagnosticReport:result gave %d Observations, want %d", included, reportResults)
			}
			// Paging walks every match once.
			seen := map[string]bool{}
			next := "/fhir/Observation?patient=" + pid + "&_count=7"
			for next != "" {
				r := s.do("GET", strings.TrimPrefix(next, s.a.Config.BaseURL.String()), nil)
				m := r.json(t)
				for _, en := range entries(t, r) {
					id := en["resource"].(map[string]any)["id"].(string)
					if seen[id] {
						t.Fatalf("%s on two pages", id)
					}
					seen[id] = true
				}
				next = ""
				links, _ := m["link"].([]any)
				for _, l := range links {
					if l.(map[string]any)["relation"] == "next" {
						next = l.(map[string]any)["url"].(string)
					}
				}
			}
			all := 0
			for _, k := range obsWithCode {
				all += k
			}
			if len(seen) != all {
				t.Errorf("paging saw %d Observations, want %d", len(seen), all)
			}
			ev := s.do("GET", "/fhir/Patient/"+pid+"/$everything", nil)
			if got := len(entries(t, ev)); got < all {
				t.Errorf("$everything returned %d resources, fewer than the %d Observations", got, all)
			}
		})
	}
}

func TestRESTInteractions(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			pat := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}],"name":[{"family":"Lindqvist","given":["Åsa"]}],"gender":"female","birthDate":"1980-02-29"}`)
			r := s.do("POST", "/fhir/Patient", pat)
			if r.status != 201 || r.header.Get("ETag") != `W/"1"` || !strings.Contains(r.header.Get("Location"), "/fhir/Patient/") {
				t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
			}
			id := r.json(t)["id"].(string)
			if r := s.do("GET", "/fhir/Patient/"+id, nil); r.status != 200 || r.json(t)["meta"].(map[string]any)["versionId"] != "1" {
				t.Fatalf("read: %d %s", r.status, r.body)
			}
			// Conditional create finds the existing patient.
			if r := s.do("POST", "/fhir/Patient", pat, "If-None-Exist", "identifier=urn:mrn|42"); r.status != 200 || r.json(t)["id"] != id {
				t.Fatalf("conditional create: %d %s", r.status, r.body)
			}
			upd := []byte(`{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Lindqvist-Berg"}],"gender":"female"}`)
			if r := s.do("PUT", "/fhir/Patient/"+id, upd, "If-Match", `W/"7"`); r.status != 412 {
				t.Fatalf("stale If-Match: %d %s", r.status, r.body)
			}
			if r := s.do("PUT", "/fhir/Patient/"+id, upd, "If-Match", `W/"1"`); r.status != 200 || r.header.Get("ETag") != `W/"2"` {
				t.Fatalf("update: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient?name=lindqvist-b", nil); len(entries(t, r)) != 1 {
				t.Fatalf("search after update: %s", r.body)
			}
			if r := s.do("GET", "/fhir/Patient?name:exact=Lindqvist", nil); len(entries(t, r)) != 0 {
				t.Fatalf("the old name still matches: %s", r.body)
			}
			patch := []byte(`[{"op":"test","path":"/gender","value":"female"},{"op":"replace","path":"/gender","value":"other"}]`)
			if r := s.do("PATCH", "/fhir/Patient/"+id, patch, "Content-Type", "application/json-patch+json"); r.status != 200 || r.json(t)["gender"] != "other" {
				t.Fatalf("patch: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient/"+id+"/_history/1", nil); r.status != 200 || r.json(t)["birthDate"] != "1980-02-29" {
				t.Fatalf("vread: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient/"+id+"/_history", nil); len(entries(t, r)) != 3 {
				t.Fatalf("history: %s", r.body)
			}
			// Organisation B sees none of it.
			if r := s.do("GET", "/fhir/Patient/"+id, nil, "Authorization", "Bearer "+s.tokenB); r.status != 404 {
				t.Fatalf("other organisation read: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient?_summary=count", nil, "Authorization", "Bearer "+s.tokenB); total(t, r) != 0 {
				t.Fatalf("other organisation search: %s", r.body)
			}
			if r := s.do("DELETE", "/fhir/Patient/"+id, nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient/"+id, nil); r.status != 410 {
				t.Fatalf("read after delete: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/Patient/"+id+"/_history", nil); len(entries(t, r)) != 4 {
				t.Fatalf("history after delete: %s", r.body)
			}
		})
	}
}

func TestErrorsAreOperationOutcomes(t *testing.T) {
	s := newServer(t, db.SQLite)
	obs := func(status string) []byte {
		return []byte(`{"resourceType":"Observation","status":"` + status + `","code":{"text":"x"}}`)
	}
	tests := []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers []string
		status  int
		issue   string // substring of the first issue's diagnostics or expression
	}{
		{"no token", "GET", "/fhir/Patient", nil, []string{"Authorization", ""}, 401, "Bearer"},
		{"bad token", "GET", "/fhir/Patient", nil, []string{"Authorization", "Bearer clk_nope"}, 401, "not valid"},
		{"xml", "GET", "/fhir/Patient", nil, []string{"Accept", "application/fhir+xml"}, 406, "FHIR JSON only"},
		{"xml format", "GET", "/fhir/Patient?_format=xml", nil, nil, 406, "_format"},
		{"wrong content type", "POST", "/fhir/Patient", []byte(`{}`), []string{"Content-Type", "text/plain"}, 415, "application/fhir+json"},
		{"unknown type", "GET", "/fhir/Patients", nil, nil, 404, "not a FHIR R4 resource type"},
		{"malformed JSON", "POST", "/fhir/Patient", []byte(`{"resourceType":"Patient",`), nil, 400, "JSON"},
		{"type mismatch", "POST", "/fhir/Patient", obs("final"), nil, 400, "URL says Patient"},
		{"bad code", "POST", "/fhir/Observation", obs("finished"), nil, 422, "Observation.status"},
		{"unknown element", "POST", "/fhir/Patient", []byte(`{"resourceType":"Patient","colour":"blue"}`), nil, 0, "colour"},
		{"unknown search parameter", "GET", "/fhir/Patient?colour=blue", nil, nil, 400, "colour"},
		{"bad date", "GET", "/fhir/Observation?date=ge2024-13-45", nil, nil, 400, "date"},
		{"empty body", "POST", "/fhir/Patient", []byte{}, nil, 400, "empty"},
		{"missing", "GET", "/fhir/Patient/does-not-exist", nil, nil, 404, "not known"},
		{"bad If-Match", "PUT", "/fhir/Patient/x", []byte(`{"resourceType":"Patient","id":"x"}`), []string{"If-Match", "three"}, 400, "If-Match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.body, tc.headers...)
			if tc.status != 0 && r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 0 && r.status != 400 && r.status != 422 {
				t.Fatalf("status %d, want 400 or 422: %s", r.status, r.body)
			}
			if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge: %v", r.header)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("Content-Type %q", ct)
			}
			m := r.json(t)
			if m["resourceType"] != "OperationOutcome" {
				t.Fatalf("not an OperationOutcome: %s", r.body)
			}
			if !strings.Contains(string(r.body), tc.issue) {
				t.Errorf("outcome lacks %q: %s", tc.issue, r.body)
			}
		})
	}
	// Lenient handling ignores the unknown parameter.
	if r := s.do("GET", "/fhir/Patient?colour=blue", nil, "Prefer", "handling=lenient"); r.status != 200 {
		t.Errorf("lenient search: %d %s", r.status, r.body)
	}
	// Nothing was stored by the rejected writes.
	if got := total(t, s.do("GET", "/fhir/Patient?_summary=count", nil)); got != 0 {
		t.Errorf("%d patients stored by rejected requests", got)
	}
	if r := s.do("GET", "/fhir/metadata", nil, "Authorization", ""); r.status != 200 || r.json(t)["fhirVersion"] != "4.0.1" {
		t.Errorf("metadata: %d %.200s", r.status, r.body)
	}
	// The CapabilityStatement names the SMART token endpoint.
	if r := s.do("GET", "/fhir/metadata", nil, "Authorization", ""); !strings.Contains(string(r.body), `"code":"SMART-on-FHIR"`) ||
		!strings.Contains(string(r.body), `"valueUri":"http://127.0.0.1:0/auth/token"`) {
		t.Errorf("metadata security: %.300s", r.body[strings.Index(string(r.body), `"security"`):])
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	s := newServer(t, db.SQLite)
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient","name":[{"family":"Ok"}]},"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Observation","status":"bogus","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}},"request":{"method":"POST","url":"Observation"}}]}`)
	r := s.do("POST", "/fhir", bundle)
	if r.status == 200 || !strings.Contains(string(r.body), "entry 1") {
		t.Fatalf("a transaction with a bad entry: %d %s", r.status, r.body)
	}
	if got := total(t, s.do("GET", "/fhir/Patient?_summary=count", nil)); got != 0 {
		t.Fatalf("%d patients stored from a failed transaction", got)
	}
	fixed := bytes.Replace(bundle, []byte("bogus"), []byte("final"), 1)
	r = s.do("POST", "/fhir", fixed)
	if r.status != 200 {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	es := entries(t, r)
	pid := es[0]["resource"].(map[string]any)["id"].(string)
	subj := es[1]["resource"].(map[string]any)["subject"].(map[string]any)["reference"]
	if subj != "Patient/"+pid {
		t.Fatalf("urn:uuid reference not rewritten: %v (patient %s)", subj, pid)
	}
	batch := bytes.Replace(bytes.Replace(bundle, []byte(`"transaction"`), []byte(`"batch"`), 1), []byte(`"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"`), []byte(`"reference":"Patient/`+pid+`"`), 1)
	r = s.do("POST", "/fhir", batch)
	es = entries(t, r)
	if r.status != 200 || len(es) != 2 || es[0]["response"].(map[string]any)["status"] != "201 Created" || !strings.HasPrefix(es[1]["response"].(map[string]any)["status"].(string), "4") {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	_ = fmt.Sprint
}

// checkKeptCompartments checks that the patients the store kept with every
// resource are those its JSON names (what the policy and the audit log
// would otherwise read), and that reads return them.
func checkKeptCompartments(t *testing.T, s *server) {
	t.Helper()
	rows, err := s.a.DB.Read.Query("SELECT resource_type, id, content, patients FROM fhir_resources")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	base := s.a.Config.BaseURL.String() + "/fhir"
	var n, withPatients int
	var orgID string
	for rows.Next() {
		var st fhir.Stored
		var content string
		var kept sql.NullString
		if err := rows.Scan(&st.Type, &st.ID, &content, &kept); err != nil {
			t.Fatal(err)
		}
		if n%100 == 0 { // reads return what was kept
			if orgID == "" {
				o, err := s.a.Orgs.BySlug(context.Background(), "clinic-a")
				if err != nil {
					t.Fatal(err)
				}
				orgID = o.ID
			}
			got, err := s.a.Resources.Read(context.Background(), orgID, st.Type, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.CompartmentKnown || strings.Join(got.Patients, " ") != kept.String {
				t.Fatalf("%s/%s read with patients %q (known %v), kept %+v", st.Type, st.ID, got.Patients, got.CompartmentKnown, kept)
			}
		}
		st.JSON = []byte(content)
		want := strings.Join(access.PatientsOf(&st, base), " ")
		if !kept.Valid || kept.String != want {
			t.Fatalf("%s/%s: kept patients %+v, the JSON names %q", st.Type, st.ID, kept, want)
		}
		if spec.InPatientCompartment(st.Type) && st.Type != "Patient" && want != "" {
			withPatients++
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if withPatients < n/2 {
		t.Fatalf("only %d of %d resources are in a patient's compartment", withPatients, n)
	}
}
