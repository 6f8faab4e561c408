package fhir_test

import (
	"slices"
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestAliasParametersShareRows checks the parameters whose values other
// parameters' rows hold (spec.SearchParam.RowsOf): the index writes no rows
// of their own, and every way of searching them finds what searching
// their rows' parameters finds.
func TestAliasParametersShareRows(t *testing.T) {
	x := fhir.NewSpecIndexer()
	for _, typ := range []string{"Observation", "Encounter", "Appointment", "Person"} {
		for code, p := range spec.SearchParams(typ) {
			for _, of := range p.RowsOf {
				if slices.Contains(x.Unsupported(typ), of) {
					t.Errorf("%s %s is an alias of %s, which is not indexed", typ, code, of)
				}
			}
		}
	}
	entries, err := x.Index("Observation", []byte(`{"resourceType": "Observation", "status": "final",
		"subject": {"reference": "Patient/p1"}, "code": {"coding": [{"code": "a"}]}, "valueQuantity": {"value": 1},
		"component": [{"code": {"coding": [{"code": "b"}]}, "valueQuantity": {"value": 2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if p, _ := spec.LookupSearchParam("Observation", e.Param); p.RowsOf != nil {
			t.Errorf("an index row of %s, an alias of %q", e.Param, p.RowsOf)
		}
	}

	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newSearchEnv(t, d)
		e.put(
			`{"resourceType": "Patient", "id": "p1", "name": [{"family": "Ames"}]}`,
			`{"resourceType": "Group", "id": "g1", "type": "person", "actual": true}`,
			`{"resourceType": "Observation", "id": "top", "status": "final", "subject": {"reference": "Patient/p1"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 150, "code": "mm[Hg]"}}`,
			`{"resourceType": "Observation", "id": "comp", "status": "final", "subject": {"reference": "Group/g1"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
			  "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}}]}`,
			// A reference without a type in its string, with Reference.type.
			`{"resourceType": "Observation", "id": "typed", "status": "final", "subject": {"reference": "urn:uuid:0b5e", "type": "Patient"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}`,
			`{"resourceType": "Observation", "id": "none", "status": "final", "code": {"coding": [{"code": "x"}]}}`,
		)
		// Unions: a value of either parameter.
		e.expect("Observation", "combo-code=8480-6", "comp", "top")
		e.expect("Observation", "combo-code=85354-9", "comp")
		e.expect("Observation", "combo-code:not=8480-6", "none", "typed")
		e.expect("Observation", "combo-value-quantity=gt130", "top")
		e.expect("Observation", "combo-value-quantity=lt130", "comp")
		e.expect("Observation", "combo-code-value-quantity=8480-6$gt100", "comp", "top")
		e.expect("Observation", "combo-code-value-quantity=85354-9$gt100")
		e.expect("Observation", "combo-code:missing=true")
		e.expect("Observation", "combo-value-quantity:missing=true", "none", "typed")
		// A restriction: subject where it refers to a Patient.
		e.expect("Observation", "patient=p1", "top")
		e.expect("Observation", "patient=Patient/p1", "top")
		e.expect("Observation", "patient=Group/g1")
		e.expect("Observation", "subject=Group/g1", "comp")
		e.expect("Observation", "patient:missing=false", "top", "typed")
		e.expect("Observation", "patient:missing=true", "comp", "none")
		e.expect("Observation", "patient.name=Ames", "top")
		e.expect("Observation", "patient=p1&combo-code=8480-6", "top")
		e.expect("Patient", "_has:Observation:patient:combo-code=8480-6", "p1")
		e.expect("Group", "_has:Observation:patient:combo-code=8480-6")
		e.expect("Group", "_has:Observation:subject:combo-code=8480-6", "g1")
		_, included := e.refs(t.Context(), "Observation", "_id=top,comp&_include=Observation:patient")
		if !slices.Equal(included, []string{"Patient/p1"}) {
			t.Errorf("_include=Observation:patient: %q", included)
		}
		_, included = e.refs(t.Context(), "Patient", "_id=p1&_revinclude=Observation:patient")
		if !slices.Equal(included, []string{"Observation/top"}) {
			t.Errorf("_revinclude=Observation:patient: %q", included)
		}
		res, err := e.run(t.Context(), "Observation", "combo-code=8480-6&_sort=-combo-value-quantity")
		if err != nil || len(res.Matches) != 2 || res.Matches[0].ID != "top" || res.Matches[1].ID != "comp" {
			t.Errorf("sorted by combo-value-quantity, highest first: %v, %v", res, err)
		}
	})
}
