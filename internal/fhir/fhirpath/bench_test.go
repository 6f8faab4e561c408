package fhirpath

import (
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

func BenchmarkCompile(b *testing.B) {
	exprs := []string{
		"Observation.code",
		"Observation.subject.where(resolve() is Patient)",
		"(Observation.effective as dateTime) | (Observation.effective as Period)",
		"Patient.deceased.exists() and Patient.deceased != false",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Compile(exprs[i%len(exprs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheaObservation returns the first Synthea Observation with a
// valueQuantity, or the hand-written one.
func syntheaObservation(b *testing.B) map[string]any {
	rs := fhirtest.SyntheaResources(b)
	for _, r := range rs {
		if _, ok := r["valueQuantity"]; ok && r["resourceType"] == "Observation" {
			return r
		}
	}
	return decode(b, observation)
}

func BenchmarkEval(b *testing.B) {
	obs := syntheaObservation(b)
	for _, expr := range []string{
		"Observation.code",
		"Observation.subject",
		"(Observation.effective as dateTime) | (Observation.effective as Period)",
		"Observation.subject.where(resolve() is Patient)",
		"Observation.value.as(Quantity)",
		"Observation.component.value.as(Quantity)", // absent: a choice miss
		"Observation.code | Observation.component.code",
	} {
		e := MustCompile(expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Eval(obs)
			}
		})
	}
}
