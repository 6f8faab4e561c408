package fhirpath

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

// synthea returns every resource of the Synthea bundles.
func synthea(t testing.TB) []map[string]any { return fhirtest.SyntheaResources(t) }

func ofType(rs []map[string]any, typ string) []map[string]any { return fhirtest.OfType(rs, typ) }

func TestSyntheaAllExpressions(t *testing.T) {
	rs := synthea(t)
	var exprs []*Expr
	for _, list := range [][]string{briefExpressions, r4Expressions} {
		for _, s := range list {
			exprs = append(exprs, MustCompile(s))
		}
	}
	found := 0
	for _, r := range rs {
		for _, e := range exprs {
			found += len(e.Eval(r))
		}
	}
	if found < len(rs) {
		t.Errorf("only %d nodes found over %d resources", found, len(rs))
	}
}

func TestSyntheaObservations(t *testing.T) {
	obs := ofType(synthea(t), "Observation")
	if len(obs) < 100 {
		t.Fatalf("only %d observations", len(obs))
	}
	code := MustCompile("Observation.code")
	subject := MustCompile("Observation.subject")
	effective := MustCompile("(Observation.effective as dateTime) | (Observation.effective as Period)")
	quantity := MustCompile("(Observation.value as Quantity)")
	componentQuantity := MustCompile("Observation.component.value.as(Quantity)")
	withQuantity := 0
	for _, o := range obs {
		c := code.Eval(o)
		if len(c) != 1 {
			t.Fatalf("%v: code %v", o["id"], render(c))
		}
		if _, ok := c[0].Value.(map[string]any)["coding"]; !ok {
			t.Errorf("%v: code without coding", o["id"])
		}
		s := subject.Eval(o)
		if len(s) != 1 || !strings.HasPrefix(s[0].Value.(map[string]any)["reference"].(string), "urn:uuid:") {
			t.Errorf("%v: subject %v", o["id"], render(s))
		}
		e := effective.Eval(o)
		if len(e) != 1 || e[0].Type != "dateTime" || e[0].Path != "Observation.effective" {
			t.Errorf("%v: effective %v", o["id"], render(e))
		}
		q := quantity.Eval(o)
		if _, has := o["valueQuantity"]; has != (len(q) == 1) {
			t.Errorf("%v: valueQuantity %v", o["id"], render(q))
		}
		if len(q) == 1 {
			withQuantity++
			if q[0].Type != "Quantity" {
				t.Errorf("%v: type %q", o["id"], q[0].Type)
			}
		}
		if comps, ok := o["component"].([]any); ok {
			if got := componentQuantity.Eval(o); len(got) != len(comps) {
				t.Errorf("%v: %d component quantities of %d", o["id"], len(got), len(comps))
			}
		}
	}
	if withQuantity < len(obs)/2 {
		t.Errorf("only %d of %d observations with valueQuantity", withQuantity, len(obs))
	}
}

func TestSyntheaPatients(t *testing.T) {
	pats := ofType(synthea(t), "Patient")
	if len(pats) == 0 {
		t.Fatal("no patients")
	}
	given := MustCompile("Patient.name.given")
	official := MustCompile("Patient.name.where(use='official').family")
	deceased := MustCompile("Patient.deceased.exists() and Patient.deceased != false")
	race := MustCompile("Patient.extension('http://hl7.org/fhir/us/core/StructureDefinition/us-core-race').extension('text').value")
	phone := MustCompile("Patient.telecom.where(system='phone').value")
	for _, p := range pats {
		if len(given.Eval(p)) == 0 || len(official.Eval(p)) != 1 {
			t.Errorf("%v: names %v", p["id"], render(given.Eval(p)))
		}
		d := deceased.Eval(p)
		_, dead := p["deceasedDateTime"]
		if len(d) != 1 || d[0].Value != dead {
			t.Errorf("%v: deceased %v, deceasedDateTime present %v", p["id"], render(d), dead)
		}
		if r := race.Eval(p); len(r) != 1 || r[0].Type != "string" {
			t.Errorf("%v: race %v", p["id"], render(r))
		}
		if len(phone.Eval(p)) != 1 {
			t.Errorf("%v: phone %v", p["id"], render(phone.Eval(p)))
		}
	}
}

func TestSyntheaEncountersAndOthers(t *testing.T) {
	rs := synthea(t)
	tests := []struct {
		typ, expr string
		min       int // minimum number of resources with a result
		wantType  string
	}{
		{"Encounter", "Encounter.period", 1, ""},
		{"Encounter", "Encounter.class", 1, ""},
		{"Condition", "Condition.onset.as(dateTime) | Condition.onset.as(Period)", 1, "dateTime"},
		{"Procedure", "Procedure.performed", 1, ""},
		{"MedicationRequest", "MedicationRequest.medication.as(CodeableConcept)", 1, "CodeableConcept"},
		{"Immunization", "Immunization.occurrence.as(dateTime)", 1, "dateTime"},
		{"DiagnosticReport", "DiagnosticReport.result", 1, ""},
		{"CarePlan", "CarePlan.activity.detail.code", 1, ""},
		{"ImagingStudy", "ImagingStudy.series.modality", 1, ""},
		{"Organization", "Organization.name | Organization.alias", 1, ""},
		{"Practitioner", "Practitioner.name.family", 1, ""},
	}
	for _, tt := range tests {
		e := MustCompile(tt.expr)
		n := 0
		for _, r := range ofType(rs, tt.typ) {
			got := e.Eval(r)
			if len(got) > 0 {
				n++
			}
			for _, g := range got {
				if tt.wantType != "" && g.Type != tt.wantType {
					t.Errorf("%s on %v: type %q", tt.expr, r["id"], g.Type)
				}
			}
		}
		if n < tt.min {
			t.Errorf("%s: results on %d %s, want at least %d", tt.expr, n, tt.typ, tt.min)
		}
	}
}
