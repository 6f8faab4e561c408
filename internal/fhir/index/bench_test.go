package index

import (
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// benchObservation returns a Synthea Observation with a valueQuantity, or
// a hand-written one when the fixtures are absent.
func benchObservation(b *testing.B) map[string]any {
	rs := fhirtest.SyntheaResources(b)
	for _, r := range rs {
		if _, ok := r["valueQuantity"]; ok && r["resourceType"] == "Observation" {
			return r
		}
	}
	return decode(b, `{"resourceType":"Observation","id":"o1","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"8302-2","display":"Body Height"}],"text":"Body Height"},
		"subject":{"reference":"urn:uuid:018f428e-34f6-4707-8009-5ad742f901e7"},"encounter":{"reference":"urn:uuid:a87b575f-a10e-4079-9e9e-e378729e422d"},
		"effectiveDateTime":"2011-10-14T23:37:54+00:00","issued":"2011-10-14T23:37:54.530+00:00",
		"valueQuantity":{"value":176.35499866729558,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"},
		"meta":{"tag":[{"system":"https://smarthealthit.org/tags","code":"synthea-5-2019"}]}}`)
}

func BenchmarkEvalExtract(b *testing.B) {
	obs := benchObservation(b)
	for _, tt := range []struct{ name, paramType, expr string }{
		{"code", "token", "Observation.code"},
		{"subject", "reference", "Observation.subject"},
		{"date", "date", "(Observation.effective as dateTime) | (Observation.effective as Period)"},
		{"value-quantity", "quantity", "(Observation.value as Quantity) | (Observation.value as SampledData)"},
	} {
		e := fhirpath.MustCompile(tt.expr)
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Extract(tt.paramType, e.Eval(obs))
			}
		})
	}
}

// observationParams are the R4 search parameters of Observation that
// have index tables (composites and specials left out).
var observationParams = []struct{ paramType, expr string }{
	{"token", "Observation.code"},
	{"token", "Observation.category"},
	{"token", "Observation.code | Observation.component.code"},
	{"token", "Observation.component.code"},
	{"token", "(Observation.value as CodeableConcept)"},
	{"token", "Observation.status"},
	{"token", "Observation.identifier"},
	{"token", "Observation.method"},
	{"token", "Observation.dataAbsentReason"},
	{"token", "Resource.meta.tag"},
	{"date", "(Observation.effective as dateTime) | (Observation.effective as Period)"},
	{"date", "(Observation.value as dateTime) | (Observation.value as Period)"},
	{"reference", "Observation.subject"},
	{"reference", "Observation.subject.where(resolve() is Patient)"},
	{"reference", "Observation.encounter"},
	{"reference", "Observation.performer"},
	{"reference", "Observation.basedOn"},
	{"reference", "Observation.hasMember"},
	{"reference", "Observation.specimen"},
	{"quantity", "(Observation.value as Quantity) | (Observation.value as SampledData)"},
	{"quantity", "Observation.component.value.as(Quantity)"},
	{"string", "(Observation.value as string) | (Observation.value as CodeableConcept).text"},
	{"uri", "Resource.meta.profile"},
}

// BenchmarkIndexObservation indexes one Observation for every parameter
// above: the work per resource of the search index, JSON decoding aside.
func BenchmarkIndexObservation(b *testing.B) {
	obs := benchObservation(b)
	exprs := make([]*fhirpath.Expr, len(observationParams))
	for i, p := range observationParams {
		exprs[i] = fhirpath.MustCompile(p.expr)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range observationParams {
			Extract(p.paramType, exprs[i].Eval(obs))
		}
	}
}

func BenchmarkParseDate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDate("2011-10-14T23:37:54.530+00:00"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NormalizeString("Dr. Anna-Lena Müller-Lüdenscheidt")
	}
}
