package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// TestOutboxSurvivesKill is the crash test of the outbox: laboratory
// orders are written through the FHIR API by four clients while the
// journeys' and the counts' consumers apply them in batches, and the
// process is killed (SIGKILL) in the middle of it. After a restart every
// order that was written has exactly one journey, moved exactly once by
// each of its writes, and the counts per type equal the resources stored:
// nothing was lost and nothing applied twice.
func TestOutboxSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	bin := buildCareloop(t)
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			store := []string{"--data-dir", t.TempDir()}
			if e == db.Postgres {
				store = append(store, "--db", dbtest.PostgresURL(t))
			}
			token, orgID := crashSetup(t, store)
			srv := startServe(t, bin, store)

			// Four clients write orders until the process dies under them.
			var accepted, sent atomic.Int64
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						id := fmt.Sprintf("kill-%d-%d", w, i)
						sent.Add(1)
						code, err := postBundle(srv.base, token, orderBundle(id, fmt.Sprintf("kp%d-%d", w, i%5)))
						if err != nil {
							return // the process is gone
						}
						if code != http.StatusOK {
							t.Errorf("order %s: %d", id, code)
							return
						}
						accepted.Add(1)
					}
				})
			}
			for accepted.Load() < 150 {
				time.Sleep(5 * time.Millisecond)
			}
			srv.kill()
			wg.Wait()
			t.Logf("killed after %d orders accepted (%d sent)", accepted.Load(), sent.Load())

			cfg, err := config.Parse("serve", config.Store, store, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			left, err := jobs.BacklogOf(context.Background(), a.DB, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d items and jobs waiting after the kill", left.Waiting)

			srv = startServe(t, bin, store)
			look := &crashLook{t: t, d: a.DB, org: orgID}
			look.until("the backlog applied", func() bool {
				b, err := jobs.BacklogOf(context.Background(), a.DB, "")
				if err != nil {
					t.Fatal(err)
				}
				if b.Failed > 0 {
					t.Fatalf("failed work after the restart: %s", b.LastError)
				}
				return b.Waiting == 0
			})
			srv.stop()

			var orders, journeys, minEvents, maxEvents int64
			q := func(dst *int64, query string) {
				t.Helper()
				if err := a.DB.Read.QueryRow(query, orgID).Scan(dst); err != nil {
					t.Fatal(err)
				}
			}
			q(&orders, "SELECT count(*) FROM fhir_resources WHERE org_id = $1 AND resource_type = 'ServiceRequest' AND NOT deleted")
			q(&journeys, "SELECT count(*) FROM journeys WHERE org_id = $1 AND anchor LIKE 'ServiceRequest/kill-%'")
			q(&minEvents, "SELECT COALESCE(MIN(events), 0) FROM journeys WHERE org_id = $1 AND anchor LIKE 'ServiceRequest/kill-%'")
			q(&maxEvents, "SELECT COALESCE(MAX(events), 0) FROM journeys WHERE org_id = $1 AND anchor LIKE 'ServiceRequest/kill-%'")
			if orders < accepted.Load() || journeys != orders {
				t.Fatalf("%d orders stored (%d accepted), %d journeys: want one journey per order", orders, accepted.Load(), journeys)
			}
			// Each order's one transaction moves its journey the same way:
			// a journey with more events had a write applied twice.
			if minEvents != maxEvents || minEvents == 0 {
				t.Fatalf("journeys have %d to %d events: some writes were applied twice or not at all", minEvents, maxEvents)
			}
			counts, err := a.Resources.Counts(context.Background(), orgID)
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range []string{"ServiceRequest", "Observation", "DiagnosticReport"} {
				var stored int64
				if err := a.DB.Read.QueryRow("SELECT count(*) FROM fhir_resources WHERE org_id = $1 AND resource_type = $2 AND NOT deleted",
					orgID, typ).Scan(&stored); err != nil {
					t.Fatal(err)
				}
				if counts[typ] != stored {
					t.Errorf("%s: counted %d, stored %d", typ, counts[typ], stored)
				}
			}
		})
	}
}

// orderBundle is a transaction Bundle of a patient, a sodium order, its
// normal result and the final report.
func orderBundle(id, patient string) string {
	now := time.Now().UTC().Format(time.RFC3339)
	entry := func(typ, rid, body string) string {
		return fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"%s/%s"}}`, body, typ, rid)
	}
	code := `"code":{"coding":[{"system":"http://loinc.org","code":"2951-2","display":"Sodium"}]}`
	subject := `"subject":{"reference":"Patient/` + patient + `"}`
	return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join([]string{
		entry("Patient", patient, `{"resourceType":"Patient","id":"`+patient+`","gender":"male","birthDate":"1971-03-04"}`),
		entry("ServiceRequest", id, `{"resourceType":"ServiceRequest","id":"`+id+`","status":"active","intent":"order",`+subject+`,`+code+`}`),
		entry("Observation", id+"-na", `{"resourceType":"Observation","id":"`+id+`-na","status":"final","basedOn":[{"reference":"ServiceRequest/`+id+`"}],`+
			`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`+code+`,`+subject+
			`,"effectiveDateTime":"`+now+`","valueQuantity":{"value":140,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`),
		entry("DiagnosticReport", id+"-r", `{"resourceType":"DiagnosticReport","id":"`+id+`-r","status":"final","basedOn":[{"reference":"ServiceRequest/`+id+`"}],`+
			subject+`,`+code+`,"issued":"`+now+`","result":[{"reference":"Observation/`+id+`-na"}]}`),
	}, ",") + `]}`
}

// postBundle posts a Bundle to /fhir and returns the status, or the error
// of a request the server did not answer.
func postBundle(base, token, bundle string) (int, error) {
	req, err := http.NewRequest("POST", base+"/fhir", bytes.NewReader([]byte(bundle)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
