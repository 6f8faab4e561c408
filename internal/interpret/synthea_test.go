package interpret

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

// fixtureLabCodes are the LOINC codes of the laboratory Observations with a
// valueQuantity in the Synthea fixtures (category "laboratory"); careloop's
// table must cover every one.
var fixtureLabCodes = []string{
	"10834-0", "1742-6", "1751-7", "17861-6", "18262-6", "1920-8", "2028-9", "20565-8",
	"20570-8", "2069-3", "2075-0", "2085-9", "2093-3", "21000-5", "2160-0", "2339-0",
	"2345-7", "2571-8", "26453-1", "26464-8", "26515-7", "2823-3", "2885-2", "2947-0",
	"2951-2", "30385-9", "30428-7", "3094-0", "32207-3", "32623-1", "33037-3", "33914-3",
	"38483-4", "42719-5", "4544-3", "4548-4", "49765-1", "57905-2", "6075-6", "6082-2",
	"6085-5", "6095-4", "6106-9", "6158-0", "6189-5", "6206-7", "6246-3", "6248-9",
	"6273-7", "6276-0", "6298-4", "6299-2", "6690-2", "6768-6", "6833-8", "6844-5",
	"718-7", "7258-7", "777-3", "785-6", "786-4", "787-2", "789-8",
}

// fixtureObservation is one Observation of the fixtures with its patient.
type fixtureObservation struct {
	raw      json.RawMessage
	patient  Patient
	code     string // first coding's code
	category string // first category's code
	hasQty   bool
}

func syntheaObservations(t *testing.T) []fixtureObservation {
	t.Helper()
	var out []fixtureObservation
	for _, f := range fhirtest.SyntheaFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		type head struct {
			ResourceType string `json:"resourceType"`
			Gender       string `json:"gender"`
			BirthDate    string `json:"birthDate"`
			Code         struct {
				Coding []struct{ System, Code string } `json:"coding"`
			} `json:"code"`
			Category []struct {
				Coding []struct{ Code string } `json:"coding"`
			} `json:"category"`
			ValueQuantity *json.RawMessage `json:"valueQuantity"`
		}
		var p Patient
		var obs []fixtureObservation
		for _, e := range bundle.Entry {
			var kind struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(e.Resource, &kind); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if kind.ResourceType != "Patient" && kind.ResourceType != "Observation" {
				continue
			}
			var h head
			if err := json.Unmarshal(e.Resource, &h); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch h.ResourceType {
			case "Patient":
				p.Gender = h.Gender
				if p.BirthDate, err = time.Parse("2006-01-02", h.BirthDate); err != nil {
					t.Fatalf("%s: birthDate: %v", f, err)
				}
			case "Observation":
				o := fixtureObservation{raw: e.Resource, hasQty: h.ValueQuantity != nil}
				if len(h.Code.Coding) > 0 && h.Code.Coding[0].System == "http://loinc.org" {
					o.code = h.Code.Coding[0].Code
				}
				if len(h.Category) > 0 && len(h.Category[0].Coding) > 0 {
					o.category = h.Category[0].Coding[0].Code
				}
				obs = append(obs, o)
			}
		}
		for i := range obs {
			obs[i].patient = p
		}
		out = append(out, obs...)
	}
	return out
}

// TestSyntheaCoverage checks that the table covers every laboratory code the
// fixtures use with a quantity, and that the list above is exactly that set.
func TestSyntheaCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range syntheaObservations(t) {
		if o.category == "laboratory" && o.hasQty {
			if o.code == "" {
				t.Fatalf("a laboratory Observation without a LOINC code: %s", o.raw)
			}
			seen[o.code] = true
		}
	}
	var got []string
	for c := range seen {
		got = append(got, c)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fixtureLabCodes))
	if !slices.Equal(got, want) {
		t.Errorf("fixture laboratory codes changed:\n got  %v\n want %v", got, want)
	}
	for _, c := range fixtureLabCodes {
		if !Default().Has(c) {
			t.Errorf("LOINC %s is used by the fixtures but not in the default table", c)
		}
	}
}

// TestSyntheaLevels interprets every Observation of the fixtures. The counts
// were computed once and checked by hand for hemoglobin (718-7: 45 results;
// the 4 taken on a newborn's first days have no row, 6 adult males are below
// 13.5 g/dL, one adult female is above 16.0 g/dL), potassium (6298-4: 30
// adult results, 9 above 4.8 mmol/L) and HbA1c (4548-4: all 30 above 5.7 %).
func TestSyntheaLevels(t *testing.T) {
	type key struct {
		level Level
		dir   string
	}
	labs := map[Level]int{}
	byCode := map[string]map[key]int{}
	total := 0
	for _, o := range syntheaObservations(t) {
		r, err := Observation(o.raw, o.patient, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", o.raw, err)
		}
		total++
		if r.Level != Unknown && (r.Source == "" || r.Reason == "") {
			t.Errorf("decided result without source or reason: %+v", r)
		}
		if r.Reason == "" {
			t.Errorf("result without a reason: %+v for %s", r, o.raw)
		}
		if o.category != "laboratory" {
			if r.Level != Unknown {
				t.Errorf("non-laboratory %s interpreted as %v: %s", o.code, r.Level, r.Reason)
			}
			continue
		}
		labs[r.Level]++
		if byCode[o.code] == nil {
			byCode[o.code] = map[key]int{}
		}
		byCode[o.code][key{r.Level, r.Direction}]++
		if r.Level != Unknown && (r.Source != SourceTable || r.Code != o.code) {
			t.Errorf("laboratory result decided by %q with code %q, want the table and %s", r.Source, r.Code, o.code)
		}
	}
	if total != 2182 {
		t.Errorf("interpreted %d Observations, want 2182", total)
	}
	wantLabs := map[Level]int{Normal: 720, Abnormal: 146, Unknown: 74}
	if !mapsEqual(labs, wantLabs) {
		t.Errorf("laboratory levels = %v, want %v", labs, wantLabs)
	}
	checks := map[string]map[key]int{
		"718-7":   {{Unknown, ""}: 4, {Abnormal, "low"}: 6, {Abnormal, "high"}: 1, {Normal, ""}: 34},
		"6298-4":  {{Abnormal, "high"}: 9, {Normal, ""}: 21},
		"4548-4":  {{Abnormal, "high"}: 30},
		"1742-6":  {{Abnormal, "high"}: 1},
		"6082-2":  {{Normal, ""}: 1},
		"6075-6":  {{Abnormal, "high"}: 1},
		"32207-3": {{Abnormal, "high"}: 30, {Unknown, ""}: 14},
		// 99.27 mg/dL is the highest: below the fasting limit of 100 mg/dL.
		"2339-0": {{Abnormal, "low"}: 3, {Normal, ""}: 27},
	}
	for code, want := range checks {
		if !mapsEqual(byCode[code], want) {
			t.Errorf("LOINC %s: got %v, want %v", code, byCode[code], want)
		}
	}
}

// TestSyntheaReason checks one fixture result's explanation word for word:
// the ALT of a woman born in 1965, measured in 2017.
func TestSyntheaReason(t *testing.T) {
	for _, o := range syntheaObservations(t) {
		if o.code != "1742-6" {
			continue
		}
		r, err := Observation(o.raw, o.patient, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := Result{Level: Abnormal, Direction: "high", Source: SourceTable, Code: "1742-6",
			Reason: "ALT 142.266670665861 IU/L is above the reference range 7–30 IU/L (adult female)."}
		if r != want {
			t.Errorf("got  %+v\nwant %+v", r, want)
		}
		return
	}
	t.Fatal("no ALT result in the fixtures")
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
