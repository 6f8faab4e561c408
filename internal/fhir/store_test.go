package fhir_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/tenant"
)

func patient(id, family string) fhir.Resource {
	return fhir.Resource{Type: "Patient", ID: id, JSON: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q}]}`, id, family))}
}

func org(t *testing.T, d *db.DB, slug string) string {
	t.Helper()
	o := &tenant.Organization{Slug: slug, Name: slug}
	if err := d.InTx(context.Background(), func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(context.Background(), tx, o) }); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func newStore(t *testing.T, d *db.DB, workers *river.Workers) (*fhir.Store, *jobs.Queue) {
	t.Helper()
	q, err := jobs.New(d, jobs.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return fhir.NewStore(d, q), q
}

func TestStoreContract(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := org(t, d, "clinic-a"), org(t, d, "clinic-b")
		s, _ := newStore(t, d, nil)
		put := func(orgID string, rs ...fhir.Resource) ([]fhir.Stored, error) {
			var out []fhir.Stored
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				out, err = s.PutTx(ctx, tx, orgID, rs)
				return err
			})
			return out, err
		}

		t.Run("versions", func(t *testing.T) {
			v1, err := put(a, patient("p1", "Ng"))
			if err != nil || v1[0].VersionID != 1 {
				t.Fatalf("first put: %v %v", v1, err)
			}
			v2, err := put(a, patient("p1", "Nguyen"))
			if err != nil || v2[0].VersionID != 2 {
				t.Fatalf("second put: %v %v", v2, err)
			}
			got, err := s.Read(ctx, a, "Patient", "p1")
			if err != nil || got.VersionID != 2 || string(got.JSON) != string(patient("p1", "Nguyen").JSON) {
				t.Fatalf("read: %+v %v", got, err)
			}
			var history int
			if err := d.Read.QueryRow("SELECT count(*) FROM fhir_resource_history WHERE org_id = $1 AND id = 'p1'", a).Scan(&history); err != nil || history != 2 {
				t.Fatalf("history rows %d err %v", history, err)
			}
			if time.Since(got.LastUpdated) > time.Minute || got.LastUpdated.Location() != time.UTC {
				t.Errorf("lastUpdated %v", got.LastUpdated)
			}
		})

		t.Run("tenants are isolated", func(t *testing.T) {
			if _, err := s.Read(ctx, b, "Patient", "p1"); errs.CodeOf(err) != errs.NotFound {
				t.Fatalf("organisation b read a's patient: %v", err)
			}
			// The same id in another organisation is another resource.
			if v, err := put(b, patient("p1", "Other")); err != nil || v[0].VersionID != 1 {
				t.Fatalf("put in b: %v %v", v, err)
			}
			got, _ := s.Read(ctx, a, "Patient", "p1")
			if string(got.JSON) != string(patient("p1", "Nguyen").JSON) {
				t.Fatalf("a's patient changed by b's write: %s", got.JSON)
			}
		})

		t.Run("bad input changes nothing", func(t *testing.T) {
			cases := map[string]fhir.Resource{
				"type mismatch": {Type: "Patient", ID: "x1", JSON: []byte(`{"resourceType":"Observation","id":"x1"}`)},
				"id mismatch":   {Type: "Patient", ID: "x2", JSON: []byte(`{"resourceType":"Patient","id":"x3"}`)},
				"bad id":        {Type: "Patient", ID: "no spaces", JSON: []byte(`{"resourceType":"Patient","id":"no spaces"}`)},
				"bad type":      {Type: "patient", ID: "x4", JSON: []byte(`{"resourceType":"patient","id":"x4"}`)},
				"not json":      {Type: "Patient", ID: "x5", JSON: []byte(`{"resourceType":`)},
			}
			for name, bad := range cases {
				_, err := put(a, patient("ok-before-bad", "Fine"), bad)
				if errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: got %v, want invalid", name, err)
				}
			}
			if _, err := s.Read(ctx, a, "Patient", "ok-before-bad"); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("a valid resource of a rejected batch was stored: %v", err)
			}
		})
	})
}

func TestResourcesChangedJobCounts(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := org(t, d, "clinic-a")
		ws := river.NewWorkers()
		river.AddWorker(ws, fhir.NewCountWorker(d))
		s, q := newStore(t, d, ws)
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := s.PutTx(ctx, tx, a, []fhir.Resource{patient("p1", "A"), patient("p2", "B"), patient("p1", "A2")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		deadline := time.Now().Add(10 * time.Second)
		for {
			counts, err := s.Counts(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if counts["Patient"] == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("counts %v, want Patient: 2", counts)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
