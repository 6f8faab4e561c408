package interpret

import (
	"testing"
	"time"
)

// FuzzObservation feeds arbitrary bytes to Observation: it must never panic,
// and every answer must be an error or a consistent Result.
func FuzzObservation(f *testing.F) {
	seeds := [][]byte{
		obs("2823-3", 6.8, "mmol/L", nil),
		obs("718-7", 11, "g/dL", interp(v3, "LL", "H")),
		obs("2823-3", 5, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil), rng(2.5, 6.5, "mmol/L", typed("critical")))),
		obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 100, "comparator": "<", "unit": "mg/dL"}}),
		[]byte(`{"resourceType":"Observation","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":7,"unit":"mmol/L"}}]}`),
		[]byte(`{"resourceType":"Observation","hasMember":[{}],"effectivePeriod":{"start":"2020"}}`),
		[]byte(`{"referenceRange":[{"low":{"value":1e308},"high":{"value":-1e308}}],"valueQuantity":{"value":1e309}}`),
		[]byte(`{"valueInteger":-9223372036854775808,"code":{"coding":[{"system":"http://loinc.org","code":"6301-6"}]}}`),
		[]byte(`[]`), []byte(`null`), []byte(`{"resourceType":"Observation"`),
	}
	for _, s := range seeds {
		f.Add(s, "male", int64(0))
		f.Add(s, "", int64(-1e10))
	}
	f.Fuzz(func(t *testing.T, raw []byte, gender string, birth int64) {
		p := Patient{Gender: gender}
		if birth != 0 {
			p.BirthDate = time.Unix(birth, 0).UTC()
		}
		for _, when := range []time.Time{{}, at} {
			r, err := Observation(raw, p, when)
			if err != nil {
				if r != (Result{}) {
					t.Fatalf("result %+v alongside error %v", r, err)
				}
				continue
			}
			if r.Level < Unknown || r.Level > Critical {
				t.Fatalf("level %d out of range", r.Level)
			}
			if r.Reason == "" {
				t.Fatalf("no reason: %+v", r)
			}
			if (r.Level == Unknown) != (r.Source == "") {
				t.Fatalf("level %v with source %q", r.Level, r.Source)
			}
			switch r.Direction {
			case "", "low", "high":
			default:
				t.Fatalf("direction %q", r.Direction)
			}
		}
	})
}
