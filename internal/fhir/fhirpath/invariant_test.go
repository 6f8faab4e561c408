package fhirpath

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The functions and operators the invariants of the R4 element definitions
// need beyond search: arithmetic, string concatenation, substring, set
// functions, order of dates and Quantities, Test with an Env, and Reads.

func TestArithmetic(t *testing.T) {
	obs := decode(t, observation)
	pat := decode(t, patient)
	tests := []struct {
		r    map[string]any
		expr string
		want []string
	}{
		{obs, "1 + 2", []string{"integer:3"}},
		{obs, "7 - 10", []string{"integer:-3"}},
		{obs, "6 * 7", []string{"integer:42"}},
		{obs, "7 / 2", []string{"decimal:3.5"}},
		{obs, "7 div 2", []string{"integer:3"}},
		{obs, "-7 div 2", []string{"integer:-3"}},
		{obs, "7 mod 3", []string{"integer:1"}},
		{obs, "1 / 0", []string{}},
		{obs, "1 div 0", []string{}},
		{obs, "1.5 + 1", []string{"decimal:2.5"}},
		{obs, "2 + 3 * 4", []string{"integer:14"}},
		{obs, "(2 + 3) * 4", []string{"integer:20"}},
		{obs, "9223372036854775807 + 1", []string{}},
		{obs, "Observation.component.count() + 1", []string{"integer:4"}},
		{obs, "Observation.component.value.as(Quantity).value.first() + 1", []string{"integer:121"}},
		{obs, "Observation.component.value.as(Quantity).value.last() * 2", []string{"decimal:161"}},
		{obs, "Observation.component.value.value + 1", []string{}}, // several items
		{obs, "Observation.nothing + 1", []string{}},
		{obs, "(Observation.identifier.count() + Observation.status.count()) > 0", []string{"boolean:true"}},
		{obs, "'a' + 'b'", []string{"string:ab"}},
		{obs, "'a' + Observation.nothing", []string{}},
		{obs, "'a' & Observation.nothing & 'c'", []string{"string:ac"}},
		{obs, "'#' + Observation.id", []string{"string:#bp1"}},
		{obs, "'a' + 1", []string{}},
		{pat, "Patient.name.first().given.first() & ' ' & Patient.name.first().family", []string{"string:Anna Müller"}},
	}
	for _, tc := range tests {
		if got := render(MustCompile(tc.expr).Eval(tc.r)); !slices.Equal(got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestStringAndSetFunctions(t *testing.T) {
	obs := decode(t, observation)
	pat := decode(t, patient)
	tests := []struct {
		r    map[string]any
		expr string
		want []string
	}{
		{obs, "'#p1'.substring(1)", []string{"string:p1"}},
		{obs, "'abcdef'.substring(1, 3)", []string{"string:bcd"}},
		{obs, "'abc'.substring(3)", []string{}},
		{obs, "'abc'.substring(1, 10)", []string{"string:bc"}},
		{pat, "Patient.name.given.substring(0, 1)", []string{"string:A", "string:L", "string:A"}},
		{pat, "Patient.name.given.union(Patient.name.family)", []string{":Anna", ":Lena", ":Annie", ":Müller"}},
		{pat, "Patient.name.given.union(Patient.name.given)", []string{":Anna", ":Lena", ":Annie"}},
		{pat, "Patient.name.given.combine(Patient.name.given).count()", []string{"integer:6"}},
		{pat, "Patient.name.given.intersect('Lena' | 'Bob')", []string{":Lena"}},
		{pat, "Patient.name.given.exclude('Lena')", []string{":Anna", ":Annie"}},
		{pat, "Patient.name.given.subsetOf('Anna' | 'Lena' | 'Annie' | 'x')", []string{"boolean:true"}},
		{pat, "Patient.name.given.supersetOf('Anna' | 'x')", []string{"boolean:false"}},
		// The argument is evaluated on $this: each name in select().
		{pat, "Patient.name.select(given.union(use))", []string{":Anna", ":Lena", ":official", ":Annie", ":nickname"}},
		// Codings compare as objects.
		{obs, "Observation.component.code.where(coding.intersect(%resource.code.coding).exists()).count()", []string{"integer:0"}},
		{obs, "Observation.code.coding.intersect(Observation.code.coding).code", []string{":85354-9"}},
		{obs, "Observation.component.code.coding.isDistinct()", []string{"boolean:true"}},
		{obs, "(Observation.component.code | Observation.component.code).count()", []string{"integer:3"}},
	}
	for _, tc := range tests {
		if got := render(MustCompile(tc.expr).Eval(tc.r)); !slices.Equal(got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestIsDistinctLarge checks isDistinct on more items than a scratch
// collection holds.
func TestIsDistinctLarge(t *testing.T) {
	var items []string
	for i := range 100 {
		items = append(items, fmt.Sprintf(`{"linkId": "%d"}`, i%99))
	}
	q := decode(t, `{"resourceType": "Questionnaire", "item": [`+strings.Join(items, ",")+`]}`)
	if got := render(MustCompile("Questionnaire.item.linkId.isDistinct()").Eval(q)); !slices.Equal(got, []string{"boolean:false"}) {
		t.Errorf("got %q", got)
	}
	if got := render(MustCompile("Questionnaire.item.take(99).linkId.isDistinct()").Eval(q)); !slices.Equal(got, []string{"boolean:true"}) {
		t.Errorf("got %q", got)
	}
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		a, op, b string
		want     string // "true", "false" or "" for empty
	}{
		{"'2024-01-01T10:00:00Z'", "<", "'2024-01-01T11:00:00+02:00'", "false"},
		{"'2024-01-01T10:00:00+02:00'", "<=", "'2024-01-01T09:00:00Z'", "true"},
		{"'2024-01-01T10:00:00Z'", "=", "'2024-01-01T10:00:00Z'", "true"},
		{"'2024-01-01T10:00:00Z'", "<=", "'2024-01-01T10:00:00Z'", "true"},
		{"'2024-01-01T10:00:00.500Z'", ">", "'2024-01-01T10:00:00Z'", "true"},
		{"'2024-01-01'", "<", "'2024-01-02T00:30:00Z'", "true"},
		{"'2024-01-01'", "<", "'2024-01-01T10:00:00Z'", ""},
		{"'2024-01'", ">=", "'2023'", "true"},
		{"'2024'", "<", "'2024-06'", ""},
		{"'2024-03-01'", "<", "'2024-02-29'", "false"},
		{"'10:00:00'", "<", "'09:30:00'", "false"},
		{"'2024-01-01T10:00:00'", "<", "'2024-01-01T11:00:00Z'", ""},
		{"'abc'", "<", "'abd'", "true"},
		{"'2024-13-01'", "<", "'2024-02-01'", "false"}, // not a date: compared as text
		{"2", "<", "10", "true"},
		{"2.5", ">=", "2.50", "true"},
		{"'a'", "<", "1", ""},
	} {
		expr := tc.a + " " + tc.op + " " + tc.b
		got := render(MustCompile(expr).Eval(map[string]any{"resourceType": "Basic"}))
		want := []string{}
		if tc.want != "" {
			want = []string{"boolean:" + tc.want}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
	r := decode(t, `{"resourceType": "Observation", "valueRange": {"low": {"value": 1, "code": "mg", "system": "http://unitsofmeasure.org"},
		"high": {"value": 0.5, "code": "g", "system": "http://unitsofmeasure.org"}},
		"referenceRange": [{"low": {"value": 3, "unit": "mmol/L"}, "high": {"value": 5.5, "unit": "mmol/L"}},
		                   {"low": {"value": 6, "unit": "mmol/L"}, "high": {"value": 5.5, "unit": "mmol/L"}}]}`)
	for expr, want := range map[string][]string{
		"Observation.referenceRange.first().low <= Observation.referenceRange.first().high": {"boolean:true"},
		"Observation.referenceRange.last().low <= Observation.referenceRange.last().high":   {"boolean:false"},
		"Observation.value.low < Observation.value.high":                                    {}, // mg and g: not compared
	} {
		if got := render(MustCompile(expr).Eval(r)); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
}

func TestTestAndEnv(t *testing.T) {
	contact := map[string]any{"gender": "male"}
	res := decode(t, `{"resourceType": "Patient", "id": "p", "contained": [{"resourceType": "Practitioner", "id": "c"}]}`)
	calls := 0
	env := &Env{Resource: func() Node {
		calls++
		return Node{Value: res, Type: "Patient"}
	}}
	for _, tc := range []struct {
		expr         string
		focus        any
		value, known bool
		calls        int
	}{
		{"name.exists() or telecom.exists()", contact, false, true, 0},
		{"gender = 'male'", contact, true, true, 0},
		{"gender.exists() implies %resource.id = 'p'", contact, true, true, 1},
		{"gender.empty() implies %resource.id = 'x'", contact, true, true, 0},
		{"%resource.id.exists() and %resource.contained.id = 'c'", contact, true, true, 1},
		{"%rootResource.id = 'p'", contact, true, true, 1},
		{"name.given", contact, false, false, 0},
		{"gender", contact, true, true, 0},
		{"'#c'.substring(1) in %rootResource.contained.id", contact, true, true, 1},
	} {
		calls = 0
		e := MustCompile(tc.expr)
		v, k := e.Test(env, Node{Value: tc.focus})
		if v != tc.value || k != tc.known || calls != tc.calls {
			t.Errorf("%s: Test = %v, %v with %d calls to Resource; want %v, %v, %d", tc.expr, v, k, calls, tc.value, tc.known, tc.calls)
		}
	}
	// %rootResource from its own function.
	env.RootResource = func() Node { return Node{Value: map[string]any{"id": "root"}} }
	if v, k := MustCompile("%rootResource.id = 'root' and %resource.id = 'p'").Test(env, Node{Value: contact}); !v || !k {
		t.Errorf("%%rootResource: %v %v", v, k)
	}
	if v, k := MustCompile("%resource.exists()").Test(nil, Node{Value: contact}); v || !k {
		t.Errorf("no Env: %%resource.exists() = %v, %v", v, k)
	}
	if got := render(MustCompile("gender | %resource.id").EvalEnv(env, Node{Value: contact})); !slices.Equal(got, []string{":male", ":p"}) {
		t.Errorf("EvalEnv = %q", got)
	}
}

// shapeString renders a Shape: fields sorted, "*" for All, "?" for Type.
func shapeString(s *Shape) string {
	if s == nil {
		return "nil"
	}
	if s.All {
		return "*"
	}
	var b strings.Builder
	if s.Type {
		b.WriteString("?")
	}
	names := make([]string, 0, len(s.Fields))
	for n := range s.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return b.String() + "{}"
	}
	b.WriteString("{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(n + ":" + shapeString(s.Fields[n]))
	}
	b.WriteString("}")
	return b.String()
}

func TestReads(t *testing.T) {
	for _, tc := range []struct {
		expr, focus, resource string
	}{
		{"dataAbsentReason.empty() or value.empty()", "{dataAbsentReason:{} value:{}}", "nil"},
		{"start.hasValue().not() or end.hasValue().not() or (start <= end)", "{end:* start:*}", "nil"},
		{"value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
			"{component:{code:{coding:*}} value:{}}", "{code:{coding:*}}"},
		{"contained.meta.versionId.empty()", "{contained:{meta:{versionId:{}}}}", "nil"},
		{"descendants().linkId.isDistinct()", "*", "nil"},
		{"where(use = 'home').empty()", "{use:*}", "nil"},
		{"Appointment.cancelationReason.exists() implies (Appointment.status='noshow')", "{cancelationReason:{} status:*}", "nil"},
		{"entry.first().resource.is(Composition)", "{entry:{resource:?{}}}", "nil"},
		{"member.resolve().exists()", "{member:{reference:* type:*}}", "nil"},
		{"extension('http://x').value.exists()", "{extension:{url:* value:{}}}", "nil"},
		{"entry.select(fullUrl & resource.meta.versionId).isDistinct()", "{entry:{fullUrl:* resource:{meta:{versionId:*}}}}", "nil"},
		{"%rootResource.contained.id", "{}", "{contained:{id:{}}}"},
		{"reference.substring(1) in %rootResource.contained.id", "{reference:*}", "{contained:{id:*}}"},
		{"$this.children().count() > 1", "*", "nil"},
		{"iif(a.exists(), b, c).d.exists()", "{a:{} b:{d:{}} c:{d:{}}}", "nil"},
	} {
		focus, res := MustCompile(tc.expr).Reads()
		if got := shapeString(focus); got != tc.focus {
			t.Errorf("%s: focus %s, want %s", tc.expr, got, tc.focus)
		}
		if got := shapeString(res); got != tc.resource {
			t.Errorf("%s: resource %s, want %s", tc.expr, got, tc.resource)
		}
	}
}

func TestHTMLChecks(t *testing.T) {
	for _, tc := range []struct {
		div  string
		want bool
	}{
		{`<div xmlns="http://www.w3.org/1999/xhtml">Generated narrative</div>`, true},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><p>a <b>b</b></p><table><tr><td>1</td></tr></table></div>`, true},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><img src="x.png"/></div>`, true},
		{`<div xmlns="http://www.w3.org/1999/xhtml">&lt;x&gt; &nbsp; é</div>`, true},
		{` <div xmlns="http://www.w3.org/1999/xhtml">x</div> `, true},
		{`<div xmlns="http://www.w3.org/1999/xhtml">   </div>`, false},
		{`<div>x</div>`, false},
		{`<p xmlns="http://www.w3.org/1999/xhtml">x</p>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml">x</div><div xmlns="http://www.w3.org/1999/xhtml">y</div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml">x`, false},
		{`text`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><p>x</div></p>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml"><x:p>x</x:p></div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml" lang='en'><!-- c --><a href="#x">x</a><br/></div>`, true},
		{`<?xml version="1.0"?><div xmlns="http://www.w3.org/1999/xhtml">x &#233; &#xE9;</div>`, true},
		{`<div xmlns="http://www.w3.org/1999/xhtml">x &amp y</div>`, false},
		{`<div xmlns="http://www.w3.org/2000/svg">x</div>`, false},
		{`<div xmlns="http://www.w3.org/1999/xhtml" style="color: red">x</div>`, true},
	} {
		got := render(MustCompile("htmlChecks()").EvalNode(nil, Node{Value: tc.div}))
		if want := []string{"boolean:" + fmt.Sprint(tc.want)}; !slices.Equal(got, want) {
			t.Errorf("htmlChecks(%q) = %q, want %v", tc.div, got, tc.want)
		}
	}
}
