package fhir_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// TestReindexRestoresTheIndex removes index rows, as an upgrade that
// indexes more leaves old resources, and checks that Reindex puts back
// exactly the rows a fresh write makes, for one organisation only.
func TestReindexRestoresTheIndex(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := org(t, d, "clinic-a"), org(t, d, "clinic-b")
		q, err := jobs.New(d, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s := fhir.NewStore(d, q, fhir.NewSpecIndexer())
		var rs []fhir.Resource
		for i := range 1200 { // more than two batches
			rs = append(rs, patient(fmt.Sprintf("p%04d", i), fmt.Sprintf("Family%d", i%7)))
		}
		rs = append(rs, fhir.Resource{Type: "Observation", ID: "o1", JSON: []byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p0001"},"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`)})
		for _, o := range []string{a, b} {
			if err := d.InTx(ctx, func(tx *sql.Tx) error { _, err := s.PutTx(ctx, tx, o, rs); return err }); err != nil {
				t.Fatal(err)
			}
		}
		// The one deleted resource keeps no rows, before and after.
		if err := d.InTx(ctx, func(tx *sql.Tx) error { _, err := s.DeleteTx(ctx, tx, a, "Patient", "p0002"); return err }); err != nil {
			t.Fatal(err)
		}
		rows := func(orgID string) map[string]int {
			out := map[string]int{}
			for _, tbl := range []string{"fhir_idx_token", "fhir_idx_string", "fhir_idx_date", "fhir_idx_reference", "fhir_idx_quantity", "fhir_idx_composite"} {
				var n int
				if err := d.Read.QueryRow("SELECT count(*) FROM "+tbl+" x JOIN fhir_resources r ON r.rk = x.res WHERE r.org_id = $1", orgID).Scan(&n); err != nil {
					t.Fatal(err)
				}
				out[tbl] = n
			}
			return out
		}
		want, wantB := rows(a), rows(b)
		if want["fhir_idx_string"] == 0 || want["fhir_idx_composite"] == 0 {
			t.Fatalf("nothing indexed to begin with: %v", want)
		}
		for _, tbl := range []string{"fhir_idx_string", "fhir_idx_composite", "fhir_idx_token"} {
			if _, err := d.Write.Exec("DELETE FROM "+tbl+" WHERE res IN (SELECT rk FROM fhir_resources WHERE org_id = $1)", a); err != nil {
				t.Fatal(err)
			}
		}
		var calls []fhir.ReindexProgress
		n, err := s.Reindex(ctx, a, "", func(p fhir.ReindexProgress) { calls = append(calls, p) })
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(rs)-1) || len(calls) != 3 || calls[2].Done != n || calls[2].Total != n {
			t.Errorf("reindexed %d, progress %v; want %d in 3 batches", n, calls, len(rs)-1)
		}
		if got := rows(a); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows after reindex %v, want %v", got, want)
		}
		if got := rows(b); fmt.Sprint(got) != fmt.Sprint(wantB) {
			t.Errorf("the other organisation changed: %v, want %v", got, wantB)
		}
		// Again, for one type: nothing changes.
		if n, err := s.Reindex(ctx, a, "Observation", nil); err != nil || n != 1 {
			t.Errorf("reindex of Observation: %d %v", n, err)
		}
		if got := rows(a); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows after a second reindex %v, want %v", got, want)
		}
	})
}
