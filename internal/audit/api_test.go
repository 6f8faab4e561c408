package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
)

// headerViewers reads the viewer from test headers.
type headerViewers struct{}

func (headerViewers) AuditViewer(r *http.Request) (*Viewer, error) {
	s := r.Header.Get("X-Subject")
	if s == "" {
		return nil, errs.E(errs.Unauthorized, "Sign in first.")
	}
	v := &Viewer{OrgID: "org1", Subject: s, Role: r.Header.Get("X-Role")}
	if p := r.Header.Get("X-Patients"); p != "" {
		v.Patients = strings.Split(p, ",")
	}
	return v, nil
}

func entryCount(t *testing.T, d *db.DB) int {
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM audit_entry").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAPI(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		l := newTestLog(t, d, nil)
		ctx := context.Background()
		// Patient/0 … Patient/4 read by Practitioner/0 … 6; one of another org.
		fill(t, l, 30)
		other := readEntry("Practitioner/9", "Patient/1")
		other.OrgID = "org2"
		if err := l.Record(ctx, other); err != nil {
			t.Fatal(err)
		}
		cp, _, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		(&API{Log: l, Viewers: headerViewers{}, BaseURL: "https://c.example/audit"}).Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()

		officer := map[string]string{"X-Subject": "Practitioner/co", "X-Role": RoleComplianceOfficer}
		patient := map[string]string{"X-Subject": "Patient/2", "X-Role": "patient", "X-Patients": "Patient/2"}
		get := func(path string, h map[string]string) (int, []byte) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		tests := []struct {
			name    string
			path    string
			hdr     map[string]string
			status  int
			audited bool // whether the read adds an entry
			check   func(t *testing.T, body []byte)
		}{
			{"search by patient", "/audit/AuditEvent?patient=Patient/3", officer, 200, true, func(t *testing.T, b []byte) {
				var bun struct {
					ResourceType string
					Entry        []struct{ Resource AuditEvent }
				}
				json.Unmarshal(b, &bun)
				if bun.ResourceType != "Bundle" || len(bun.Entry) != 6 {
					t.Fatalf("bundle of %d: %s", len(bun.Entry), b)
				}
				for _, e := range bun.Entry {
					r := e.Resource
					if r.ResourceType != "AuditEvent" || r.Entity[0].What.Reference != "Patient/3" || r.Meta.Profile[0] != balpProfileBase+"IHE.BasicAudit.PatientRead" {
						t.Fatalf("resource %+v", r)
					}
				}
			}},
			{"search by user, action and outcome", "/audit/AuditEvent?user=Practitioner/2&action=R&outcome=0&_count=2", officer, 200, true, func(t *testing.T, b []byte) {
				if n := strings.Count(string(b), `"resourceType":"AuditEvent"`); n != 2 {
					t.Fatalf("%d results, want 2 (_count): %s", n, b)
				}
				if strings.Contains(string(b), "Practitioner/9") {
					t.Fatal("another organisation's entry was returned")
				}
			}},
			{"search by date", "/audit/AuditEvent?date=ge" + time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05Z"), officer, 200, true, func(t *testing.T, b []byte) {
				if strings.Contains(string(b), "AuditEvent\"") {
					t.Fatalf("entries from the future: %s", b)
				}
			}},
			{"bad parameter", "/audit/AuditEvent?nonsense=1", officer, 400, true, nil},
			{"bad date", "/audit/AuditEvent?date=yesterday", officer, 400, true, nil},
			{"not an officer", "/audit/AuditEvent", patient, 403, true, nil},
			{"not signed in", "/audit/AuditEvent", nil, 401, false, nil},
			{"checkpoint", "/audit/checkpoint", officer, 200, true, func(t *testing.T, b []byte) {
				var c checkpointBody
				json.Unmarshal(b, &c)
				size, _, err := l.OpenCheckpoint([]byte(c.Note))
				if err != nil || size != cp.Size || c.Size != cp.Size {
					t.Fatalf("checkpoint %s: %v", b, err)
				}
			}},
			{"inclusion proof by entry", "/audit/proof/inclusion?entry=e-00007", officer, 200, true, func(t *testing.T, b []byte) {
				var p inclusionBody
				json.Unmarshal(b, &p)
				if p.Index != 7 || p.Size != cp.Size {
					t.Fatalf("proof %s", b)
				}
				if err := proof.VerifyInclusion(hasher, p.Index, p.Size, unb64(t, p.LeafHash), unb64s(t, p.Hashes), cp.Root); err != nil {
					t.Fatal(err)
				}
			}},
			{"inclusion proof out of range", "/audit/proof/inclusion?index=500", officer, 400, true, nil},
			{"consistency proof", "/audit/proof/consistency?from=5&to=" + url.QueryEscape("31"), officer, 200, true, func(t *testing.T, b []byte) {
				var p consistencyBody
				json.Unmarshal(b, &p)
				root5, _ := rootAt(t, l, 5)
				if err := proof.VerifyConsistency(hasher, 5, 31, unb64s(t, p.Hashes), root5, cp.Root); err != nil {
					t.Fatal(err)
				}
			}},
			{"my record", "/audit/my-record", patient, 200, true, func(t *testing.T, b []byte) {
				var m struct{ Accesses []Access }
				json.Unmarshal(b, &m)
				if len(m.Accesses) != 6 {
					t.Fatalf("%d accesses, want 6: %s", len(m.Accesses), b)
				}
				for _, a := range m.Accesses {
					if a.Patient[0] != "Patient/2" || a.Role != "physician" || a.Purpose != "TREAT" || a.Action != "viewed" {
						t.Fatalf("access %+v", a)
					}
				}
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := entryCount(t, d)
				status, body := get(tc.path, tc.hdr)
				if status != tc.status {
					t.Fatalf("status %d, want %d: %s", status, tc.status, body)
				}
				if tc.check != nil {
					tc.check(t, body)
				}
				added := entryCount(t, d) - before
				if tc.audited && added != 1 || !tc.audited && added != 0 {
					t.Fatalf("%d entries recorded for the read", added)
				}
			})
		}
		// The reads were recorded with who, what and outcome.
		if _, err := l.Sequence(ctx); err != nil {
			t.Fatal(err)
		}
		found, err := l.Search(ctx, Query{OrgID: "org1", Subject: "Patient/2"})
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []Outcome
		for _, f := range found {
			if f.Entry.Type == TypeAuditLogUsed {
				outcomes = append(outcomes, f.Entry.Outcome)
			}
		}
		if len(outcomes) != 2 || outcomes[0] != Success || outcomes[1] != MinorFailure {
			t.Fatalf("the patient's reads of the log: %v", outcomes)
		}

		// Fail closed: when the audit store fails, the data does not leave.
		l.Close()
		status, body := get("/audit/AuditEvent?patient=Patient/3", officer)
		if status != http.StatusServiceUnavailable || strings.Contains(string(body), "AuditEvent\"") {
			t.Fatalf("with the audit store down: %d %s", status, body)
		}
	})
}

func rootAt(t *testing.T, l *Log, size uint64) ([]byte, error) {
	t.Helper()
	cps, err := l.Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		if c.Size == size {
			return c.Root, nil
		}
	}
	// Recompute from the stored leaves.
	rng := rangeFactory.NewEmptyRange(0)
	for i := range size {
		leaf, _, err := l.InclusionProof(context.Background(), i, size)
		if err != nil {
			t.Fatal(err)
		}
		rng.Append(leaf, nil)
	}
	return rng.GetRootHash(nil)
}

func unb64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unb64s(t *testing.T, ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = unb64(t, s)
	}
	return out
}

func TestParseQuery(t *testing.T) {
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		query    string
		from, to time.Time
		field    string // the field of the error, "" for none
	}{
		{"day", "date=2024-05-06", day, day.AddDate(0, 0, 1), ""},
		{"range", "date=ge2024-05-06&date=lt2024-06", day, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), ""},
		{"gt a month", "date=gt2024-05", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), time.Time{}, ""},
		{"le a year", "date=le2024", time.Time{}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"instant with zone", "date=ge2024-05-06T02:00:00%2B02:00", day, time.Time{}, ""},
		{"empty range", "date=lt2024-01-01&date=gt2024-02-01", time.Time{}, time.Time{}, "date"},
		{"bad prefix", "date=ne2024", time.Time{}, time.Time{}, "date"},
		{"bad date", "date=2024-13-01", time.Time{}, time.Time{}, "date"},
		{"bad action", "action=X", time.Time{}, time.Time{}, "action"},
		{"bad outcome", "outcome=3", time.Time{}, time.Time{}, "outcome"},
		{"bad patient", "patient=Patient/a%20b", time.Time{}, time.Time{}, "patient"},
		{"twice", "user=a&user=b", time.Time{}, time.Time{}, "user"},
		{"count too big", "_count=5000", time.Time{}, time.Time{}, "_count"},
		{"unknown", "_sort=date", time.Time{}, time.Time{}, "_sort"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.query)
			q, err := ParseQuery("org1", v)
			if tc.field != "" {
				if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != tc.field {
					t.Fatalf("error %v, want invalid %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !q.From.Equal(tc.from) || !q.To.Equal(tc.to) {
				t.Fatalf("from %v to %v, want %v %v", q.From, q.To, tc.from, tc.to)
			}
		})
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"date=ge2024-05-06&patient=Patient/1", "outcome=4&action=R&_count=10", "date=2024-05-06T10:30:00.123Z", "user=x&date=lt2020"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		q, err := ParseQuery("org1", v)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("%q: error of code %s: %v", s, errs.CodeOf(err), err)
			}
			return
		}
		if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
			t.Fatalf("%q: empty range accepted", s)
		}
		if q.Limit < 0 || q.Limit > MaxResults {
			t.Fatalf("%q: limit %d", s, q.Limit)
		}
	})
}
