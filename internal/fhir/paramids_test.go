package fhir_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// TestIndexParamIDsMigration fills a database at schema version 20, whose
// index rows name their parameter by resource type and code, and checks
// that migration 21 keeps every row findable by its number in
// fhir_index_params, that rows written afterwards share the numbers, and
// that going down again gives the rows their names back.
func TestIndexParamIDsMigration(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.OpenEmpty(t, engine)
			if err := d.MigrateTo(ctx, 20); err != nil {
				t.Fatal(err)
			}
			orgID := org(t, d, "clinic-before")
			dbtest.MustExec(t, d, `INSERT INTO fhir_resources (org_id, resource_type, id, version_id, last_updated, deleted, content)
				VALUES ($1, 'Observation', 'o1', 1, $2, $3, $4)`, orgID, time.Now().UTC(), false,
				`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":82,"system":"http://unitsofmeasure.org","code":"kg","unit":"kg"}}`)
			var rk int64
			if err := d.Read.QueryRow("SELECT rk FROM fhir_resources WHERE id = 'o1'").Scan(&rk); err != nil {
				t.Fatal(err)
			}
			// The rows version 20 wrote for o1 (a part of them).
			dbtest.MustExec(t, d, `INSERT INTO fhir_idx_token (res, resource_type, param, system, code, display)
				VALUES ($1, 'Observation', 'code', 'http://loinc.org', '29463-7', '')`, rk)
			dbtest.MustExec(t, d, `INSERT INTO fhir_idx_reference (res, resource_type, param, target_type, target_id, url)
				VALUES ($1, 'Observation', 'subject', 'Patient', 'p1', '')`, rk)
			dbtest.MustExec(t, d, `INSERT INTO fhir_idx_composite (res, resource_type, param, node, part, system, code, display, value, low, high, num, unit, target_type, target_id, url)
				VALUES ($1, 'Observation', 'code-value-quantity', 0, 0, 'http://loinc.org', '29463-7', '', '', 0, 0, 0, '', '', '', ''),
				       ($1, 'Observation', 'code-value-quantity', 0, 1, 'http://unitsofmeasure.org', 'kg', '', '', 0, 0, 82, 'kg', '', '', '')`, rk)

			if _, err := d.Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}
			var pairs int
			if err := d.Read.QueryRow("SELECT count(*) FROM fhir_index_params").Scan(&pairs); err != nil || pairs != 3 {
				t.Fatalf("fhir_index_params holds %d pairs (%v), want 3", pairs, err)
			}
			e := newSearchEnv(t, d)
			e.org = orgID
			e.expect("Observation", "code=http://loinc.org|29463-7", "o1")
			e.expect("Observation", "subject=Patient/p1", "o1")
			e.expect("Observation", "patient=p1", "o1") // an alias of subject's rows
			e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$82|http://unitsofmeasure.org|kg", "o1")
			e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$70|http://unitsofmeasure.org|kg")

			// Written after the migration: the same numbers for the same pairs.
			e.put(`{"resourceType": "Observation", "id": "o2", "status": "final", "subject": {"reference": "Patient/p1"},
				"code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "valueQuantity": {"value": 70, ` + ucumKg + `}}`)
			e.expect("Observation", "code=http://loinc.org|29463-7", "o1", "o2")
			e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$70|http://unitsofmeasure.org|kg", "o2")
			e.expect("Observation", "subject=Patient/p1&code=29463-7", "o1", "o2")

			if err := d.MigrateTo(ctx, 20); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				table, param string
				want         int
			}{{"fhir_idx_token", "code", 2}, {"fhir_idx_reference", "subject", 2}, {"fhir_idx_composite", "code-value-quantity", 4}, {"fhir_idx_token", "status", 1}} {
				var n int
				err := d.Read.QueryRow("SELECT count(*) FROM "+c.table+" WHERE resource_type = 'Observation' AND param = $1", c.param).Scan(&n)
				if err != nil || n != c.want {
					t.Errorf("after going down: %d rows of Observation %s in %s (%v), want %d", n, c.param, c.table, err, c.want)
				}
			}
			if _, err := d.Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}
			e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$82|http://unitsofmeasure.org|kg", "o1")
		})
	}
}

// TestIndexParamIDsSurviveRollback: a transaction that gave parameters
// their numbers and then rolled back must not leave the store believing
// those numbers. SQLite hands them out again to the next parameters added,
// here by another store on the same database (as another process would).
func TestIndexParamIDsSurviveRollback(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newSearchEnv(t, d)
		rollBack := errors.New("roll back")
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := e.store.CreateTx(ctx, tx, e.org, "Observation", "gone", []byte(`{"resourceType": "Observation", "id": "gone", "status": "final",
				"code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "subject": {"reference": "Patient/p1"}}`)); err != nil {
				return err
			}
			return rollBack
		})
		if !errors.Is(err, rollBack) {
			t.Fatal(err)
		}
		q, err := jobs.New(d, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		other := fhir.NewStore(d, q, fhir.NewSpecIndexer())
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := other.CreateTx(ctx, tx, e.org, "Patient", "p1", []byte(`{"resourceType": "Patient", "id": "p1", "name": [{"family": "Kim"}], "gender": "female"}`))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.put(`{"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
			"code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}`)
		e.expect("Observation", "code=http://loinc.org|29463-7", "o1")
		e.expect("Observation", "subject=Patient/p1", "o1")
		e.expect("Observation", "status=final", "o1")
		e.expect("Patient", "name=Kim", "p1")
		e.expect("Patient", "gender=female", "p1")
		e.expect("Patient", "_has:Observation:subject:code=http://loinc.org|29463-7", "p1")
	})
}

// TestIndexParamIDsWithOneConnection: a writer that meets parameters
// without a number must not need a second connection while its
// transaction holds one. On PostgreSQL the pool is shared, and concurrent
// writers may hold every connection of it; here the pool has one.
func TestIndexParamIDsWithOneConnection(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			_, opts := dbtest.OpenWithOptions(t, engine)
			opts.MaxConns = 1
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d, err := db.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			e := newSearchEnv(t, d)
			for _, id := range []string{"p1", "p2"} {
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := e.store.CreateTx(ctx, tx, e.org, "Patient", id, []byte(`{"resourceType": "Patient", "id": "`+id+`", "name": [{"family": "Kim"}]}`))
					return err
				})
				if err != nil {
					t.Fatalf("write %s with one connection: %v", id, err)
				}
			}
			e.expect("Patient", "name=Kim", "p1", "p2")
		})
	}
}
