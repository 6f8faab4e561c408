package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestBulkExport runs $export for the organisation and for one patient and
// checks the NDJSON against what was stored.
func TestBulkExport(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			ctx := context.Background()
			if err := s.a.Jobs.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer s.a.Jobs.Stop(ctx)
			files := fhirtest.SyntheaFiles(t)[:2]
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				if r := s.do("POST", "/fhir", raw, "Prefer", "return=minimal"); r.status != 200 {
					t.Fatalf("import: %d %.300s", r.status, r.body)
				}
			}
			want := map[string]int{}
			for _, typ := range []string{"Patient", "Observation", "Encounter", "Condition"} {
				want[typ] = total(t, s.do("GET", "/fhir/"+typ+"?_summary=count", nil))
			}

			if r := s.do("GET", "/fhir/$export", nil); r.status != 400 || !strings.Contains(string(r.body), "respond-async") {
				t.Fatalf("kick-off without Prefer: %d %s", r.status, r.body)
			}
			if r := s.do("GET", "/fhir/$export?_type=Patients", nil, "Prefer", "respond-async"); r.status != 400 {
				t.Fatalf("kick-off with a bad _type: %d %s", r.status, r.body)
			}
			got := runExport(t, s, "/fhir/$export?_type=Patient,Observation,Encounter,Condition")
			for typ, n := range want {
				if got[typ] != n {
					t.Errorf("export has %d %s, want %d", got[typ], typ, n)
				}
			}

			pats := entries(t, s.do("GET", "/fhir/Patient?_count=1", nil))
			pid := pats[0]["resource"].(map[string]any)["id"].(string)
			wantObs := total(t, s.do("GET", "/fhir/Observation?subject=Patient/"+pid+"&_summary=count", nil))
			got = runExport(t, s, "/fhir/Patient/"+pid+"/$export?_type=Patient,Observation")
			if got["Patient"] != 1 || got["Observation"] != wantObs {
				t.Errorf("patient export: %v, want 1 Patient and %d Observations", got, wantObs)
			}
			// Another organisation cannot read the status or the files.
			if r := s.do("GET", "/fhir/Patient/"+pid+"/$export", nil, "Prefer", "respond-async", "Authorization", "Bearer "+s.tokenB); r.status != 404 {
				t.Errorf("other organisation exporting a's patient: %d", r.status)
			}
		})
	}
}

// runExport kicks off an export, polls until done, downloads every file and
// counts the resources by type.
func runExport(t *testing.T, s *server, path string) map[string]int {
	t.Helper()
	r := s.do("GET", path, nil, "Prefer", "respond-async")
	if r.status != 202 {
		t.Fatalf("kick-off %s: %d %s", path, r.status, r.body)
	}
	status := strings.TrimPrefix(r.header.Get("Content-Location"), s.a.Config.BaseURL.String())
	if !strings.HasPrefix(status, "/fhir/$export-status/") {
		t.Fatalf("Content-Location %q", r.header.Get("Content-Location"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.do("GET", status, nil)
		if r.status == 200 {
			break
		}
		if r.status != 202 || time.Now().After(deadline) {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if other := s.do("GET", status, nil, "Authorization", "Bearer "+s.tokenB); other.status != 404 {
		t.Errorf("another organisation read the export status: %d", other.status)
	}
	var manifest struct {
		Output []struct {
			Type  string `json:"type"`
			URL   string `json:"url"`
			Count int    `json:"count"`
		} `json:"output"`
		RequiresAccessToken bool `json:"requiresAccessToken"`
	}
	if err := json.Unmarshal(r.body, &manifest); err != nil || !manifest.RequiresAccessToken {
		t.Fatalf("manifest: %v %s", err, r.body)
	}
	counts := map[string]int{}
	for _, f := range manifest.Output {
		file := s.do("GET", strings.TrimPrefix(f.URL, s.a.Config.BaseURL.String()), nil)
		if file.status != 200 || file.header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Fatalf("file %s: %d %s", f.URL, file.status, file.header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(bytes.NewReader(file.body))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		n := 0
		for sc.Scan() {
			var res struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil || res.ResourceType != f.Type {
				t.Fatalf("line %d of %s: %v %q", n, f.URL, err, res.ResourceType)
			}
			n++
		}
		if n != f.Count {
			t.Errorf("%s holds %d lines, manifest says %d", f.URL, n, f.Count)
		}
		counts[f.Type] += n
	}
	if r := s.do("DELETE", status, nil); r.status != 202 {
		t.Errorf("delete export: %d", r.status)
	}
	if r := s.do("GET", status, nil); r.status != 404 {
		t.Errorf("status after delete: %d", r.status)
	}
	return counts
}
