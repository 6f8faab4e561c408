package validate

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/spec"
)

// firstOfType returns the first Synthea resource of a type.
func firstOfType(b *testing.B, rt string) []byte {
	_, entries := syntheaBundles(b)
	for _, name := range slices.Sorted(mapKeys(entries)) {
		for _, e := range entries[name] {
			var head struct{ ResourceType string }
			if json.Unmarshal(e.Resource, &head) == nil && head.ResourceType == rt {
				return e.Resource
			}
		}
	}
	b.Fatalf("no %s in the Synthea fixtures", rt)
	return nil
}

func benchResource(b *testing.B, rt string) {
	raw := firstOfType(b, rt)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if issues := Resource(rt, raw); len(issues) > 0 {
			b.Fatal(issues)
		}
	}
}

func BenchmarkObservation(b *testing.B) { benchResource(b, "Observation") }
func BenchmarkPatient(b *testing.B)     { benchResource(b, "Patient") }

// BenchmarkBundleResources validates every resource of one Synthea bundle,
// one call per resource, as an ingest of its entries would.
func BenchmarkBundleResources(b *testing.B) {
	_, entries := syntheaBundles(b)
	name := slices.Sorted(mapKeys(entries))[0]
	var raws [][]byte
	var types []string
	size := 0
	for _, e := range entries[name] {
		var head struct{ ResourceType string }
		if err := json.Unmarshal(e.Resource, &head); err != nil {
			b.Fatal(err)
		}
		raws = append(raws, e.Resource)
		types = append(types, head.ResourceType)
		size += len(e.Resource)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for i, raw := range raws {
			if issues := Resource(types[i], raw); len(issues) > 0 {
				b.Fatal(issues)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(raws)), "ns/resource")
}

// BenchmarkBundle validates one Synthea bundle as a single document.
func BenchmarkBundle(b *testing.B) {
	raws, _ := syntheaBundles(b)
	raw := raws[slices.Sorted(mapKeys(raws))[0]]
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if issues := Resource("Bundle", raw); len(issues) > 0 {
			b.Fatal(issues)
		}
	}
}

// BenchmarkDecodeMap is the reference point: decoding the same Observation
// into map[string]any with encoding/json, without any validation.
func BenchmarkDecodeMap(b *testing.B) {
	raw := firstOfType(b, "Observation")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFastChecks checks the hand-written primitive checks against the
// regexes they stand for.
func TestFastChecks(t *testing.T) {
	samples := []string{"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\fb", "\f", "final", "entered-in-error",
		"abc.DEF-1", strings.Repeat("x", 64), strings.Repeat("x", 65), "a_b", "é", "\xff", "true", "false", "True",
		"http://loinc.org", "urn:uuid:1", "a\nb", "a\rb", "\v", "a\x00b"}
	alphabet := []string{"a", "Z", "0", "9", "-", ".", "_", " ", "\t", "\n", "\r", "\f", "\v", "é", "\xff", "/", ":"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		var b strings.Builder
		n := r.IntN(8)
		if r.IntN(20) == 0 {
			n = 60 + r.IntN(8)
		}
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		samples = append(samples, b.String())
	}
	for name, fast := range fastChecks {
		re := regexp.MustCompile("^(?:" + spec.PrimitiveRegex(name) + ")$")
		for _, s := range samples {
			if got, want := fast([]byte(s)), re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, regex %s says %v", name, s, got, spec.PrimitiveRegex(name), want)
			}
		}
	}
}

func FuzzResource(f *testing.F) {
	f.Add(uint8(0), []byte(validObservation))
	f.Add(uint8(1), []byte(validPatient))
	f.Add(uint8(2), []byte(`{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": `+validObservation+`}]}`))
	f.Add(uint8(3), []byte(`{"resourceType": "Claim", "id": "x", "a": [1, {"b": null}]}`))
	f.Add(uint8(4), []byte(`{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "2", "type": "string"}]}]}`))
	f.Add(uint8(0), []byte(`{"resourceType": "Observation", "status": "final", "code": {"text": "\ud83d\ude00 \u00e9 \\"}, "valueInteger": -0}`))
	f.Add(uint8(1), []byte(`{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"id":"x"}]}],"birthDate":"2020-02-30"}`))
	f.Add(uint8(0), []byte(`[1, 2.5e-3, true, false, null, "x"]`))
	f.Add(uint8(5), []byte(`{"resourceType": "Condition", "subject": {"reference": "x"}, "clinicalStatus": {"coding": [{"system": 1}]}}`))
	f.Add(uint8(2), []byte(`{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "contained": [{"resourceType": "Patient", "id": "p", "contact": [{}]}],
		"subject": {"reference": "#p", "type": "Group"}, "performer": [{"reference": "Practitioner?name=x"}], "valueRange": {"low": {"value": 2}, "high": {"value": 1}},
		"effectivePeriod": {"start": "2024-01-02", "end": "2024-01-01T00:00:00Z"}, "dataAbsentReason": {"text": "x"}}`))
	f.Add(uint8(3), []byte(`{"resourceType": "Bundle", "type": "transaction", "entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Encounter",
		"status": "finished", "class": {"code": "x"}, "subject": {"reference": "urn:uuid:2"}}}, {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Claim"}}]}`))
	f.Add(uint8(6), []byte(`{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group"}, {"linkId": "1", "type": "display", "code": [{"code": "x"}]}]}`))
	types := []string{"", "Patient", "Observation", "Bundle", "Claim", "Condition", "Questionnaire", "Foo"}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		issues := Resource(types[int(which)%len(types)], data)
		if len(issues) > MaxIssues {
			t.Fatalf("%d issues", len(issues))
		}
		syntax := len(issues) == 1 && strings.HasPrefix(issues[0].Message, "invalid JSON")
		for _, is := range issues {
			if is.Severity != "error" || is.Code == "" || is.Message == "" {
				t.Fatalf("malformed issue %+v", is)
			}
		}
		if valid := json.Valid(data); valid == syntax && !(syntax && nesting(data) > maxDepth) {
			t.Fatalf("json.Valid = %v, but syntax issue = %v: %+v", valid, syntax, issues)
		}
	})
}

// nesting returns the deepest nesting of arrays and objects in JSON text.
func nesting(data []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == '[' || c == '{'):
			depth++
			deepest = max(deepest, depth)
		case !inString && (c == ']' || c == '}'):
			depth--
		}
	}
	return deepest
}
