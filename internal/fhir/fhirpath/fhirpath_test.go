package fhirpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// decode decodes a resource as the server does, with json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

// render shows nodes as "Type:value" with objects as compact JSON
// (sorted keys), the value of resolve() as "ref".
func render(nodes []Node) []string {
	out := []string{}
	for _, n := range nodes {
		var v string
		switch x := n.Value.(type) {
		case string:
			v = x
		case resolvedRef:
			v = "ref"
		default:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(x)
			v = strings.TrimSpace(b.String())
		}
		out = append(out, n.Type+":"+v)
	}
	return out
}

const observation = `{
  "resourceType": "Observation",
  "id": "bp1",
  "meta": {"lastUpdated": "2024-03-01T10:00:00Z", "tag": [{"system": "http://example.org/tags", "code": "t1"}],
           "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "BP"},
  "subject": {"reference": "Patient/p1"},
  "performer": [{"reference": "Practitioner/dr1"}, {"reference": "https://other.example/fhir/Organization/o9/_history/3"},
                {"reference": "urn:uuid:8c5e6e4a-0000-4000-8000-000000000001", "type": "RelatedPerson"}, {"display": "someone"}],
  "effectivePeriod": {"start": "2024-03-01T09:00:00Z", "end": "2024-03-01T09:05:00Z"},
  "valueString": "see components",
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
     "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
     "valueQuantity": {"value": 80.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"text": "position"}, "valueCodeableConcept": {"text": "sitting"}}
  ]
}`

const patient = `{
  "resourceType": "Patient",
  "id": "p1",
  "extension": [
    {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": "Jacobs"},
    {"url": "http://example.org/other", "valueBoolean": true}
  ],
  "identifier": [{"use": "official", "system": "urn:oid:1.2.3", "value": "MRN-1"}, {"use": "usual", "system": "http://x", "value": "U2"}],
  "active": true,
  "name": [{"use": "official", "family": "Müller", "given": ["Anna", "Lena"], "prefix": ["Dr."]},
           {"use": "nickname", "given": ["Annie"]}],
  "telecom": [{"system": "phone", "value": "+41 44 000 00 00", "use": "home"},
              {"system": "email", "value": "anna@example.org"},
              {"system": "phone", "value": "+41 79 000 00 00", "use": "mobile"}],
  "gender": "female",
  "birthDate": "1980-02-29",
  "_birthDate": {"extension": [{"url": "http://example.org/time", "valueDateTime": "1980-02-29T04:00:00Z"}]},
  "deceasedBoolean": false,
  "address": [{"line": ["Bahnhofstrasse 1"], "city": "Zürich", "postalCode": "8001", "country": "CH"}],
  "generalPractitioner": [{"reference": "Practitioner/dr1"}],
  "link": [{"other": {"reference": "Patient/p0"}, "type": "replaces"}]
}`

func TestEval(t *testing.T) {
	obs := decode(t, observation)
	pat := decode(t, patient)
	dead := decode(t, `{"resourceType":"Patient","id":"p2","deceasedDateTime":"2020-01-01"}`)
	alive := decode(t, `{"resourceType":"Patient","id":"p3"}`)
	cond := decode(t, `{"resourceType":"Condition","id":"c1","onsetAge":{"value":42,"unit":"a","system":"http://unitsofmeasure.org","code":"a"},
		"abatementRange":{"low":{"value":1},"high":{"value":2}},"subject":{"reference":"Patient/p1"}}`)
	bundle := decode(t, `{"resourceType":"Bundle","type":"document","entry":[
		{"resource":{"resourceType":"Composition","id":"comp1"}},{"resource":{"resourceType":"Patient","id":"p1"}}]}`)
	appt := decode(t, `{"resourceType":"Appointment","id":"a1","participant":[
		{"actor":{"reference":"Patient/p1"}},
		{"actor":{"reference":"https://example.org/fhir/Location/l1"}},
		{"actor":{"reference":"urn:uuid:abc","type":"Practitioner"}},
		{"actor":{"reference":"#contained"}},
		{"actor":{"identifier":{"value":"x"}}}]}`)

	tests := []struct {
		name     string
		resource map[string]any
		expr     string
		want     []string
	}{
		{"path", obs, "Observation.status", []string{":final"}},
		{"wrong type root", obs, "Patient.name", []string{}},
		{"Resource root", obs, "Resource.id", []string{":bp1"}},
		{"DomainResource root", obs, "DomainResource.id", []string{":bp1"}},
		{"meta", obs, "Resource.meta.lastUpdated", []string{":2024-03-01T10:00:00Z"}},
		{"meta tag", obs, "Resource.meta.tag.code", []string{":t1"}},
		{"meta profile", obs, "Resource.meta.profile", []string{":http://hl7.org/fhir/StructureDefinition/vitalsigns"}},
		{"flatten", obs, "Observation.component.code.coding.code", []string{":8480-6", ":8462-4"}},
		{"relative path", obs, "status", []string{":final"}},
		{"bare type", obs, "Observation.id", []string{":bp1"}},
		{"choice", obs, "Observation.effective", []string{`Period:{"end":"2024-03-01T09:05:00Z","start":"2024-03-01T09:00:00Z"}`}},
		{"choice as", obs, "Observation.effective as dateTime", []string{}},
		{"choice as union", obs, "(Observation.effective as dateTime) | (Observation.effective as Period)",
			[]string{`Period:{"end":"2024-03-01T09:05:00Z","start":"2024-03-01T09:00:00Z"}`}},
		{"choice string", obs, "Observation.value", []string{"string:see components"}},
		{"as function", obs, "Observation.component.value.as(Quantity).value", []string{":120", ":80.5"}},
		{"ofType", obs, "Observation.component.value.ofType(CodeableConcept).text", []string{":sitting"}},
		{"as then text", obs, "(Observation.value as string) | (Observation.component.value as CodeableConcept).text",
			[]string{"string:see components", ":sitting"}},
		{"capitalised primitive", obs, "Observation.value.ofType(String)", []string{"string:see components"}},
		{"qualified type", obs, "Observation.value.ofType(FHIR.string)", []string{"string:see components"}},
		{"System type", obs, "Observation.value is System.String", []string{"boolean:true"}},
		{"indexer", obs, "Observation.component[1].code.coding.code", []string{":8462-4"}},
		{"indexer past end", obs, "Observation.component[7]", []string{}},
		{"first", obs, "Observation.component.code.coding.code.first()", []string{":8480-6"}},
		{"last", obs, "Observation.component.code.coding.code.last()", []string{":8462-4"}},
		{"tail", obs, "Observation.component.code.coding.code.tail()", []string{":8462-4"}},
		{"skip take", obs, "Observation.component.skip(1).take(1).code.coding.code", []string{":8462-4"}},
		{"count", obs, "Observation.component.count()", []string{"integer:3"}},
		{"where and", obs, "Observation.component.where(code.coding.code = '8480-6' and value.value > 100).value.value", []string{":120"}},
		{"where decimal", obs, "Observation.component.where(value.value = 80.50).code.coding.code", []string{":8462-4"}},
		{"exists", obs, "Observation.component.exists()", []string{"boolean:true"}},
		{"exists criteria", obs, "Observation.component.exists(code.text = 'position')", []string{"boolean:true"}},
		{"all", obs, "Observation.component.all(code.exists())", []string{"boolean:true"}},
		{"empty", obs, "Observation.note.empty()", []string{"boolean:true"}},
		{"not", obs, "Observation.note.exists().not()", []string{"boolean:true"}},
		{"select", obs, "Observation.component.select(code.coding.code)", []string{":8480-6", ":8462-4"}},
		{"resolve is", obs, "Observation.subject.where(resolve() is Patient)", []string{`:{"reference":"Patient/p1"}`}},
		{"resolve is not", obs, "Observation.subject.where(resolve() is Group)", []string{}},
		{"resolve absolute with history", obs, "Observation.performer.where(resolve() is Organization).reference",
			[]string{":https://other.example/fhir/Organization/o9/_history/3"}},
		{"resolve by type field", obs, "Observation.performer.where(resolve() is RelatedPerson).reference",
			[]string{":urn:uuid:8c5e6e4a-0000-4000-8000-000000000001"}},
		{"resolve is Resource", obs, "Observation.performer.where(resolve() is Resource).count()", []string{"integer:3"}},
		{"union dedupes", obs, "Observation.status | Observation.status | status", []string{":final"}},
		{"union dedupes objects", obs, "Observation.code | Observation.code", []string{
			`:{"coding":[{"code":"85354-9","display":"Blood pressure panel","system":"http://loinc.org"}],"text":"BP"}`}},
		{"this", obs, "Observation.category.coding.code.where($this = 'vital-signs')", []string{":vital-signs"}},
		{"resource var", obs, "Observation.component.where(%resource.status = 'final').count()", []string{"integer:3"}},
		{"iif", obs, "iif(Observation.status = 'final', 'yes', 'no')", []string{"string:yes"}},
		{"string functions", obs, "Observation.code.coding.code.where(startsWith('85') and endsWith('-9') and contains('354'))", []string{":85354-9"}},
		{"matches", obs, "Observation.code.coding.system.where(matches('^http://loinc'))", []string{":http://loinc.org"}},
		{"in", obs, "Observation.status in ('final' | 'amended')", []string{"boolean:true"}},
		{"contains operator", obs, "('final' | 'amended') contains Observation.status", []string{"boolean:true"}},
		{"equivalent", obs, "Observation.code.text ~ 'bp'", []string{"boolean:true"}},
		{"not equal on empty", obs, "Observation.note != 'x'", []string{}},
		{"delimited name", obs, "Observation.`status`", []string{":final"}},
		{"comments", obs, "Observation /* the type */ .status // done", []string{":final"}},

		{"name", pat, "Patient.name.family", []string{":Müller"}},
		{"name given", pat, "Patient.name.given", []string{":Anna", ":Lena", ":Annie"}},
		{"name where use", pat, "Patient.name.where(use='official').given", []string{":Anna", ":Lena"}},
		{"telecom phone", pat, "Patient.telecom.where(system='phone').value", []string{":+41 44 000 00 00", ":+41 79 000 00 00"}},
		{"telecom email", pat, "Patient.telecom.where(system='email').value", []string{":anna@example.org"}},
		{"where or", pat, "Patient.telecom.where(use='home' or use='mobile').value", []string{":+41 44 000 00 00", ":+41 79 000 00 00"}},
		// (use='home') is empty for the email, and so is its not().
		{"where not", pat, "Patient.telecom.where((use='home').not()).value", []string{":+41 79 000 00 00"}},
		{"where empty or not", pat, "Patient.telecom.where(use.empty() or (use='home').not()).value", []string{":anna@example.org", ":+41 79 000 00 00"}},
		{"identifier official", pat, "Patient.identifier.where(use='official').value", []string{":MRN-1"}},
		{"address city", pat, "Patient.address.city", []string{":Zürich"}},
		{"extension", pat, "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName').value",
			[]string{"string:Jacobs"}},
		{"extension node", pat, "Patient.extension('http://example.org/other')",
			[]string{`Extension:{"url":"http://example.org/other","valueBoolean":true}`}},
		{"extension where", pat, "Patient.extension.where(url = 'http://example.org/other').value", []string{"boolean:true"}},
		{"birthDate not _birthDate", pat, "Patient.birthDate", []string{":1980-02-29"}},
		{"boolean", pat, "Patient.active", []string{":true"}},
		{"deceased false", pat, "Patient.deceased.exists() and Patient.deceased != false", []string{"boolean:false"}},
		{"deceased dateTime", dead, "Patient.deceased.exists() and Patient.deceased != false", []string{"boolean:true"}},
		{"deceased absent", alive, "Patient.deceased.exists() and Patient.deceased != false", []string{"boolean:false"}},
		{"deceased type", dead, "Patient.deceased", []string{"dateTime:2020-01-01"}},
		{"is boolean", pat, "Patient.deceased is boolean", []string{"boolean:true"}},
		{"link other", pat, "Patient.link.other.where(resolve() is Patient).reference", []string{":Patient/p0"}},
		{"hasValue", pat, "Patient.gender.hasValue()", []string{"boolean:true"}},
		{"distinct", pat, "Patient.telecom.system.distinct()", []string{":phone", ":email"}},

		{"Age as Quantity", cond, "Condition.onset.as(Age) | Condition.onset.as(Range)",
			[]string{`Age:{"code":"a","system":"http://unitsofmeasure.org","unit":"a","value":42}`}},
		{"Age is a Quantity", cond, "Condition.onset as Quantity",
			[]string{`Age:{"code":"a","system":"http://unitsofmeasure.org","unit":"a","value":42}`}},
		{"Range", cond, "Condition.abatement.as(Age) | Condition.abatement.as(Range)",
			[]string{`Range:{"high":{"value":2},"low":{"value":1}}`}},
		{"abatement dateTime", cond, "Condition.abatement.as(dateTime) | Condition.abatement.as(Period)", []string{}},
		{"ofType at root", cond, "onset.ofType(Quantity).value", []string{":42"}},

		{"bundle first entry", bundle, "Bundle.entry[0].resource", []string{`:{"id":"comp1","resourceType":"Composition"}`}},
		{"bundle as", bundle, "Bundle.entry.resource as Patient", []string{`:{"id":"p1","resourceType":"Patient"}`}},
		{"bundle ofType", bundle, "Bundle.entry.resource.ofType(Composition).id", []string{":comp1"}},

		{"appointment patient", appt, "Appointment.participant.actor.where(resolve() is Patient).reference", []string{":Patient/p1"}},
		{"appointment location", appt, "Appointment.participant.actor.where(resolve() is Location).reference",
			[]string{":https://example.org/fhir/Location/l1"}},
		{"appointment practitioner", appt, "Appointment.participant.actor.where(resolve() is Practitioner).reference", []string{":urn:uuid:abc"}},
		{"resolve type", appt, "Appointment.participant.actor.resolve()", []string{"Patient:ref", "Location:ref", "Practitioner:ref"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.expr, err)
			}
			got := render(e.Eval(tt.resource))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s\n got %q\nwant %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	obs := decode(t, observation)
	tests := []struct{ expr, want string }{
		{"Observation.value", "Observation.value"},
		{"Observation.component.value.as(Quantity)", "Observation.component.value"},
		{"Observation.subject.where(resolve() is Patient)", "Observation.subject"},
		{"(Observation.effective as Period)", "Observation.effective"},
		{"Observation.component[0].code", "Observation.component.code"},
	}
	for _, tt := range tests {
		nodes := MustCompile(tt.expr).Eval(obs)
		if len(nodes) == 0 {
			t.Fatalf("%s: no result", tt.expr)
		}
		if nodes[0].Path != tt.want {
			t.Errorf("%s: path %q, want %q", tt.expr, nodes[0].Path, tt.want)
		}
	}
}

func TestChoiceRules(t *testing.T) {
	// Keys that start with the name but whose rest is not a type are not
	// choices: DataRequirement.codeFilter, ElementDefinition binding.valueSet.
	r := decode(t, `{"resourceType":"Library","dataRequirement":[{"type":"Observation","codeFilter":[{"path":"code"}]}],
		"x":{"valueSet":"http://vs"},"y":{"valueInteger":3,"valueString":"3"}}`)
	if got := MustCompile("Library.dataRequirement.code").Eval(r); len(got) != 0 {
		t.Errorf("code matched codeFilter: %v", render(got))
	}
	if got := MustCompile("Library.x.value").Eval(r); len(got) != 0 {
		t.Errorf("value matched valueSet: %v", render(got))
	}
	// Invalid JSON with two choices: both, in key order, every time.
	for range 20 {
		got := render(MustCompile("Library.y.value").Eval(r))
		if want := []string{"integer:3", "string:3"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// Types from suffixes.
	res := decode(t, `{"resourceType":"Observation","valueDateTime":"2020","effectiveInstant":"2020-01-01T00:00:00Z",
		"issuedX":"no","valueSampledData":{}}`)
	for expr, want := range map[string]string{
		"Observation.effective": "instant", "Observation.issued": "",
	} {
		got := MustCompile(expr).Eval(res)
		if want == "" {
			if len(got) != 0 {
				t.Errorf("%s: got %v", expr, render(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Type != want {
			t.Errorf("%s: got %v, want type %s", expr, render(got), want)
		}
	}
}

func TestNumbersAsFloat(t *testing.T) {
	// A resource decoded without UseNumber still works.
	var r map[string]any
	if err := json.Unmarshal([]byte(`{"resourceType":"Observation","valueQuantity":{"value":5.5}}`), &r); err != nil {
		t.Fatal(err)
	}
	got := MustCompile("Observation.value.where(value > 5).value").Eval(r)
	if len(got) != 1 || got[0].Value != 5.5 {
		t.Errorf("got %v", render(got))
	}
}

func TestEvalNode(t *testing.T) {
	obs := decode(t, observation)
	comps := MustCompile("Observation.component").Eval(obs)
	code := MustCompile("code.coding.code")
	value := MustCompile("value.ofType(Quantity).value")
	var got []string
	for _, c := range comps {
		got = append(got, fmt.Sprint(render(code.EvalNode(obs, c)), render(value.EvalNode(obs, c))))
	}
	want := []string{"[:8480-6] [:120]", "[:8462-4] [:80.5]", "[] []"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := MustCompile("%resource.id").EvalNode(obs, comps[0]); len(got) != 1 {
		t.Errorf("%%resource in EvalNode: %v", render(got))
	}
	if got := MustCompile("%resource.id").EvalNode(nil, comps[0]); len(got) != 0 {
		t.Errorf("%%resource without resource: %v", render(got))
	}
}

func TestEvalNil(t *testing.T) {
	if got := MustCompile("Patient.name").Eval(nil); got != nil {
		t.Errorf("got %v", got)
	}
}

func TestConcurrentEval(t *testing.T) {
	obs := decode(t, observation)
	e := MustCompile("Observation.component.where(value.value > 100).code.coding.code | Observation.subject.where(resolve() is Patient).reference")
	done := make(chan []string)
	for range 8 {
		go func() {
			var last []string
			for range 500 {
				last = render(e.Eval(obs))
			}
			done <- last
		}()
	}
	for range 8 {
		if got, want := <-done, []string{":8480-6", ":Patient/p1"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string
	}{
		{"", 0, "empty expression"},
		{"Observation.value + ", 20, "unexpected end of expression"},
		{"Observation.conformsTo('http://x')", 12, "function conformsTo() is not supported"},
		{"Patient.name.given.substring(given)", 29, "expected a non-negative integer literal"},
		{"Patient.birthDate > @2020-01-01", 20, "date/time literals"},
		{"Patient.name.memberOf('http://vs')", 13, "function memberOf() is not supported"},
		{"Observation.code.repeat(coding)", 17, "function repeat() is not supported"},
		{"today()", 0, "function today() is not supported"},
		{"Observation.where()", 12, "where() takes 1 argument(s), not 0"},
		{"Observation.code.where(", 23, "unexpected end of expression"},
		{"Observation.(code)", 12, "expected a name after '.'"},
		{"Observation.code)", 16, "unexpected ')' after a complete expression"},
		{"Observation.value as 5", 21, "expected a type name"},
		{"Observation.value.as(foo)", 21, "unknown type foo"},
		{"Observation.value.ofType('Quantity')", 25, "expected a type name"},
		{"Observation.component[code]", 22, "expected a non-negative integer literal"},
		{"Patient.extension(url)", 18, "expected a string literal"},
		{"'unterminated", 0, "unterminated"},
		{"Patient.name.where(use = 'a\\qb')", 27, "unknown escape"},
		{"Patient.name #", 13, "unexpected character '#'"},
		{"$index", 0, "variable $index is not supported"},
		{"%vs-foo", 0, "variable %vs-foo is not supported"},
		{"Observation.value.matches('[')", 26, "bad regular expression"},
		{"-Observation", 0, "unary '-' is supported only before a number"},
		{"5 'mg'", 2, "unexpected string 'mg'"},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), 100, "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.expr)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%q) = %v, want *Error", tt.expr, err)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("Compile(%q): offset %d msg %q; want offset %d msg containing %q", tt.expr, e.Offset, e.Msg, tt.offset, tt.msg)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", tt.offset)) {
			t.Errorf("Compile(%q): %q lacks the offset", tt.expr, err)
		}
	}
}

func TestLiterals(t *testing.T) {
	r := decode(t, `{"resourceType":"Basic","n":-3,"s":"it's \"q\"\n"}`)
	tests := []struct {
		expr string
		want []string
	}{
		{"Basic.n = -3", []string{"boolean:true"}},
		{"Basic.n < -2.5", []string{"boolean:true"}},
		{`Basic.s = 'it\'s "q"\n'`, []string{"boolean:true"}},
		{`Basic.s = 'it\u0027s \"q\"\n'`, []string{"boolean:true"}},
		{"{}", []string{}},
		{"Basic.n.exists() and {}", []string{}},
		{"Basic.n.exists() or {}", []string{"boolean:true"}},
		{"Basic.n.exists() xor true", []string{"boolean:false"}},
		{"false implies {}", []string{"boolean:true"}},
		{"true implies Basic.n.exists()", []string{"boolean:true"}},
		{"'a' | 'b' | 'a'", []string{"string:a", "string:b"}},
		{"('a' | 'b').isDistinct()", []string{"boolean:true"}},
		{"true.not()", []string{"boolean:false"}},
		{"('a' | 'b') = ('a' | 'b')", []string{"boolean:true"}},
		{"('a' | 'b') = ('b' | 'a')", []string{"boolean:false"}},
		{"('a' | 'b') ~ ('b' | 'a')", []string{"boolean:true"}},
		{"'abc'.length()", []string{"integer:3"}},
		{"'AbC'.lower() = 'abc'", []string{"boolean:true"}},
		{"'x'.upper()", []string{"string:X"}},
		{"1.toString()", []string{"string:1"}},
		{"(true | false).anyTrue()", []string{"boolean:true"}},
		{"(true | false).allTrue()", []string{"boolean:false"}},
		{"'a'.trace('t')", []string{"string:a"}},
		{"%ucum", []string{"string:http://unitsofmeasure.org"}},
		{"Basic.children().count()", []string{"integer:2"}},
		{"Basic.descendants().count()", []string{"integer:2"}},
		{"Basic.n.single()", []string{":-3"}},
		{"Basic.s is string", []string{"boolean:true"}},
		{"Basic.n is integer", []string{"boolean:true"}},
		{"Basic.n is decimal", []string{"boolean:true"}},
		{"Basic is Resource", []string{"boolean:true"}},
		{"Basic is Patient", []string{"boolean:false"}},
	}
	for _, tt := range tests {
		e, err := Compile(tt.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.expr, err)
			continue
		}
		if got := render(e.Eval(r)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestReferenceType(t *testing.T) {
	tests := map[string]string{
		"Patient/1":                                     "Patient",
		"Patient/1/_history/2":                          "Patient",
		"https://x.org/fhir/Patient/1":                  "Patient",
		"https://x.org/fhir/Patient/1/_history/2":       "Patient",
		"http://x.org/Questionnaire/q1|2.0":             "Questionnaire",
		"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427": "",
		"#p1":            "",
		"":               "",
		"Patient/":       "",
		"/1":             "",
		"patient/1":      "",
		"fhir/Patient/1": "",
		"Patient/a b":    "",
	}
	for ref, want := range tests {
		if got := referenceType(ref); got != want {
			t.Errorf("referenceType(%q) = %q, want %q", ref, got, want)
		}
	}
}
