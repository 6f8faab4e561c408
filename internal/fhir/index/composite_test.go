package index

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// composite compiles a composite's expression and components.
func composite(t testing.TB, expr string, comps ...string) (*fhirpath.Expr, []Component) {
	t.Helper()
	e := fhirpath.MustCompile(expr)
	var cs []Component
	for i := 0; i+1 < len(comps); i += 2 {
		cs = append(cs, Component{Type: comps[i], Expr: fhirpath.MustCompile(comps[i+1])})
	}
	return e, cs
}

const bloodPressure = `{"resourceType": "Observation", "id": "bp", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
     "valueQuantity": {"value": 142, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}], "text": "Diastolic blood pressure"},
     "valueQuantity": {"value": 88, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"text": "cuff size only as text"}, "valueQuantity": {"value": 3}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8478-0"}]}, "dataAbsentReason": {"text": "not measured"}}
  ]}`

func TestExtractCompositeKeepsComponentsTogether(t *testing.T) {
	bp := decode(t, bloodPressure)
	e, comps := composite(t, "Observation.component", "token", "code", "quantity", "value.ofType(Quantity)")
	got := ExtractComposite(bp, e.Eval(bp), comps)
	// The text-only code and the component without a value give no node.
	if len(got) != 2 {
		t.Fatalf("%d nodes, want 2: %+v", len(got), got)
	}
	want := []struct {
		code  string
		value float64
	}{{"8480-6", 142}, {"8462-4", 88}}
	for i, w := range want {
		if len(got[i]) != 2 {
			t.Fatalf("node %d has %d parts", i, len(got[i]))
		}
		toks, qs := got[i][0].Tokens, got[i][1].Quantities
		if len(toks) != 1 || toks[0].Code != w.code || toks[0].System != "http://loinc.org" {
			t.Errorf("node %d code %+v, want %s (text-only tokens dropped)", i, toks, w.code)
		}
		if len(qs) != 1 || qs[0].Value != w.value || qs[0].Code != "mm[Hg]" {
			t.Errorf("node %d value %+v, want %v", i, qs, w.value)
		}
	}
	// The panel itself has no value: code-value-quantity gives nothing,
	// the combination gives the components only.
	e, comps = composite(t, "Observation", "token", "code", "quantity", "value.ofType(Quantity)")
	if got := ExtractComposite(bp, e.Eval(bp), comps); len(got) != 0 {
		t.Errorf("code-value-quantity of a panel: %+v", got)
	}
	e, comps = composite(t, "Observation | Observation.component", "token", "code", "quantity", "value.ofType(Quantity)")
	if got := ExtractComposite(bp, e.Eval(bp), comps); len(got) != 2 {
		t.Errorf("combo-code-value-quantity: %d nodes, want 2", len(got))
	}
}

func TestExtractCompositeKinds(t *testing.T) {
	obs := decode(t, `{"resourceType": "Observation", "id": "o", "status": "final",
	  "code": {"coding": [{"system": "http://loinc.org", "code": "a"}, {"system": "http://snomed.info/sct", "code": "b"}]},
	  "valuePeriod": {"start": "2024-03-01", "end": "2024-03-05"}}`)
	e, comps := composite(t, "Observation", "token", "code", "date", "value.ofType(DateTime) | value.ofType(Period)")
	got := ExtractComposite(obs, e.Eval(obs), comps)
	if len(got) != 1 || len(got[0][0].Tokens) != 2 || len(got[0][1].Dates) != 1 {
		t.Fatalf("code-value-date: %+v", got)
	}
	if d := got[0][1].Dates[0]; d.Low.Format("2006-01-02") != "2024-03-01" || d.High.Format("2006-01-02") != "2024-03-06" {
		t.Errorf("period [%v, %v)", d.Low, d.High)
	}
	str := decode(t, `{"resourceType": "Observation", "code": {"coding": [{"code": "x"}]}, "valueString": "  Müller  "}`)
	e, comps = composite(t, "Observation", "token", "code", "string", "value.ofType(string)")
	got = ExtractComposite(str, e.Eval(str), comps)
	if len(got) != 1 || !slices.Equal(got[0][1].Strings, []string{"muller"}) || got[0][1].Exact[0] != "Müller" {
		t.Errorf("code-value-string: %+v", got)
	}
	// %resource in a component, three parts.
	seq := decode(t, `{"resourceType": "MolecularSequence", "referenceSeq": {"chromosome": {"coding": [{"code": "1"}]}},
	  "variant": [{"start": 10, "end": 20}, {"start": 30}]}`)
	e, comps = composite(t, "MolecularSequence.variant", "token", "%resource.referenceSeq.chromosome", "number", "start", "number", "end")
	got = ExtractComposite(seq, e.Eval(seq), comps)
	if len(got) != 1 || got[0][0].Tokens[0].Code != "1" || got[0][1].Numbers[0] != 10 || got[0][2].Numbers[0] != 20 {
		t.Errorf("chromosome-variant-coordinate: %+v", got)
	}
	if got := ExtractComposite(seq, nil, comps); got != nil {
		t.Errorf("no nodes: %+v", got)
	}
}

func TestParseCompositeValue(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []string
	}{
		{"http://loinc.org|8480-6$gt130", 2, []string{"http://loinc.org|8480-6", "gt130"}},
		{`a\$b$c`, 2, []string{`a\$b`, "c"}},
		{`a$b\\$c`, 3, []string{"a", `b\\`, "c"}},
		{"8480-6$gt130|http://unitsofmeasure.org|mm[Hg]", 2, []string{"8480-6", "gt130|http://unitsofmeasure.org|mm[Hg]"}},
	}
	for _, tt := range tests {
		got, err := ParseCompositeValue(tt.in, tt.n)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseCompositeValue(%q, %d) = %q, %v; want %q", tt.in, tt.n, got, err, tt.want)
		}
	}
	for _, bad := range []struct {
		in string
		n  int
	}{{"8480-6", 2}, {"a$b$c", 2}, {"$gt5", 2}, {"a$", 2}, {`a\$b`, 2}, {"", 2}} {
		if got, err := ParseCompositeValue(bad.in, bad.n); err == nil || !strings.Contains(err.Error(), `"`) {
			t.Errorf("ParseCompositeValue(%q, %d) = %q, %v; want an error quoting the value", bad.in, bad.n, got, err)
		}
	}
}

func FuzzParseCompositeValue(f *testing.F) {
	for _, s := range []string{"http://loinc.org|8480-6$gt130", `a\$b$c`, "$", `\`, "a$b$c", `x\\$y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for n := 1; n <= 3; n++ {
			parts, err := ParseCompositeValue(s, n)
			if err != nil {
				continue
			}
			if len(parts) != n || strings.Join(parts, "$") != s {
				t.Fatalf("%q: parts %q do not join back", s, parts)
			}
			for _, p := range parts {
				if p == "" {
					t.Fatalf("%q: empty part in %q", s, parts)
				}
			}
		}
	})
}

// TestSyntheaComponentsPaired checks on every Synthea Observation that
// component-code-value-quantity pairs each component's code with its own
// value.
func TestSyntheaComponentsPaired(t *testing.T) {
	e, comps := composite(t, "Observation.component", "token", "code", "quantity", "value.ofType(Quantity)")
	checked := 0
	for _, o := range synthea(t, "Observation") {
		cs, _ := o["component"].([]any)
		var want []string
		for _, c := range cs {
			c := c.(map[string]any)
			vq, ok := c["valueQuantity"].(map[string]any)
			if !ok {
				continue
			}
			code := c["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
			want = append(want, code+"="+string(vq["value"].(json.Number)))
		}
		var got []string
		for _, node := range ExtractComposite(o, e.Eval(o), comps) {
			if len(node[0].Tokens) != 1 || len(node[1].Quantities) != 1 {
				t.Fatalf("%v: node %+v", o["id"], node)
			}
			got = append(got, node[0].Tokens[0].Code+"="+node[1].Quantities[0].Decimal)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v: components %q, want %q", o["id"], got, want)
		}
		checked += len(want)
	}
	if checked == 0 {
		t.Fatal("no Observation components with quantities in the fixtures")
	}
}
