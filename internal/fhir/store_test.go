package fhir_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
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
	return fhir.NewStore(d, q, nil), q
}

// family returns the first family name of a stored Patient, checking that
// its meta matches the stored version.
func family(t *testing.T, st *fhir.Stored) string {
	t.Helper()
	var p struct {
		ID   string `json:"id"`
		Meta struct {
			VersionID   string `json:"versionId"`
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
		Name []struct {
			Family string `json:"family"`
		} `json:"name"`
	}
	if err := json.Unmarshal(st.JSON, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != st.ID || p.Meta.VersionID != fmt.Sprint(st.VersionID) {
		t.Fatalf("stored JSON says id %q version %q; row says %s version %d", p.ID, p.Meta.VersionID, st.ID, st.VersionID)
	}
	if lu, err := time.Parse(time.RFC3339, p.Meta.LastUpdated); err != nil || !lu.Equal(st.LastUpdated) {
		t.Fatalf("meta.lastUpdated %q vs %v (%v)", p.Meta.LastUpdated, st.LastUpdated, err)
	}
	if len(p.Name) == 0 {
		return ""
	}
	return p.Name[0].Family
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
		inTx := func(fn func(tx *sql.Tx) error) error { return d.InTx(ctx, fn) }

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
			if err != nil || got.VersionID != 2 || family(t, got) != "Nguyen" {
				t.Fatalf("read: %+v %v", got, err)
			}
			old, err := s.VRead(ctx, a, "Patient", "p1", 1)
			if err != nil || family(t, old) != "Ng" {
				t.Fatalf("vread 1: %v", err)
			}
			if _, err := s.VRead(ctx, a, "Patient", "p1", 3); errs.CodeOf(err) != errs.NotFound {
				t.Fatalf("vread 3: %v", err)
			}
			if time.Since(got.LastUpdated) > time.Minute || got.LastUpdated.Location() != time.UTC {
				t.Errorf("lastUpdated %v", got.LastUpdated)
			}
		})

		t.Run("create, update with If-Match, delete, history", func(t *testing.T) {
			var created *fhir.Stored
			err := inTx(func(tx *sql.Tx) (err error) {
				created, err = s.CreateTx(ctx, tx, a, "Patient", "", []byte(`{"resourceType":"Patient","id":"ignored","name":[{"family":"Okafor"}]}`))
				return err
			})
			if err != nil || created.VersionID != 1 || len(created.ID) != 36 || family(t, created) != "Okafor" {
				t.Fatalf("create: %+v %v", created, err)
			}
			id := created.ID
			if err := inTx(func(tx *sql.Tx) error {
				_, err := s.CreateTx(ctx, tx, a, "Patient", id, []byte(`{"resourceType":"Patient"}`))
				return err
			}); errs.CodeOf(err) != errs.Conflict {
				t.Fatalf("create over an existing id: %v", err)
			}
			err = inTx(func(tx *sql.Tx) error {
				_, _, err := s.UpdateTx(ctx, tx, a, "Patient", id, []byte(`{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Okafor-Ade"}]}`), 7)
				return err
			})
			if errs.CodeOf(err) != errs.PreconditionFailed {
				t.Fatalf("update with a stale If-Match: %v", err)
			}
			var updated *fhir.Stored
			var wasCreated bool
			if err := inTx(func(tx *sql.Tx) (err error) {
				updated, wasCreated, err = s.UpdateTx(ctx, tx, a, "Patient", id, []byte(`{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Okafor-Ade"}]}`), 1)
				return err
			}); err != nil || wasCreated || updated.VersionID != 2 {
				t.Fatalf("update: %+v %v %v", updated, wasCreated, err)
			}
			if err := inTx(func(tx *sql.Tx) error { _, err := s.DeleteTx(ctx, tx, a, "Patient", id); return err }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Read(ctx, a, "Patient", id); errs.CodeOf(err) != errs.Gone {
				t.Fatalf("read after delete: %v", err)
			}
			if err := inTx(func(tx *sql.Tx) error { _, err := s.DeleteTx(ctx, tx, a, "Patient", id); return err }); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			hist, more, err := s.History(ctx, a, fhir.HistoryQuery{Type: "Patient", ID: id})
			if err != nil || more || len(hist) != 3 || !hist[0].Deleted || hist[0].VersionID != 3 || hist[2].VersionID != 1 {
				t.Fatalf("history: %d entries, more %v, err %v", len(hist), more, err)
			}
			// Paging through the type's history returns every version once.
			seen := map[string]bool{}
			var cursor *fhir.Cursor
			for {
				page, more, err := s.History(ctx, a, fhir.HistoryQuery{Type: "Patient", Count: 2, Before: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range page {
					key := fmt.Sprintf("%s/%d", v.ID, v.VersionID)
					if seen[key] {
						t.Fatalf("%s twice in history pages", key)
					}
					seen[key] = true
				}
				if !more {
					break
				}
				last := page[len(page)-1]
				cursor = &fhir.Cursor{Time: last.LastUpdated, Type: last.Type, ID: last.ID, Version: last.VersionID}
			}
			if len(seen) != 5 { // p1 twice, the new patient three times
				t.Fatalf("history pages held %d versions, want 5: %v", len(seen), seen)
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
			if family(t, got) != "Nguyen" {
				t.Fatalf("a's patient changed by b's write")
			}
			if hist, _, _ := s.History(ctx, b, fhir.HistoryQuery{}); len(hist) != 1 {
				t.Fatalf("b's history shows %d versions", len(hist))
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

func TestCounts(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := org(t, d, "clinic-a")
		ws := river.NewWorkers()
		river.AddWorker(ws, fhir.NewCountWorker(d))
		s, q := newStore(t, d, ws)
		counts := outbox.New(outbox.Config{DB: d, Topic: fhir.CountsTopic, Handler: fhir.ApplyCounts})
		write := func(fn func(tx *sql.Tx) error) {
			t.Helper()
			if err := d.InTx(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		check := func(want map[string]int64) {
			t.Helper()
			if _, err := counts.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := s.Counts(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("counts %v, want %v", got, want)
			}
		}
		// p1 twice in one call: one resource.
		write(func(tx *sql.Tx) error {
			_, err := s.PutTx(ctx, tx, a, []fhir.Resource{patient("p1", "A"), patient("p2", "B"), patient("p1", "A2")})
			return err
		})
		check(map[string]int64{"Patient": 2})
		// Deleting counts down, deleting again changes nothing, creating
		// again after deletion counts up, updating a live one does not.
		write(func(tx *sql.Tx) error {
			if _, err := s.DeleteTx(ctx, tx, a, "Patient", "p2"); err != nil {
				return err
			}
			_, err := s.DeleteTx(ctx, tx, a, "Patient", "p2")
			return err
		})
		check(map[string]int64{"Patient": 1})
		// A write that rolls back counts nothing.
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.CreateTx(ctx, tx, a, "Patient", "p9", patient("p9", "Gone").JSON); err != nil {
				return err
			}
			return errors.New("the write fails")
		})
		if err == nil {
			t.Fatal("the write should have failed")
		}
		write(func(tx *sql.Tx) error {
			if _, _, err := s.UpdateTx(ctx, tx, a, "Patient", "p2", patient("p2", "B again").JSON, 0); err != nil {
				return err
			}
			if _, _, err := s.UpdateTx(ctx, tx, a, "Patient", "p1", patient("p1", "A3").JSON, 0); err != nil {
				return err
			}
			_, err := s.CreateTx(ctx, tx, a, "Observation", "", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
			return err
		})
		check(map[string]int64{"Observation": 1, "Patient": 2})
		// Every item is counted exactly once: the counts stay put.
		check(map[string]int64{"Observation": 1, "Patient": 2})

		// A fhir.resources_changed job queued by an earlier version is
		// still counted, once.
		write(func(tx *sql.Tx) error {
			_, err := q.InsertTx(ctx, tx, fhir.ResourcesChangedArgs{OrgID: a, Types: []string{"Observation"}, Live: map[string]int64{"Observation": 2}}, nil)
			return err
		})
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got, err := s.Counts(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if got["Observation"] == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the queued job was not counted: %v", got)
			}
		}
		time.Sleep(200 * time.Millisecond)
		check(map[string]int64{"Observation": 3, "Patient": 2})
	})
}
