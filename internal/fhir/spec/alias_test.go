package spec

import (
	"slices"
	"testing"
)

func TestAliases(t *testing.T) {
	for _, c := range []struct {
		typ, code string
		of        []string
		target    string
	}{
		{"Observation", "combo-code", []string{"code", "component-code"}, ""},
		{"Observation", "combo-value-quantity", []string{"component-value-quantity", "value-quantity"}, ""},
		{"Observation", "combo-value-concept", []string{"component-value-concept", "value-concept"}, ""},
		{"Observation", "combo-code-value-quantity", []string{"code-value-quantity", "component-code-value-quantity"}, ""},
		{"Observation", "combo-code-value-concept", []string{"code-value-concept", "component-code-value-concept"}, ""},
		{"Observation", "patient", []string{"subject"}, "Patient"},
		{"Encounter", "patient", []string{"subject"}, "Patient"},
		{"Encounter", "practitioner", []string{"participant"}, "Practitioner"},
		{"Appointment", "location", []string{"actor"}, "Location"},
		{"Person", "patient", []string{"link"}, "Patient"},
		// Parameters with rows of their own.
		{"Observation", "code", nil, ""},
		{"Observation", "subject", nil, ""},
		{"Observation", "code-value-date", nil, ""},
		{"AllergyIntolerance", "patient", nil, ""},
		{"Claim", "patient", nil, ""},
		{"Immunization", "patient", nil, ""},
	} {
		p, ok := LookupSearchParam(c.typ, c.code)
		if !ok {
			t.Fatalf("%s has no %s", c.typ, c.code)
		}
		if !slices.Equal(p.RowsOf, c.of) || p.RowsTarget != c.target {
			t.Errorf("%s %s: rows of %q for %q, want %q for %q", c.typ, c.code, p.RowsOf, p.RowsTarget, c.of, c.target)
		}
	}
	// Every alias names parameters of its type and kind that have rows of
	// their own; a restriction names one reference parameter.
	aliases := 0
	for typ, ps := range searchIndex() {
		for code, p := range ps {
			if p.RowsOf == nil {
				continue
			}
			aliases++
			if (p.RowsTarget != "") != (len(p.RowsOf) == 1) {
				t.Errorf("%s %s: rows of %q for %q", typ, code, p.RowsOf, p.RowsTarget)
			}
			for _, of := range p.RowsOf {
				q := ps[of]
				if q == nil || q.RowsOf != nil || q.Type != p.Type || q.Expression == "" {
					t.Errorf("%s %s: alias of %s, which is %+v", typ, code, of, q)
				}
			}
		}
	}
	if aliases < 50 {
		t.Errorf("only %d aliases", aliases)
	}
}

func TestExpressionTerms(t *testing.T) {
	for expr, want := range map[string][]string{
		"Observation.code": {"Observation.code"},
		"Observation.code | Observation.component.code":                               {"Observation.code", "Observation.component.code"},
		"(Observation.value as Quantity) | (Observation.component.value as Quantity)": {"Observation.value as Quantity", "Observation.component.value as Quantity"},
		"Patient.name.where(use = 'a|b') | ((Patient.x))":                             {"Patient.name.where(use = 'a|b')", "Patient.x"},
		"(A.b) | (A.c).d": {"A.b", "(A.c).d"},
	} {
		if got := expressionTerms(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
