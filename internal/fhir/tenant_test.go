package fhir_test

import (
	"context"
	"slices"
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestSearchStaysInItsOrganisation stores resources of the same ids in two
// organisations and searches one of them in every way that reads the
// search index. Index rows name their resource by its key alone, so each
// of these would find the other organisation's rows if a query forgot to
// join them to the organisation's resources: chains and reverse chains,
// which turn one organisation's index rows into ids, most of all.
func TestSearchStaysInItsOrganisation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		a := newSearchEnv(t, d)
		b := *a
		b.org = org(t, d, "clinic-b")
		a.put(
			`{"resourceType": "Patient", "id": "p1", "name": [{"family": "Ames"}]}`,
			`{"resourceType": "Practitioner", "id": "dr"}`,
			`{"resourceType": "Observation", "id": "oa", "status": "final", "subject": {"reference": "Patient/p1"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "1111-1"}]}, "valueQuantity": {"value": 5, `+ucumKg+`}}`,
		)
		b.put(
			`{"resourceType": "Patient", "id": "p1", "name": [{"family": "Booth"}]}`,
			`{"resourceType": "Patient", "id": "p2", "name": [{"family": "Booth"}]}`,
			`{"resourceType": "Practitioner", "id": "dr"}`,
			`{"resourceType": "Observation", "id": "ob", "status": "final", "subject": {"reference": "Patient/p1"},
			  "performer": [{"reference": "Practitioner/dr"}],
			  "code": {"coding": [{"system": "http://loinc.org", "code": "2222-2"}]}, "valueQuantity": {"value": 90, `+ucumKg+`}}`,
			`{"resourceType": "CareTeam", "id": "team", "subject": {"reference": "Patient/p2"}, "participant": [{"member": {"reference": "Practitioner/dr"}}]}`,
		)

		// The other organisation's values match nothing here.
		a.expect("Observation", "code=2222-2")
		a.expect("Observation", "code-value-quantity=2222-2$90")
		a.expect("Observation", "value-quantity=90")
		a.expect("Patient", "family=Booth")
		a.expect("Observation", "performer=Practitioner/dr")
		a.expect("Observation", "subject=Patient/p1&code=2222-2")
		a.expect("Observation", "subject=Patient/p1&code:not=1111-1")
		// Its patient p1 is named Booth: a chain through the index rows of
		// both organisations' p1 would find oa.
		a.expect("Observation", "subject:Patient.name=Booth")
		a.expect("Observation", "subject:Patient.name=Ames", "oa")
		// Its Observation ob refers to a p1 too.
		a.expect("Patient", "_has:Observation:subject:code=2222-2")
		a.expect("Patient", "_has:Observation:subject:code=1111-1", "p1")
		a.expect("Patient", "_has:Observation:subject:performer=Practitioner/dr")
		b.expect("Patient", "_has:Observation:subject:performer=Practitioner/dr", "p1")
		a.expect("Observation", "code:missing=true")
		a.expect("Observation", "performer:missing=false")

		res, err := a.run(context.Background(), "Observation", "_summary=count&code=2222-2")
		if err != nil || res.Total != 0 {
			t.Errorf("count of the other organisation's code: %v, %v", res, err)
		}
		_, included := a.refs(context.Background(), "Observation", "_id=oa&_include=Observation:subject")
		if !slices.Equal(included, []string{"Patient/p1"}) {
			t.Errorf("_include = %q", included)
		}
		_, included = a.refs(context.Background(), "Patient", "_id=p1&_revinclude=Observation:subject")
		if !slices.Equal(included, []string{"Observation/oa"}) {
			t.Errorf("_revinclude = %q", included)
		}
		got, _ := a.refs(fhir.WithPatients(context.Background(), []string{"p1"}), "Observation", "")
		if !slices.Equal(got, []string{"Observation/oa"}) {
			t.Errorf("the compartment of p1 = %q", got)
		}
		referring, err := a.search.ReferringTo(context.Background(), a.org, "Patient", "p1", 10)
		if err != nil || len(referring) != 1 || referring[0].Ref() != "Observation/oa" {
			t.Errorf("resources referring to p1: %v, %v", referring, err)
		}
		links := []fhir.Link{{Type: "CareTeam", Param: "participant"}, {Type: "Observation", Param: "performer"}}
		for _, e := range []struct {
			env  *searchEnv
			want []string
		}{{a, nil}, {&b, []string{"p1", "p2"}}} {
			patients, err := e.env.search.PatientsLinkedTo(context.Background(), e.env.org, "Practitioner/dr", links)
			if err != nil || !slices.Equal(patients, e.want) {
				t.Errorf("patients linked to the practitioner: %q, %v; want %q", patients, err, e.want)
			}
		}
	})
}
