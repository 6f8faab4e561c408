package interpret

import (
	"testing"
	"time"
)

// syntheaPotassium is a laboratory Observation as the Synthea fixtures write it.
var syntheaPotassium = []byte(`{"resourceType":"Observation","id":"b5c6a0bd-5b4a-4c52-9c42-6f3f4b3a1c11","status":"final",
"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"laboratory"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"6298-4","display":"Potassium"}],"text":"Potassium"},
"subject":{"reference":"urn:uuid:8b0484cd-3dbd-4e4a-8c2f-6cd3f1d2b6a9"},"encounter":{"reference":"urn:uuid:2c0f1f0e-1d4f-4b3b-9b7c-0d1e2f3a4b5c"},
"effectiveDateTime":"2016-04-18T10:21:48-04:00","issued":"2016-04-18T10:21:48.412-04:00",
"valueQuantity":{"value":5.1,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`)

// BenchmarkObservation measures one table-based interpretation of a typical
// laboratory Observation, the common case for the journey module.
func BenchmarkObservation(b *testing.B) {
	p := Patient{Gender: "female", BirthDate: time.Date(1965, 5, 3, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		r, err := Observation(syntheaPotassium, p, time.Time{})
		if err != nil || r.Level != Abnormal {
			b.Fatalf("%+v %v", r, err)
		}
	}
}

// BenchmarkObservationFlagged measures an Observation the sender flagged.
func BenchmarkObservationFlagged(b *testing.B) {
	raw := obs("2823-3", 6.8, "mmol/L", interp(v3, "HH"))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Observation(raw, adultMan, at)
		if err != nil || r.Level != Critical {
			b.Fatalf("%+v %v", r, err)
		}
	}
}
