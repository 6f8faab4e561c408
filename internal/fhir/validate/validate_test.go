package validate

import (
	"fmt"
	"strings"
	"testing"
)

const validObservation = `{
  "resourceType": "Observation",
  "id": "obs-1",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}], "text": "Body Height"},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2011-05-27T09:51:38+00:00",
  "issued": "2011-05-27T09:51:38.447+00:00",
  "valueQuantity": {"value": 171.43529167345355, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"},
  "meta": {"tag": [{"system": "https://smarthealthit.org/tags", "code": "synthea-5-2019"}]}
}`

const validPatient = `{
  "resourceType": "Patient",
  "id": "p1",
  "active": true,
  "name": [{"use": "official", "family": "Koepp", "given": ["Abdul", "Jo"], "_given": [null, {"extension": [{"url": "http://example.org/nick", "valueString": "J"}]}]}],
  "gender": "male",
  "birthDate": "1990-02-28",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1990-02-28T10:30:00+01:00"}]},
  "multipleBirthInteger": 2,
  "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
    {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}},
    {"url": "text", "valueString": "White"}]}],
  "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Abdul \u00e9 \ud83d\ude00</div>"}
}`

// edit replaces old with new in a valid resource, failing if old is absent.
func edit(t *testing.T, doc, old, new string) string {
	t.Helper()
	if !strings.Contains(doc, old) {
		t.Fatalf("edit: %q not found", old)
	}
	return strings.Replace(doc, old, new, 1)
}

func TestValid(t *testing.T) {
	for name, doc := range map[string]string{
		"observation":       validObservation,
		"patient":           validPatient,
		"decimal precision": edit(t, validObservation, `171.43529167345355`, `171.4352916734535500000000000000001`),
		"exponent":          edit(t, validObservation, `171.43529167345355`, `1.7e2`),
		"extension on status only": edit(t, validObservation, `"status": "final",`,
			`"_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]},`),
		"escaped strings": edit(t, validObservation, `"text": "Body Height"`, `"text": "Body\nHeight \"tall\" \u00e9\t\/"`),
		"escaped key":     edit(t, validObservation, `"issued"`, `"issu\u0065d"`),
		"questionnaire": `{"resourceType": "Questionnaire", "status": "active", "item": [
			{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "text": "Name?",
			  "enableWhen": [{"question": "0", "operator": "exists", "answerBoolean": true}],
			  "item": [{"linkId": "1.1.1", "type": "display"}]}]}]}`,
		"bundle": `{"resourceType": "Bundle", "type": "transaction", "entry": [
			{"fullUrl": "urn:uuid:c14b4d95-67b1-427a-9dfc-cd5311cd82fe", "resource": ` + validObservation + `,
			 "request": {"method": "POST", "url": "Observation"}},
			{"resource": {"resourceType": "Claim", "anything": [1, 2, {"x": null}]}, "request": {"method": "POST", "url": "Claim"}}]}`,
		"contained": edit(t, edit(t, validObservation, `"id": "obs-1",`,
			`"id": "obs-1", "contained": [{"resourceType": "Patient", "id": "c1", "gender": "female"}, {"resourceType": "Binary", "id": "b1", "contentType": "text/plain"}],
			 "focus": [{"reference": "#b1"}],`), `"Patient/p1"`, `"#c1"`),
		"condition": `{"resourceType": "Condition", "subject": {"reference": "Patient/1"},
			"clinicalStatus": {"coding": [{"system": "http://example.org/other", "code": "x"},
			  {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}`,
		"not first class": `{"resourceType": "Claim", "id": "abc", "whatever": {"nested": [true, null]}}`,
		"white space":     " \n\t" + validPatient + "\r\n ",
	} {
		if issues := Resource("", []byte(doc)); len(issues) > 0 || HasErrors(issues) {
			t.Errorf("%s: %d issues, want none: %+v", name, len(issues), issues)
		}
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name       string
		url        string // resource type of the request
		doc        string
		expression string
		code       string
		message    string // a part of the message
	}{
		{"unknown element", "Patient", edit(t, validPatient, `"active": true,`, `"active": true, "foo": 1,`),
			"Patient.foo", "structure", "unknown element 'foo' at Patient"},
		{"unknown nested element", "", edit(t, validObservation, `"unit": "cm"`, `"unit": "cm", "units": "cm"`),
			"Observation.valueQuantity.units", "structure", "unknown element 'units' at Observation.valueQuantity"},
		{"wrong primitive type", "", edit(t, validPatient, `"active": true`, `"active": "yes"`),
			"Patient.active", "structure", "must be a JSON boolean (boolean), not a string"},
		{"number as string", "", edit(t, validObservation, `171.43529167345355`, `"171.4"`),
			"Observation.valueQuantity.value", "structure", "must be a JSON number (decimal)"},
		{"object for primitive", "", edit(t, validPatient, `"gender": "male"`, `"gender": {"code": "male"}`),
			"Patient.gender", "structure", "not an object"},
		{"string for object", "", edit(t, validObservation, `"subject": {"reference": "Patient/p1"}`, `"subject": "Patient/p1"`),
			"Observation.subject", "structure", "must be a JSON object (Reference)"},
		{"bad date", "", edit(t, validPatient, `"1990-02-28"`, `"1990-13-01"`),
			"Patient.birthDate", "value", "'1990-13-01' is not a valid date"},
		{"no such day", "", edit(t, validPatient, `"1990-02-28"`, `"1990-02-29"`),
			"Patient.birthDate", "value", "no such day"},
		{"bad dateTime", "", edit(t, validObservation, `"2011-05-27T09:51:38+00:00"`, `"2011-05-27 09:51"`),
			"Observation.effectiveDateTime", "value", "is not a valid dateTime"},
		{"bad instant in extension", "", edit(t, validPatient, `"1990-02-28T10:30:00+01:00"`, `"1990-02-28T10:30"`),
			"Patient.birthDate.extension[0].valueDateTime", "value", "not a valid dateTime"},
		{"integer with fraction", "", edit(t, validPatient, `"multipleBirthInteger": 2`, `"multipleBirthInteger": 2.5`),
			"Patient.multipleBirthInteger", "value", "not a valid integer"},
		{"integer out of range", "", edit(t, validPatient, `"multipleBirthInteger": 2`, `"multipleBirthInteger": 2147483648`),
			"Patient.multipleBirthInteger", "value", "out of range"},
		{"empty string", "", edit(t, validObservation, `"unit": "cm"`, `"unit": ""`),
			"Observation.valueQuantity.unit", "value", "must not be an empty string"},
		{"missing required element", "", edit(t, validObservation, `"status": "final",`, ``),
			"Observation.status", "required", "Observation.status is required"},
		{"missing required backbone element", "", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1"}]}`,
			"Questionnaire.item[0].type", "required", "Questionnaire.item[0].type is required"},
		{"missing required choice", "", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "string",
			"enableWhen": [{"question": "q", "operator": "exists"}]}]}`,
			"Questionnaire.item[0].enableWhen[0].answer[x]", "required", "answer[x] is required"},
		{"bad code in a required binding", "", edit(t, validObservation, `"final"`, `"finall"`),
			"Observation.status", "code-invalid", "'finall' is not a valid code for Observation.status (required binding): expected one of registered, preliminary, final, amended"},
		{"bad code in an array", "", `{"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"}, "category": ["food", "drink"]}`,
			"AllergyIntolerance.category[1]", "code-invalid", "'drink' is not a valid code"},
		{"bad code in a nested content reference", "", `{"resourceType": "Questionnaire", "status": "draft",
			"item": [{"linkId": "1", "type": "group", "item": [{"linkId": "2", "type": "strin"}]}]}`,
			"Questionnaire.item[0].item[0].type", "code-invalid", "'strin' is not a valid code"},
		{"bad code in a CodeableConcept", "", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"},
			"clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "bogus"}]}}`,
			"Condition.clinicalStatus.coding[0].code", "code-invalid", "'bogus' is not a valid code for Condition.clinicalStatus"},
		{"no coding from a required value set", "", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"},
			"clinicalStatus": {"text": "active"}}`,
			"Condition.clinicalStatus", "code-invalid", "has no coding from the value set http://hl7.org/fhir/ValueSet/condition-clinical"},
		{"array where single expected", "", edit(t, validObservation, `"code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}], "text": "Body Height"}`,
			`"code": [{"text": "Body Height"}]`),
			"Observation.code", "structure", "Observation.code must not be an array (max cardinality 1)"},
		{"single where array expected", "", edit(t, validPatient, `"name": [{"use": "official", "family": "Koepp", "given": ["Abdul", "Jo"], "_given": [null, {"extension": [{"url": "http://example.org/nick", "valueString": "J"}]}]}]`,
			`"name": {"family": "Koepp"}`),
			"Patient.name", "structure", "Patient.name must be an array (max cardinality *)"},
		{"primitive single where array expected", "", edit(t, validPatient, `"given": ["Abdul", "Jo"]`, `"given": "Abdul"`),
			"Patient.name[0].given", "structure", "must be an array"},
		{"two value[x] variants", "", edit(t, validObservation, `"valueQuantity"`, `"valueString": "tall", "valueQuantity"`),
			"Observation.valueQuantity", "structure", "Observation.value[x] has more than one value: valueString and valueQuantity"},
		{"unknown choice variant", "", edit(t, validObservation, `"valueQuantity"`, `"valueAddress"`),
			"Observation.valueAddress", "structure", "unknown element 'valueAddress'"},
		{"duplicate property", "", edit(t, validObservation, `"status": "final",`, `"status": "final", "status": "final",`),
			"Observation.status", "structure", "appears more than once"},
		{"bad id", "", edit(t, validPatient, `"id": "p1"`, `"id": "p 1!"`),
			"Patient.id", "value", "'p 1!' is not a valid id"},
		{"id too long", "", edit(t, validPatient, `"id": "p1"`, `"id": "`+strings.Repeat("a", 65)+`"`),
			"Patient.id", "value", "is not a valid id"},
		{"bad id of a type without structure", "Claim", `{"resourceType": "Claim", "id": "a_b"}`,
			"Claim.id", "value", "'a_b' is not a valid id"},
		{"invalid JSON", "", `{"resourceType": "Patient", "active": tru}`,
			"", "structure", "invalid JSON at byte offset 41: invalid character '}' in literal true (expecting 'e')"},
		{"truncated JSON", "", validPatient[:60],
			"", "structure", "invalid JSON at byte offset 60: unexpected end of JSON input"},
		{"trailing data", "", validPatient + "}",
			"", "structure", "invalid JSON at byte offset"},
		{"trailing comma", "", `{"resourceType": "Patient",}`,
			"", "structure", "invalid JSON at byte offset"},
		{"empty input", "", ``,
			"", "structure", "invalid JSON at byte offset 0"},
		{"not an object", "", `[{"resourceType": "Patient"}]`,
			"", "structure", "a resource must be a JSON object"},
		{"resourceType mismatch", "Patient", validObservation,
			"resourceType", "invalid", `resourceType "Observation" does not match the type "Patient" of the request`},
		{"resourceType missing", "", `{"id": "x"}`,
			"resourceType", "required", "resourceType is required"},
		{"unknown resourceType", "", `{"resourceType": "Patients"}`,
			"resourceType", "not-supported", `resourceType "Patients" is not an R4 resource type`},
		{"unknown request type", "Foo", `{"resourceType": "Foo"}`,
			"resourceType", "not-supported", `"Foo" is not an R4 resource type`},
		{"extension without url", "", edit(t, validPatient, `{"url": "ombCategory", `, `{`),
			"Patient.extension[0].extension[0].url", "required", "Patient.extension[0].extension[0].url is required"},
		{"extension with value and extensions", "", edit(t, validPatient, `"extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", `,
			`"extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "valueString": "x", `),
			"Patient.extension[0]", "invariant", "ext-1"},
		{"extension with two values", "", edit(t, validPatient, `"valueString": "White"`, `"valueString": "White", "valueCode": "W"`),
			"Patient.extension[0].extension[1].valueCode", "structure", "has more than one value"},
		{"contained resource with an error", "", edit(t, validObservation, `"id": "obs-1",`,
			`"id": "obs-1", "contained": [{"resourceType": "Observation", "code": {"text": "x"}}],`),
			"Observation.contained[0].status", "required", "Observation.contained[0].status is required"},
		{"contained resource without resourceType", "", edit(t, validObservation, `"id": "obs-1",`,
			`"id": "obs-1", "contained": [{"id": "x"}],`),
			"Observation.contained[0]", "required", "Observation.contained[0].resourceType is required"},
		{"nested contained resources", "", edit(t, validObservation, `"id": "obs-1",`,
			`"id": "obs-1", "contained": [{"resourceType": "Patient", "contained": [{"resourceType": "Patient"}]}],`),
			"Observation.contained[0].contained", "invariant", "dom-2"},
		{"bundle entry with an error", "", `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "gender": "m"}}]}`,
			"Bundle.entry[0].resource.gender", "code-invalid", "'m' is not a valid code"},
		{"bundle entry of an unknown type", "", `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Nope"}}]}`,
			"Bundle.entry[0].resource", "not-supported", `resourceType "Nope" is not an R4 resource type`},
		{"bundle outcome of the wrong type", "", `{"resourceType": "Bundle", "type": "batch-response", "entry": [{"response": {"status": "200", "outcome": {"resourceType": "Patient"}}}]}`,
			"Bundle.entry[0].response.outcome", "invalid", "must be a resource of type OperationOutcome, not Patient"},
		{"bundle with a bad type", "", `{"resourceType": "Bundle", "type": "batchy"}`,
			"Bundle.type", "code-invalid", "expected one of document, message, transaction"},
		{"bad underscore property", "", edit(t, validPatient, `"gender": "male",`, `"gender": "male", "_name": {"id": "x"},`),
			"Patient._name", "structure", "unknown element '_name' at Patient"},
		{"underscore property not an object", "", edit(t, validPatient, `"gender": "male",`, `"gender": "male", "_gender": "x",`),
			"Patient.gender", "structure", "must be an object with id and extension"},
		{"null value", "", edit(t, validPatient, `"gender": "male"`, `"gender": null`),
			"Patient.gender", "structure", "Patient.gender must not be null"},
		{"null in an array of objects", "", edit(t, validObservation, `"category": [`, `"category": [null, `),
			"Observation.category[0]", "structure", "must not be null"},
		{"empty object", "", edit(t, validObservation, `"subject": {"reference": "Patient/p1"}`, `"subject": {}`),
			"Observation.subject", "invariant", "must not be an empty object (ele-1)"},
		{"resource in a primitive", "", edit(t, validPatient, `"active": true`, `"active": [true, "x"]`),
			"Patient.active", "structure", "must not be an array"},
		{"resourceType in a datatype", "", edit(t, validObservation, `"unit": "cm"`, `"unit": "cm", "resourceType": "Quantity"`),
			"Observation.valueQuantity.resourceType", "structure", "unknown element 'resourceType'"},
		{"invalid UTF-8", "", edit(t, validObservation, `"text": "Body Height"`, "\"text\": \"Body \xff\""),
			"Observation.code.text", "value", "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issues := Resource(tc.url, []byte(tc.doc))
			if !HasErrors(issues) {
				t.Errorf("HasErrors is false for %s", formatIssues(issues))
			}
			for _, is := range issues {
				if is.Expression == tc.expression && is.Code == tc.code && strings.Contains(is.Message, tc.message) {
					if is.Severity != "error" {
						t.Errorf("severity %q, want error", is.Severity)
					}
					return
				}
			}
			t.Errorf("want issue %s %q containing %q; got %s", tc.code, tc.expression, tc.message, formatIssues(issues))
		})
	}
}

func TestEmptyArray(t *testing.T) {
	doc := edit(t, validObservation, `"status": "final",`, `"status": "final", "performer": [],`)
	issues := Resource("Observation", []byte(doc))
	if len(issues) != 1 || issues[0].Expression != "Observation.performer" || issues[0].Code != "structure" {
		t.Errorf("got %s", formatIssues(issues))
	}
}

func TestAllIssuesSorted(t *testing.T) {
	doc := `{"resourceType": "Observation", "foo": 1, "code": {"text": "x"}, "valueString": "a", "valueBoolean": true,
		"effectiveDateTime": "yesterday", "category": {"text": "c"}}`
	issues := Resource("Observation", []byte(doc))
	want := []string{"Observation.status", "Observation.foo", "Observation.valueBoolean", "Observation.effectiveDateTime", "Observation.category"}
	var got []string
	for _, is := range issues {
		got = append(got, is.Expression)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %s, want expressions %v", formatIssues(issues), want)
	}
}

func TestMaxIssues(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType": "Patient"`)
	for i := range 500 {
		fmt.Fprintf(&b, `, "x%d": 1`, i)
	}
	b.WriteString("}")
	issues := Resource("", []byte(b.String()))
	if len(issues) != MaxIssues || issues[0].Expression != "Patient.x0" {
		t.Errorf("got %d issues, first %+v", len(issues), issues[0])
	}
}

func TestDeepNesting(t *testing.T) {
	doc := `{"resourceType": "Patient", "x": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}"
	issues := Resource("", []byte(doc))
	if len(issues) != 1 || !strings.Contains(issues[0].Message, "invalid JSON") {
		t.Errorf("got %s", formatIssues(issues))
	}
}

func formatIssues(issues []Issue) string {
	if len(issues) == 0 {
		return "no issues"
	}
	var b strings.Builder
	for _, is := range issues {
		fmt.Fprintf(&b, "\n\t%s %s %q: %s", is.Severity, is.Code, is.Expression, is.Message)
	}
	return b.String()
}
