package journey_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// sitedOrder is a potassium order performed by an organisation.
const sitedOrder = `{"resourceType":"ServiceRequest","id":"%s","status":"%s","intent":"order","subject":{"reference":"Patient/pat"},
	"requester":{"reference":"Practitioner/doc"},"performer":[{"reference":"Organization/%s"}],
	"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`

// okAudit records every access.
type okAudit struct{ reads []journey.Access }

func (a *okAudit) Record(_ context.Context, _ *fhir.Principal, acc journey.Access) error {
	a.reads = append(a.reads, acc)
	return nil
}

func (a *okAudit) RecordTx(context.Context, *sql.Tx, *fhir.Principal, journey.Access) error {
	return nil
}

// eta returns the journey's ETA as the service computes it, or nil.
func (e *env) eta(j *journey.Journey) *journey.ETA {
	e.t.Helper()
	m, err := e.s.ETAs(context.Background(), e.org, []*journey.Journey{j})
	if err != nil {
		e.t.Fatal(err)
	}
	return m[j.ID]
}

// TestETAFromHistory: an order without history gets the laboratory
// default; after six results of the same test at the same site, the
// median and 80th percentile of their times from order to final; another
// site keeps the default; imported history and cancelled orders add no
// sample; the ETA is on the journey's JSON while the result is awaited.
func TestETAFromHistory(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		// Orders are stamped with the real time of their write: the test's
		// clock starts there.
		e.now = time.Now().UTC().Truncate(time.Millisecond)
		e.write(fmt.Sprintf(sitedOrder, "first", "active", "lab1"))
		first, _ := e.journey("ServiceRequest/first")
		eta := e.eta(first)
		if eta == nil || eta.Basis != journey.BasisDefault || eta.SampleSize != 0 ||
			!eta.MedianAt.Equal(first.OpenedAt.Add(24*time.Hour)) || !eta.P80At.Equal(first.OpenedAt.Add(48*time.Hour)) ||
			!strings.HasPrefix(eta.Sentence, "estimate: no history yet; usually ready within 1 day; 8 in 10 by ") {
			t.Fatalf("ETA without history: %+v", eta)
		}

		var durations []time.Duration
		for i := 1; i <= 6; i++ {
			sr, k, dr := fmt.Sprintf("sr%d", i), fmt.Sprintf("k%d", i), fmt.Sprintf("dr%d", i)
			e.write(fmt.Sprintf(sitedOrder, sr, "active", "lab1"))
			e.advance(time.Duration(i) * time.Hour)
			e.write(fmt.Sprintf(potassium, k, "final", "4.2", "N"), fmt.Sprintf(report, dr, "final", sr, k))
			j, _ := e.journey("ServiceRequest/" + sr)
			if j.FinalAt == nil || e.eta(j) != nil {
				t.Fatalf("final result %s: %+v, ETA %+v", sr, j, e.eta(j))
			}
			durations = append(durations, j.FinalAt.Sub(j.OpenedAt))
		}
		slices.Sort(durations)
		e.write(fmt.Sprintf(sitedOrder, "next", "active", "lab1"), fmt.Sprintf(sitedOrder, "elsewhere", "active", "lab2"))
		next, _ := e.journey("ServiceRequest/next")
		eta = e.eta(next)
		// Nearest rank of six: the median is the 3rd, the 80th percentile the 5th.
		if eta == nil || eta.Basis != journey.BasisHistory || eta.SampleSize != 6 ||
			!eta.MedianAt.Equal(next.OpenedAt.Add(durations[2])) || !eta.P80At.Equal(next.OpenedAt.Add(durations[4])) {
			t.Fatalf("ETA from history: %+v, want median %v and p80 %v after %v", eta, durations[2], durations[4], next.OpenedAt)
		}
		// The test's clock is 21 hours on: later than 8 in 10 of the results.
		if !strings.HasPrefix(eta.Sentence, "usually ready within 6 hours; taking longer than most: 8 in 10 were ready by ") {
			t.Fatalf("sentence %q", eta.Sentence)
		}
		if other, _ := e.journey("ServiceRequest/elsewhere"); e.eta(other).Basis != journey.BasisDefault {
			t.Fatalf("another site used lab1's history: %+v", e.eta(other))
		}

		// Imported history and a cancelled order add no sample.
		e.write(fmt.Sprintf(sitedOrder, "old", "active", "lab1"))
		e.advance(time.Hour)
		e.write(fmt.Sprintf(potassium, "kold", "final", "4.2", "N"),
			strings.Replace(fmt.Sprintf(report, "drold", "final", "old", "kold"), "2026-11-20T08:55:00Z", "2019-01-01T00:00:00Z", 1))
		e.write(fmt.Sprintf(sitedOrder, "next", "revoked", "lab1"))
		var observations, pending int
		if err := d.Read.QueryRow("SELECT observations FROM journey_eta_series WHERE org_id = $1 AND site = 'Organization/lab1'", e.org).Scan(&observations); err != nil {
			t.Fatal(err)
		}
		if err := d.Read.QueryRow("SELECT count(*) FROM journey_eta_pending WHERE org_id = $1", e.org).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if observations != 6 || pending != 2 { // first and elsewhere still wait
			t.Fatalf("%d observations, %d orders waiting; want 6 and 2", observations, pending)
		}

		// On the JSON of the journey, for the care team and the patient.
		elsewhere, _ := e.journey("ServiceRequest/elsewhere")
		audit := &okAudit{}
		for _, who := range []*fhir.Principal{
			{OrgID: e.org, Subject: "account/doc", Kind: "user", Role: "clinician"},
			{OrgID: e.org, Subject: "account/pat", Kind: "user", Role: "patient", Compartments: func(string) ([]string, bool) { return []string{"pat"}, true }},
		} {
			mux := http.NewServeMux()
			(&journey.API{Service: e.s, Users: principal{who}, Audit: audit}).Register(mux)
			srv := httptest.NewServer(mux)
			path := "/journeys/" + elsewhere.ID
			if who.Role == "patient" {
				path = "/journeys/mine?count=200"
			}
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			srv.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %v", who.Role, path, resp.StatusCode, err)
			}
			view := body
			if who.Role == "patient" {
				view = nil
				for _, v := range body["journeys"].([]any) {
					if v.(map[string]any)["id"] == elsewhere.ID {
						view = v.(map[string]any)
					}
				}
			}
			got, _ := view["eta"].(map[string]any)
			if got == nil || got["basis"] != "default" || got["sample_size"] != 0.0 || got["median_at"] == nil || got["p80_at"] == nil ||
				!strings.HasPrefix(got["sentence"].(string), "estimate: no history yet") {
				t.Fatalf("%s sees the ETA %v in %v", who.Role, got, view)
			}
		}
	})
}
