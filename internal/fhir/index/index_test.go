package index

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

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

// extract evaluates expr on resource and extracts entries of paramType.
func extract(t testing.TB, paramType, expr string, resource map[string]any) Entries {
	t.Helper()
	e, err := fhirpath.Compile(expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return Extract(paramType, e.Eval(resource))
}

const testPatient = `{
  "resourceType": "Patient", "id": "p1",
  "meta": {"lastUpdated": "2024-03-01T10:00:00.123Z", "tag": [{"system": "http://t", "code": "x"}, {"system": "http://t", "code": "x"}],
           "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
  "extension": [{"url": "http://example.org/birthTime", "valueDateTime": "1980-02-29T04:00:00+01:00"},
                {"url": "http://example.org/race", "extension": [{"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}}]}],
  "identifier": [{"type": {"coding": [{"code": "MR"}], "text": "Medical record number"}, "system": "urn:oid:1.2.3", "value": "MRN-1"},
                 {"system": "http://no-value"}, {"value": "no-system"}],
  "active": true,
  "name": [{"use": "official", "family": "Müller-Lüdenscheidt", "given": ["Anna", "Lena"], "prefix": ["Dr."], "suffix": ["PhD"], "text": "Dr. Anna Lena Müller-Lüdenscheidt"},
           {"use": "nickname", "given": ["  Änni  "]}, {"given": ["Anna"]}],
  "telecom": [{"system": "phone", "value": "+41 44 000 00 00", "use": "home"}, {"system": "email", "value": "anna@example.org"}, {"system": "phone"}],
  "gender": "female",
  "birthDate": "1980-02-29",
  "deceasedBoolean": false,
  "address": [{"line": ["Bahnhofstrasse 1", "c/o Meier"], "city": "Zürich", "district": "Kreis 1", "state": "ZH", "postalCode": "8001", "country": "CH"}],
  "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "Married"}], "text": "married"},
  "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "de-CH"}], "text": "Swiss German"}}],
  "generalPractitioner": [{"reference": "Practitioner/dr1"}, {"reference": "Practitioner/dr1/_history/4"}, {"identifier": {"value": "123"}},
                          {"reference": "https://other.example/fhir/Organization/o1"}, {"reference": "urn:uuid:aa1a1a1a-0000-4000-8000-000000000000"}, {"display": "Someone"}],
  "managingOrganization": {"reference": "#org1"}
}`

func TestExtractToken(t *testing.T) {
	p := decode(t, testPatient)
	tests := []struct {
		expr string
		want []Token
	}{
		{"Patient.maritalStatus", []Token{{System: "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", Code: "M", Display: "Married"}}},
		{"Patient.communication.language", []Token{{System: "urn:ietf:bcp:47", Code: "de-CH"}, {Display: "Swiss German"}}},
		{"Patient.identifier", []Token{{System: "urn:oid:1.2.3", Code: "MRN-1", Display: "Medical record number"}, {System: "http://no-value"}, {Code: "no-system"}}},
		{"Patient.telecom", []Token{{Code: "+41 44 000 00 00"}, {Code: "anna@example.org"}}},
		{"Patient.telecom.where(system='email')", []Token{{Code: "anna@example.org"}}},
		{"Patient.gender", []Token{{Code: "female"}}},
		{"Patient.active", []Token{{Code: "true"}}},
		{"Patient.deceased.exists() and Patient.deceased != false", []Token{{Code: "false"}}},
		{"Resource.meta.tag", []Token{{System: "http://t", Code: "x"}}},
		{"Resource.id", []Token{{Code: "p1"}}},
		{"Patient.extension('http://example.org/race').extension('ombCategory')",
			[]Token{{System: "urn:oid:2.16.840.1.113883.6.238", Code: "2106-3", Display: "White"}}},
		{"Patient.maritalStatus | Patient.maritalStatus.coding", []Token{{System: "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", Code: "M", Display: "Married"}}},
		{"Patient.name", nil},
		{"Patient.birthDate.where(false)", nil},
	}
	for _, tt := range tests {
		got := extract(t, "token", tt.expr, p)
		if !reflect.DeepEqual(got.Tokens, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.expr, got.Tokens, tt.want)
		}
	}
	// Text equal to a coding's display adds no entry; other text does.
	cc := decode(t, `{"resourceType":"Observation","code":{"coding":[{"system":"s","code":"c","display":"Body Height"}],"text":"body height"}}`)
	if got := extract(t, "token", "Observation.code", cc).Tokens; len(got) != 1 {
		t.Errorf("text repeated as an entry: %+v", got)
	}
	only := decode(t, `{"resourceType":"Observation","code":{"text":"Free text"}}`)
	if got := extract(t, "token", "Observation.code", only).Tokens; !reflect.DeepEqual(got, []Token{{Display: "Free text"}}) {
		t.Errorf("text only: %+v", got)
	}
}

func TestExtractString(t *testing.T) {
	p := decode(t, testPatient)
	tests := []struct {
		expr        string
		want, exact []string
	}{
		{"Patient.name", []string{"muller-ludenscheidt", "anna", "lena", "dr.", "phd", "dr. anna lena muller-ludenscheidt", "anni"},
			[]string{"Müller-Lüdenscheidt", "Anna", "Lena", "Dr.", "PhD", "Dr. Anna Lena Müller-Lüdenscheidt", "Änni"}},
		{"Patient.name.given", []string{"anna", "lena", "anni"}, []string{"Anna", "Lena", "Änni"}},
		{"Patient.address", []string{"bahnhofstrasse 1", "c/o meier", "zurich", "kreis 1", "zh", "8001", "ch"},
			[]string{"Bahnhofstrasse 1", "c/o Meier", "Zürich", "Kreis 1", "ZH", "8001", "CH"}},
		{"Patient.address.city", []string{"zurich"}, []string{"Zürich"}},
		{"Patient.maritalStatus", []string{"married"}, []string{"married"}},
		{"Patient.telecom", nil, nil},
	}
	for _, tt := range tests {
		got := extract(t, "string", tt.expr, p)
		if !reflect.DeepEqual(got.Strings, tt.want) || !reflect.DeepEqual(got.Exact, tt.exact) {
			t.Errorf("%s:\n got %q %q\nwant %q %q", tt.expr, got.Strings, got.Exact, tt.want, tt.exact)
		}
	}
}

func TestExtractDate(t *testing.T) {
	p := decode(t, testPatient)
	r := func(low, high string) DateRange { return DateRange{Low: utc(low), High: utc(high)} }
	tests := []struct {
		name string
		res  map[string]any
		expr string
		want []DateRange
	}{
		{"date", p, "Patient.birthDate", []DateRange{r("1980-02-29T00:00:00Z", "1980-03-01T00:00:00Z")}},
		{"instant", p, "Resource.meta.lastUpdated", []DateRange{r("2024-03-01T10:00:00.123Z", "2024-03-01T10:00:00.124Z")}},
		{"extension", p, "Patient.extension('http://example.org/birthTime')", []DateRange{r("1980-02-29T03:00:00Z", "1980-02-29T03:00:01Z")}},
		{"not a date", p, "Patient.gender", nil},
		{"period", decode(t, `{"resourceType":"Encounter","period":{"start":"2024-03-01","end":"2024-03-05T10:00:00Z"}}`), "Encounter.period",
			[]DateRange{r("2024-03-01T00:00:00Z", "2024-03-05T10:00:01Z")}},
		{"period without end", decode(t, `{"resourceType":"Encounter","period":{"start":"2024-03"}}`), "Encounter.period",
			[]DateRange{{Low: utc("2024-03-01T00:00:00Z"), High: MaxTime}}},
		{"period without start", decode(t, `{"resourceType":"Encounter","period":{"end":"2024"}}`), "Encounter.period",
			[]DateRange{{Low: MinTime, High: utc("2025-01-01T00:00:00Z")}}},
		{"period reversed", decode(t, `{"resourceType":"Encounter","period":{"start":"2024-03-05","end":"2024-03-01"}}`), "Encounter.period",
			[]DateRange{r("2024-03-01T00:00:00Z", "2024-03-06T00:00:00Z")}},
		{"empty period", decode(t, `{"resourceType":"Encounter","period":{"start":"bad"}}`), "Encounter.period", nil},
		{"timing", decode(t, `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"event":["2024-03-02","2024-03-01T08:00:00Z","bad"],
			"repeat":{"boundsPeriod":{"end":"2024-04"}}}}]}`), "MedicationRequest.dosageInstruction.timing",
			[]DateRange{{Low: MinTime, High: utc("2024-05-01T00:00:00Z")}}},
		{"timing events", decode(t, `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"event":["2024-03-02","2024-03-01T08:00:00Z"]}}]}`),
			"MedicationRequest.dosageInstruction.timing", []DateRange{r("2024-03-01T08:00:00Z", "2024-03-03T00:00:00Z")}},
		{"choice dateTime", decode(t, `{"resourceType":"Observation","effectiveDateTime":"2011-10-14T23:37:54+00:00"}`),
			"(Observation.effective as dateTime) | (Observation.effective as Period)", []DateRange{r("2011-10-14T23:37:54Z", "2011-10-14T23:37:55Z")}},
		{"choice time skipped", decode(t, `{"resourceType":"Observation","valueTime":"10:00:00"}`), "Observation.value", nil},
	}
	for _, tt := range tests {
		got := extract(t, "date", tt.expr, tt.res)
		if !reflect.DeepEqual(got.Dates, tt.want) {
			t.Errorf("%s: %s:\n got %v\nwant %v", tt.name, tt.expr, got.Dates, tt.want)
		}
	}
}

func TestExtractReference(t *testing.T) {
	p := decode(t, testPatient)
	got := extract(t, "reference", "Patient.generalPractitioner | Patient.managingOrganization", p).References
	want := []Reference{
		{Type: "Practitioner", ID: "dr1"},
		{Type: "Organization", ID: "o1", URL: "https://other.example/fhir/Organization/o1"},
		{URL: "urn:uuid:aa1a1a1a-0000-4000-8000-000000000000"},
		{URL: "#org1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	qr := decode(t, `{"resourceType":"QuestionnaireResponse","questionnaire":"http://example.org/Questionnaire/phq9|1.0"}`)
	if got := extract(t, "reference", "QuestionnaireResponse.questionnaire", qr).References; !reflect.DeepEqual(got,
		[]Reference{{Type: "Questionnaire", ID: "phq9", URL: "http://example.org/Questionnaire/phq9|1.0"}}) {
		t.Errorf("canonical: %+v", got)
	}
	b := decode(t, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Composition","id":"c1"}}]}`)
	if got := extract(t, "reference", "Bundle.entry[0].resource", b).References; !reflect.DeepEqual(got, []Reference{{Type: "Composition", ID: "c1"}}) {
		t.Errorf("resource: %+v", got)
	}
	a := decode(t, `{"resourceType":"Appointment","participant":[{"actor":{"reference":"Patient/p1"}},{"actor":{"reference":"Location/l1"}}]}`)
	if got := extract(t, "reference", "Appointment.participant.actor.where(resolve() is Patient)", a).References; !reflect.DeepEqual(got,
		[]Reference{{Type: "Patient", ID: "p1"}}) {
		t.Errorf("where resolve: %+v", got)
	}
	// Reference.type gives the type a reference's string does not.
	o := decode(t, `{"resourceType":"Observation","subject":{"reference":"urn:uuid:0b5e","type":"Patient"},
		"focus":[{"reference":"Group/g1","type":"Patient"},{"reference":"#c","type":"http://hl7.org/fhir/StructureDefinition/Device"},{"reference":"#d","type":"no"}]}`)
	if got := extract(t, "reference", "Observation.subject | Observation.focus", o).References; !reflect.DeepEqual(got, []Reference{
		{Type: "Patient", URL: "urn:uuid:0b5e"}, {Type: "Group", ID: "g1"}, {Type: "Device", URL: "#c"}, {URL: "#d"},
	}) {
		t.Errorf("with Reference.type: %+v", got)
	}
}

func TestExtractQuantityNumberURI(t *testing.T) {
	o := decode(t, `{"resourceType":"Observation",
		"valueQuantity":{"value":5.40,"comparator":"<","unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},
		"component":[{"valueQuantity":{"value":1}},{"valueRange":{"low":{"value":1,"unit":"a"},"high":{"value":3,"unit":"a"}}}]}`)
	if got := extract(t, "quantity", "Observation.value.as(Quantity)", o).Quantities; !reflect.DeepEqual(got,
		[]Quantity{{Value: 5.4, Decimal: "5.40", Comparator: "<", Unit: "mg", System: "http://unitsofmeasure.org", Code: "mg"}}) {
		t.Errorf("quantity: %+v", got)
	}
	if got := extract(t, "quantity", "Observation.component.value", o).Quantities; !reflect.DeepEqual(got, []Quantity{
		{Value: 1, Decimal: "1"},
		{Value: 1, Decimal: "1", Comparator: ">=", Unit: "a"},
		{Value: 3, Decimal: "3", Comparator: "<=", Unit: "a"},
	}) {
		t.Errorf("range: %+v", got)
	}
	c := decode(t, `{"resourceType":"Condition","onsetAge":{"value":42,"unit":"yr","system":"http://unitsofmeasure.org","code":"a"}}`)
	if got := extract(t, "quantity", "Condition.onset.as(Age) | Condition.onset.as(Range)", c).Quantities; !reflect.DeepEqual(got,
		[]Quantity{{Value: 42, Decimal: "42", Unit: "yr", System: "http://unitsofmeasure.org", Code: "a"}}) {
		t.Errorf("age: %+v", got)
	}
	m := decode(t, `{"resourceType":"Invoice","totalNet":{"value":12.5,"currency":"CHF"}}`)
	if got := extract(t, "quantity", "Invoice.totalNet", m).Quantities; !reflect.DeepEqual(got,
		[]Quantity{{Value: 12.5, Decimal: "12.5", System: "urn:iso:std:iso:4217", Code: "CHF"}}) {
		t.Errorf("money: %+v", got)
	}
	n := decode(t, `{"resourceType":"ImagingStudy","numberOfSeries":3,"series":[{"number":1},{"number":2.5},{"number":1}]}`)
	if got := extract(t, "number", "ImagingStudy.numberOfSeries | ImagingStudy.series.number", n).Numbers; !reflect.DeepEqual(got, []float64{3, 1, 2.5}) {
		t.Errorf("number: %v", got)
	}
	q := decode(t, `{"resourceType":"Questionnaire","url":"http://example.org/q","item":[{"definition":"http://d"}]}`)
	if got := extract(t, "uri", "Questionnaire.url | Questionnaire.item.definition", q).URIs; !reflect.DeepEqual(got, []string{"http://example.org/q", "http://d"}) {
		t.Errorf("uri: %v", got)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(`{"resourceType":"Observation","valueQuantity":{"value":0.1,"unit":"g"},"valueInteger":3}`), &f); err != nil {
		t.Fatal(err)
	}
	if got := extract(t, "quantity", "Observation.value.as(Quantity)", f).Quantities; !reflect.DeepEqual(got, []Quantity{{Value: 0.1, Decimal: "0.1", Unit: "g"}}) {
		t.Errorf("float64 quantity: %+v", got)
	}
	if got := Extract("composite", []fhirpath.Node{{Value: "x"}}); got.Len() != 0 {
		t.Errorf("composite: %+v", got)
	}
}

func TestExtractNodesWithoutType(t *testing.T) {
	// Nodes made by hand, as a caller could: types are guessed.
	nodes := []fhirpath.Node{
		{Value: map[string]any{"system": "phone", "value": "123"}},
		{Value: map[string]any{"system": "urn:x", "value": "id-1"}},
		{Value: map[string]any{"value": "r1", "rank": json.Number("1")}},
		{Value: map[string]any{"system": "s", "code": "c"}},
		{Value: map[string]any{"display": "only display"}},
		{Value: json.Number("7")},
		{Value: nil},
		{Value: []any{"ignored"}},
	}
	want := []Token{{Code: "123"}, {System: "urn:x", Code: "id-1"}, {Code: "r1"}, {System: "s", Code: "c"}, {Display: "only display"}, {Code: "7"}}
	if got := Extract("token", nodes).Tokens; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
