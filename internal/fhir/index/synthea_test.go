package index

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

// synthea returns the resources of typ in the Synthea bundles.
func synthea(t testing.TB, typ string) []map[string]any {
	return fhirtest.OfType(fhirtest.SyntheaResources(t), typ)
}

func TestSyntheaObservation(t *testing.T) {
	for _, o := range synthea(t, "Observation") {
		id := o["id"]
		code := extract(t, "token", "Observation.code", o).Tokens
		loinc := false
		for _, tok := range code {
			if tok.System == "http://loinc.org" && tok.Code != "" && tok.Display != "" {
				loinc = true
			}
		}
		if !loinc {
			t.Errorf("%v: no LOINC code in %+v", id, code)
		}
		subj := extract(t, "reference", "Observation.subject", o).References
		if len(subj) != 1 || !strings.HasPrefix(subj[0].URL, "urn:uuid:") || subj[0].Type != "" {
			t.Errorf("%v: subject %+v", id, subj)
		}
		dates := extract(t, "date", "(Observation.effective as dateTime) | (Observation.effective as Period)", o).Dates
		want, err := time.Parse(time.RFC3339, o["effectiveDateTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if len(dates) != 1 || !dates[0].Low.Equal(want) || dates[0].High.Sub(dates[0].Low) != time.Second {
			t.Errorf("%v: effective %v, want [%v, +1s)", id, dates, want)
		}
		if vq, ok := o["valueQuantity"].(map[string]any); ok {
			q := extract(t, "quantity", "(Observation.value as Quantity) | (Observation.value as SampledData)", o).Quantities
			if len(q) != 1 || q[0].Decimal != string(vq["value"].(json.Number)) || q[0].System != "http://unitsofmeasure.org" || q[0].Code == "" {
				t.Errorf("%v: value %+v", id, q)
			}
		}
		if comps, ok := o["component"].([]any); ok {
			q := extract(t, "quantity", "Observation.component.value.as(Quantity)", o).Quantities
			if len(q) == 0 || len(q) > len(comps) {
				t.Errorf("%v: %d component quantities for %d components", id, len(q), len(comps))
			}
		}
	}
}

func TestSyntheaPatient(t *testing.T) {
	for _, p := range synthea(t, "Patient") {
		names := extract(t, "string", "Patient.name", p)
		family := NormalizeString(p["name"].([]any)[0].(map[string]any)["family"].(string))
		found := false
		for _, s := range names.Strings {
			if s == family {
				found = true
			}
			if s != NormalizeString(s) {
				t.Errorf("%v: %q is not normalised", p["id"], s)
			}
		}
		if !found || len(names.Strings) != len(names.Exact) {
			t.Errorf("%v: names %q %q lack %q", p["id"], names.Strings, names.Exact, family)
		}
		if b := extract(t, "date", "Patient.birthDate", p).Dates; len(b) != 1 || b[0].High.Sub(b[0].Low) != 24*time.Hour {
			t.Errorf("%v: birthDate %v", p["id"], b)
		}
		if g := extract(t, "token", "Patient.gender", p).Tokens; len(g) != 1 {
			t.Errorf("%v: gender %v", p["id"], g)
		}
		if ids := extract(t, "token", "Patient.identifier", p).Tokens; len(ids) < 2 {
			t.Errorf("%v: identifiers %v", p["id"], ids)
		}
		if ph := extract(t, "token", "Patient.telecom.where(system='phone')", p).Tokens; len(ph) != 1 || ph[0].System != "" {
			t.Errorf("%v: phone %v", p["id"], ph)
		}
		if c := extract(t, "string", "Patient.address.city", p).Strings; len(c) != 1 {
			t.Errorf("%v: city %v", p["id"], c)
		}
	}
}

func TestSyntheaEncounter(t *testing.T) {
	for _, e := range synthea(t, "Encounter") {
		per := e["period"].(map[string]any)
		start, _ := time.Parse(time.RFC3339, per["start"].(string))
		end, _ := time.Parse(time.RFC3339, per["end"].(string))
		got := extract(t, "date", "Encounter.period", e).Dates
		if len(got) != 1 || !got[0].Low.Equal(start) || !got[0].High.Equal(end.Add(time.Second)) {
			t.Errorf("%v: period %v, want [%v, %v+1s)", e["id"], got, start, end)
		}
		if cls := extract(t, "token", "Encounter.class", e).Tokens; len(cls) != 1 || cls[0].System == "" {
			t.Errorf("%v: class %v", e["id"], cls)
		}
		if typ := extract(t, "token", "Encounter.type", e).Tokens; len(typ) == 0 || typ[0].System != "http://snomed.info/sct" {
			t.Errorf("%v: type %v", e["id"], typ)
		}
	}
}

func TestSyntheaOthers(t *testing.T) {
	tests := []struct{ typ, paramType, expr string }{
		{"Condition", "date", "Condition.onset.as(dateTime) | Condition.onset.as(Period)"},
		{"Condition", "token", "Condition.clinicalStatus"},
		{"Procedure", "date", "Procedure.performed"},
		{"MedicationRequest", "token", "(MedicationRequest.medication as CodeableConcept)"},
		{"MedicationRequest", "date", "MedicationRequest.authoredOn"},
		{"Immunization", "date", "Immunization.occurrence.as(dateTime)"},
		{"Immunization", "token", "Immunization.vaccineCode"},
		{"DiagnosticReport", "reference", "DiagnosticReport.result"},
		{"CarePlan", "date", "CarePlan.period"},
		{"ImagingStudy", "token", "ImagingStudy.series.modality"},
		{"Organization", "string", "Organization.name | Organization.alias"},
		{"Practitioner", "token", "Practitioner.identifier"},
		{"Practitioner", "string", "Practitioner.name"},
		{"Organization", "token", "Resource.meta.tag"},
	}
	for _, tt := range tests {
		for _, r := range synthea(t, tt.typ) {
			if got := extract(t, tt.paramType, tt.expr, r); got.Len() == 0 {
				t.Errorf("%s %v: %s gives no %s entry", tt.typ, r["id"], tt.expr, tt.paramType)
			}
		}
	}
}
