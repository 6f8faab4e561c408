package interpret

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// at is the time every case is interpreted at, unless it says otherwise.
var at = time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)

func born(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

var (
	adultMan   = Patient{Gender: "male", BirthDate: born(1970, 3, 2)}
	adultWoman = Patient{Gender: "female", BirthDate: born(1980, 7, 9)}
	boy8       = Patient{Gender: "male", BirthDate: born(2016, 1, 15)} // 8 years at `at`
	girl3      = Patient{Gender: "female", BirthDate: born(2021, 2, 1)}
	infant     = Patient{Gender: "female", BirthDate: born(2024, 3, 1)} // 2 months
)

// obs builds an Observation with a LOINC code and, unless unit is "-", a
// valueQuantity; extra fields are merged in.
func obs(code string, value float64, unit string, extra map[string]any) []byte {
	o := map[string]any{
		"resourceType": "Observation",
		"status":       "final",
		"code":         map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code}}},
	}
	if unit != "-" {
		o["valueQuantity"] = map[string]any{"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
	}
	for k, v := range extra {
		o[k] = v
	}
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}

func interp(system string, codes ...string) map[string]any {
	var cc []any
	for _, c := range codes {
		cc = append(cc, map[string]any{"coding": []any{map[string]any{"system": system, "code": c}}})
	}
	return map[string]any{"interpretation": cc}
}

const v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

func rng(low, high any, unit string, more map[string]any) map[string]any {
	r := map[string]any{}
	if low != nil {
		r["low"] = map[string]any{"value": low, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
	}
	if high != nil {
		r["high"] = map[string]any{"value": high, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
	}
	for k, v := range more {
		r[k] = v
	}
	return r
}

func ranges(rs ...map[string]any) map[string]any {
	var a []any
	for _, r := range rs {
		a = append(a, r)
	}
	return map[string]any{"referenceRange": a}
}

func typed(code string) map[string]any {
	return map[string]any{"type": map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning", "code": code}}}}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestObservation(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		p       Patient
		zeroAt  bool // interpret with a zero time instead of `at`
		level   Level
		dir     string
		source  string
		code    string
		reason  string // the whole reason, or
		contain string // a part of it
	}{
		// Source 1: the sender's interpretation.
		{name: "v3 HH is critical high", raw: obs("2823-3", 6.0, "mmol/L", interp(v3, "HH")), p: adultMan,
			level: Critical, dir: "high", source: SourceInterpretation, code: "2823-3",
			reason: "Potassium 6 mmol/L is flagged HH (critically high) by the sender."},
		{name: "v3 LL is critical low", raw: obs("2823-3", 3.0, "mmol/L", interp(v3, "LL")), p: adultMan,
			level: Critical, dir: "low", source: SourceInterpretation},
		{name: "AA is critical without direction", raw: obs("2823-3", 3.0, "mmol/L", interp(v3, "AA")), p: adultMan,
			level: Critical, source: SourceInterpretation},
		{name: "H wins over the table's normal", raw: obs("2823-3", 4.0, "mmol/L", interp(v3, "H")), p: adultMan,
			level: Abnormal, dir: "high", source: SourceInterpretation},
		{name: "L", raw: obs("2823-3", 4.0, "mmol/L", interp(v3, "L")), p: adultMan,
			level: Abnormal, dir: "low", source: SourceInterpretation},
		{name: "N wins over the table's critical", raw: obs("2823-3", 7.0, "mmol/L", interp(v3, "N")), p: adultMan,
			level: Normal, source: SourceInterpretation},
		{name: "v2 0078 system", raw: obs("718-7", 5.0, "g/dL", interp("http://terminology.hl7.org/CodeSystem/v2-0078", "LL")), p: adultWoman,
			level: Critical, dir: "low", source: SourceInterpretation},
		{name: "code without system, lower case", raw: obs("718-7", 5.0, "g/dL", interp("", "ll")), p: adultWoman,
			level: Critical, dir: "low", source: SourceInterpretation},
		{name: "most urgent flag wins", raw: obs("2823-3", 6.5, "mmol/L", interp(v3, "H", "HH")), p: adultMan,
			level: Critical, dir: "high", source: SourceInterpretation},
		{name: "opposite flags of equal urgency lose the direction", raw: obs("2823-3", 4, "mmol/L", interp(v3, "H", "L")), p: adultMan,
			level: Abnormal, source: SourceInterpretation},
		{name: "POS is abnormal", raw: obs("57905-2", 10, "ng/mL", interp(v3, "POS")), p: adultMan,
			level: Abnormal, source: SourceInterpretation},
		{name: "NEG is normal", raw: obs("57905-2", 300, "ng/mL", interp(v3, "NEG")), p: adultMan,
			level: Normal, source: SourceInterpretation},
		{name: "DET on a qualitative result without a value", raw: obs("94500-6", 0, "-", merge(interp(v3, "DET"), map[string]any{"valueString": "Detected"})), p: adultMan,
			level: Abnormal, source: SourceInterpretation, code: "94500-6", reason: "The result is flagged DET (detected) by the sender."},
		{name: "text only: critical high", raw: obs("2823-3", 7, "mmol/L", map[string]any{"interpretation": []any{map[string]any{"text": "Critical High"}}}), p: adultMan,
			level: Critical, dir: "high", source: SourceInterpretation, contain: `flagged "Critical High" (critically high)`},
		{name: "off-scale flag decides nothing", raw: obs("2823-3", 7, "mmol/L", interp(v3, ">")), p: adultMan,
			level: Critical, dir: "high", source: SourceTable},
		{name: "foreign system ignored", raw: obs("2823-3", 4, "mmol/L", interp("http://snomed.info/sct", "HH")), p: adultMan,
			level: Normal, source: SourceTable},

		// Source 2: the sender's reference range.
		{name: "range: within", raw: obs("2823-3", 5.0, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil))), p: adultMan,
			level: Normal, source: SourceReferenceRange, code: "2823-3",
			reason: "Potassium 5 mmol/L is within the reference range 3.5–5.1 mmol/L, as sent with the result."},
		{name: "range: high", raw: obs("2823-3", 5.2, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil))), p: adultMan,
			level: Abnormal, dir: "high", source: SourceReferenceRange},
		{name: "range: low", raw: obs("2823-3", 3.4, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil))), p: adultMan,
			level: Abnormal, dir: "low", source: SourceReferenceRange},
		{name: "range: only a high limit", raw: obs("2093-3", 260, "mg/dL", ranges(rng(nil, 200, "mg/dL", nil))), p: adultMan,
			level: Abnormal, dir: "high", source: SourceReferenceRange, contain: "above the upper reference limit 200 mg/dL"},
		{name: "range: typed critical", raw: obs("2823-3", 6.6, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil), rng(2.5, 6.5, "mmol/L", typed("critical")))), p: adultMan,
			level: Critical, dir: "high", source: SourceReferenceRange, contain: "above the critical limit 6.5 mmol/L"},
		{name: "range: critical by text", raw: obs("2823-3", 2.4, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil), rng(2.5, 6.5, "mmol/L", map[string]any{"text": "Critical values"}))), p: adultMan,
			level: Critical, dir: "low", source: SourceReferenceRange},
		{name: "range: sender's limits beat the table's", raw: obs("2823-3", 6.3, "mmol/L", ranges(rng(3.5, 5.1, "mmol/L", nil), rng(2.5, 6.5, "mmol/L", typed("critical")))), p: adultMan,
			level: Abnormal, dir: "high", source: SourceReferenceRange},
		{name: "range: only critical limits, within: the table decides", raw: obs("2823-3", 5.0, "mmol/L", ranges(rng(2.5, 6.5, "mmol/L", typed("critical")))), p: adultMan,
			level: Abnormal, dir: "high", source: SourceTable},
		{name: "range: unit differs", raw: obs("2823-3", 5.0, "mmol/L", ranges(rng(13, 20, "mg/dL", nil))), p: adultMan,
			level: Unknown, code: "2823-3", reason: "Potassium is reported in mmol/L but the reference range sent with it is in mg/dL; they are not compared."},
		{name: "range: unit alias", raw: obs("6690-2", 12, "K/uL", ranges(rng(4, 10, "10*3/uL", nil))), p: adultMan,
			level: Abnormal, dir: "high", source: SourceReferenceRange},
		{name: "range: therapeutic type is not a reference interval", raw: obs("2823-3", 4.0, "mmol/L", ranges(rng(4.5, 5.0, "mmol/L", typed("therapeutic")))), p: adultMan,
			level: Normal, source: SourceTable},
		{name: "range: text only is ignored", raw: obs("2823-3", 4.0, "mmol/L", ranges(map[string]any{"text": "3.5 to 5.1"})), p: adultMan,
			level: Normal, source: SourceTable},
		{name: "range: for the other sex is skipped", raw: obs("718-7", 12.5, "g/dL", ranges(
			rng(12, 16, "g/dL", map[string]any{"appliesTo": []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "248152002"}}}}}),
			rng(13.5, 17.5, "g/dL", map[string]any{"appliesTo": []any{map[string]any{"text": "male"}}}))), p: adultMan,
			level: Abnormal, dir: "low", source: SourceReferenceRange, contain: "below the reference range 13.5–17.5 g/dL"},
		{name: "range: by age", raw: obs("718-7", 12.5, "g/dL", ranges(
			rng(11.5, 15.5, "g/dL", map[string]any{"age": map[string]any{"low": map[string]any{"value": 6, "unit": "a"}, "high": map[string]any{"value": 12, "unit": "a"}}}),
			rng(13.5, 17.5, "g/dL", map[string]any{"age": map[string]any{"low": map[string]any{"value": 18, "unit": "a"}}}))), p: boy8,
			level: Normal, source: SourceReferenceRange, contain: "11.5–15.5"},

		// Source 3: careloop's table.
		{name: "table: critical high (adult)", raw: obs("2823-3", 6.8, "mmol/L", nil), p: adultMan,
			level: Critical, dir: "high", source: SourceTable, code: "2823-3",
			reason: "Potassium 6.8 mmol/L is above the critical limit 6.2 mmol/L (adult)."},
		{name: "table: critical low", raw: obs("6298-4", 2.5, "mmol/L", nil), p: adultWoman,
			level: Critical, dir: "low", source: SourceTable, reason: "Potassium 2.5 mmol/L is below the critical limit 2.8 mmol/L (adult)."},
		{name: "table: abnormal high", raw: obs("2823-3", 5.0, "mmol/L", nil), p: adultMan,
			level: Abnormal, dir: "high", source: SourceTable, reason: "Potassium 5 mmol/L is above the reference range 3.4–4.8 mmol/L (adult)."},
		{name: "table: abnormal low", raw: obs("2823-3", 3.0, "mmol/L", nil), p: adultMan,
			level: Abnormal, dir: "low", source: SourceTable},
		{name: "table: normal", raw: obs("2823-3", 4.0, "mmol/L", nil), p: adultMan,
			level: Normal, source: SourceTable, reason: "Potassium 4 mmol/L is within the reference range 3.4–4.8 mmol/L (adult)."},
		{name: "table: limit itself is within", raw: obs("2823-3", 4.8, "mmol/L", nil), p: adultMan,
			level: Normal, source: SourceTable},
		{name: "table: critical limit itself is not critical", raw: obs("2823-3", 6.2, "mmol/L", nil), p: adultMan,
			level: Abnormal, dir: "high", source: SourceTable},
		{name: "table: man's hemoglobin low", raw: obs("718-7", 12.5, "g/dL", nil), p: adultMan,
			level: Abnormal, dir: "low", source: SourceTable, reason: "Hemoglobin 12.5 g/dL is below the reference range 13.5–17.5 g/dL (adult male)."},
		{name: "table: same hemoglobin normal for a woman", raw: obs("718-7", 12.5, "g/dL", nil), p: adultWoman,
			level: Normal, source: SourceTable, contain: "(adult female)"},
		{name: "table: child band low", raw: obs("718-7", 11.0, "g/dL", nil), p: boy8,
			level: Abnormal, dir: "low", source: SourceTable, reason: "Hemoglobin 11 g/dL is below the lower reference limit 11.5 g/dL (6–12 years)."},
		{name: "table: child band normal", raw: obs("718-7", 12.0, "g/dL", nil), p: boy8,
			level: Normal, source: SourceTable, reason: "Hemoglobin 12 g/dL is not below the lower reference limit 11.5 g/dL (6–12 years)."},
		{name: "table: child critical limits differ", raw: obs("718-7", 20.5, "g/dL", nil), p: boy8,
			level: Normal, source: SourceTable},
		{name: "table: adult critical", raw: obs("718-7", 20.5, "g/dL", nil), p: adultMan,
			level: Critical, dir: "high", source: SourceTable},
		{name: "table: WBC 16 is normal at 3", raw: obs("6690-2", 16, "10*3/uL", nil), p: girl3,
			level: Normal, source: SourceTable, contain: "(2–4 years)"},
		{name: "table: WBC 16 is high for an adult", raw: obs("6690-2", 16, "10*3/uL", nil), p: adultWoman,
			level: Abnormal, dir: "high", source: SourceTable},
		{name: "table: child row with critical limits only", raw: obs("2823-3", 6.3, "mmol/L", nil), p: boy8,
			level: Unknown, code: "2823-3", reason: "Potassium 6.3 mmol/L is within the critical limits 2.8–6.4 (1–18 years); careloop's table has no reference range for this age."},
		{name: "table: child critical", raw: obs("2823-3", 6.5, "mmol/L", nil), p: boy8,
			level: Critical, dir: "high", source: SourceTable, contain: "(1–18 years)"},
		{name: "table: no band for an infant", raw: obs("718-7", 11, "g/dL", nil), p: infant,
			level: Unknown, code: "718-7", reason: "careloop's table has no reference range for Hemoglobin (LOINC 718-7) for this patient (female, age 2 months)."},
		{name: "table: unknown sex uses the envelope", raw: obs("1742-6", 40, "U/L", nil), p: Patient{BirthDate: born(1970, 1, 1)},
			level: Normal, source: SourceTable, reason: "ALT 40 U/L is within the reference range 7–55 U/L (adult, either sex)."},
		{name: "table: unknown sex, abnormal for both", raw: obs("1742-6", 60, "U/L", nil), p: Patient{Gender: "other", BirthDate: born(1970, 1, 1)},
			level: Abnormal, dir: "high", source: SourceTable, contain: "(adult, either sex)"},
		{name: "table: unknown age uses the envelope", raw: obs("718-7", 5.0, "g/dL", nil), p: Patient{Gender: "male"},
			level: Critical, dir: "low", source: SourceTable, contain: "below the critical limit 6.6 g/dL (age unknown, male)"},
		{name: "table: unknown age, not beyond every band", raw: obs("718-7", 12.5, "g/dL", nil), p: Patient{Gender: "male"},
			level: Normal, source: SourceTable},

		{name: "table: guideline cut-off is abnormal at the limit", raw: obs("4548-4", 5.7, "%", nil), p: adultWoman,
			level: Abnormal, dir: "high", source: SourceTable, reason: "Hemoglobin A1c 5.7 % is at the upper reference limit 5.7 % (adult)."},
		{name: "table: guideline cut-off, just below", raw: obs("4548-4", 5.6, "%", nil), p: adultWoman,
			level: Normal, source: SourceTable, reason: "Hemoglobin A1c 5.6 % is below the upper reference limit 5.7 % (adult)."},
		{name: "table: fasting glucose at 100", raw: obs("2345-7", 100, "mg/dL", nil), p: adultWoman,
			level: Abnormal, dir: "high", source: SourceTable, reason: "Glucose 100 mg/dL is at the upper limit of the reference range 70 to below 100 mg/dL (adult)."},
		{name: "table: fasting glucose at 70", raw: obs("2345-7", 70, "mg/dL", nil), p: adultWoman,
			level: Normal, source: SourceTable, reason: "Glucose 70 mg/dL is within the reference range 70 to below 100 mg/dL (adult)."},
		{name: "table: comparator against a guideline cut-off", raw: obs("4548-4", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 5.7, "comparator": "<", "unit": "%"}}), p: adultWoman,
			level: Normal, source: SourceTable, reason: "Hemoglobin A1c < 5.7 % is below the upper reference limit 5.7 % (adult)."},

		// Units.
		{name: "unit mismatch", raw: obs("2823-3", 25, "mg/dL", nil), p: adultMan,
			level: Unknown, code: "2823-3", reason: "Potassium is reported in mg/dL but careloop's table has it in mmol/L; they are not compared."},
		{name: "unit missing", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":9}}`), p: adultMan,
			level: Unknown, contain: "reported in no unit"},
		{name: "unit alias K/uL", raw: obs("26464-8", 11.07, "K/uL", nil), p: adultWoman,
			level: Abnormal, dir: "high", source: SourceTable, reason: "White blood cells 11.07 K/uL is above the reference range 4.5–11 K/uL (adult)."},
		{name: "unit alias 10*9/L", raw: obs("6690-2", 7, "10*9/L", nil), p: adultWoman,
			level: Normal, source: SourceTable},
		{name: "per-test equivalent mEq/L", raw: obs("2951-2", 119, "mEq/L", nil), p: adultWoman,
			level: Critical, dir: "low", source: SourceTable},
		{name: "mEq/L is not mg/dL-equivalent for calcium", raw: obs("17861-6", 4.5, "mEq/L", nil), p: adultWoman,
			level: Unknown},
		{name: "unit text only, different case", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"valueQuantity":{"value":500,"unit":"mg/dl"}}`), p: adultWoman,
			level: Critical, dir: "high", source: SourceTable},
		{name: "unit code of another system is not used", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"valueQuantity":{"value":500,"system":"http://example.org/units","code":"mg/dL"}}`), p: adultWoman,
			level: Unknown, contain: "reported in no unit"},
		{name: "dimensionless without unit", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"6301-6"}]},"valueQuantity":{"value":6.1}}`), p: adultWoman,
			level: Critical, dir: "high", source: SourceTable, reason: "INR 6.1 is above the critical limit 5 (all ages)."},
		{name: "urine pH", raw: obs("5803-2", 9, "[pH]", nil), p: girl3,
			level: Abnormal, dir: "high", source: SourceTable},

		// Values.
		{name: "missing value", raw: obs("2823-3", 0, "-", nil), p: adultMan,
			level: Unknown, code: "2823-3", reason: "Potassium has no value."},
		{name: "data absent", raw: obs("2823-3", 0, "-", map[string]any{"dataAbsentReason": map[string]any{"text": "Specimen haemolysed"}}), p: adultMan,
			level: Unknown, reason: "Potassium has no value (Specimen haemolysed)."},
		{name: "value string positive without flag", raw: obs("94500-6", 0, "-", map[string]any{"valueString": "positive"}), p: adultMan,
			level: Unknown, reason: "The result has no numeric value (valueString) and no interpretation flag from the sender."},
		{name: "value not a number", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":"4.1","unit":"mmol/L"}}`), p: adultMan,
			level: Unknown, reason: "Potassium has no numeric value."},
		{name: "comparator < all normal", raw: obs("67151-1", 3, "ng/L", map[string]any{"valueQuantity": map[string]any{"value": 3, "comparator": "<", "unit": "ng/L"}}), p: adultMan,
			level: Normal, source: SourceTable, reason: "Troponin T (high sensitivity) < 3 ng/L is not above the upper reference limit 14 ng/L (adult)."},
		{name: "comparator > beyond critical", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 600, "comparator": ">", "unit": "mg/dL"}}), p: adultMan,
			level: Critical, dir: "high", source: SourceTable},
		{name: "comparator < straddles limits", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 100, "comparator": "<", "unit": "mg/dL"}}), p: adultMan,
			level: Unknown, contain: "may lie on either side"},
		{name: "comparator < at the lower limit", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 70, "comparator": "<", "unit": "mg/dL"}}), p: adultMan,
			level: Unknown, contain: "may lie on either side"},
		{name: "comparator < at the critical limit", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 46, "comparator": "<", "unit": "mg/dL"}}), p: adultMan,
			level: Critical, dir: "low", source: SourceTable},
		{name: "comparator <= at the critical limit includes it", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 46, "comparator": "<=", "unit": "mg/dL"}}), p: adultMan,
			level: Unknown, contain: "may lie on either side"},
		{name: "comparator >= beyond the critical limit", raw: obs("2345-7", 0, "-", map[string]any{"valueQuantity": map[string]any{"value": 485, "comparator": ">=", "unit": "mg/dL"}}), p: adultMan,
			level: Critical, dir: "high", source: SourceTable},
		{name: "valueInteger", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"6301-6"}]},"valueInteger":7}`), p: adultMan,
			level: Critical, dir: "high", source: SourceTable},

		// Codes.
		{name: "unknown code", raw: obs("99999-9", 1, "mg/dL", nil), p: adultMan,
			level: Unknown, code: "99999-9", reason: "The result has no reference range or flag from the sender, and LOINC 99999-9 is not in careloop's table."},
		{name: "second LOINC coding is used", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"99999-9"},{"system":"http://loinc.org","code":"2951-2"}]},"valueQuantity":{"value":150,"unit":"mmol/L"}}`), p: adultMan,
			level: Abnormal, dir: "high", source: SourceTable, code: "2951-2"},
		{name: "no LOINC code", raw: []byte(`{"resourceType":"Observation","code":{"text":"Local sodium","coding":[{"system":"http://example.org","code":"NA"}]},"valueQuantity":{"value":150,"unit":"mmol/L"}}`), p: adultMan,
			level: Unknown, reason: "Local sodium has no LOINC code and no reference range or flag from the sender."},

		// Age.
		{name: "age at the effective time when at is zero", raw: obs("718-7", 11.0, "g/dL", map[string]any{"effectiveDateTime": "2024-03-02T10:00:00Z"}), p: infant, zeroAt: true,
			level: Unknown, contain: "age 1 day"},
		{name: "age from effectivePeriod", raw: obs("718-7", 11.0, "g/dL", map[string]any{"effectivePeriod": map[string]any{"start": "2032-01-01"}}), p: infant, zeroAt: true,
			level: Abnormal, dir: "low", source: SourceTable, contain: "(6–12 years)"},
		{name: "no time at all: age unknown", raw: obs("718-7", 11.0, "g/dL", nil), p: infant, zeroAt: true,
			level: Normal, source: SourceTable, contain: "(age unknown, female)"},
		{name: "18th birthday is adult", raw: obs("2823-3", 6.3, "mmol/L", nil), p: Patient{Gender: "male", BirthDate: born(2006, 5, 1)},
			level: Critical, dir: "high", source: SourceTable, contain: "(adult)"},

		// Components and panels.
		{name: "blood pressure components are unknown", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"component":[
			{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"valueQuantity":{"value":190,"unit":"mm[Hg]"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}]},"valueQuantity":{"value":100,"unit":"mm[Hg]"}}]}`), p: adultMan,
			level: Unknown, reason: "No component could be interpreted. Systolic blood pressure has no reference range or flag from the sender, and LOINC 8480-6 is not in careloop's table."},
		{name: "lab components: the most urgent wins", raw: []byte(`{"resourceType":"Observation","code":{"text":"Electrolytes"},"component":[
			{"code":{"coding":[{"system":"http://loinc.org","code":"2951-2"}]},"valueQuantity":{"value":140,"unit":"mmol/L"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":5.5,"unit":"mmol/L"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"2075-0"}]},"valueQuantity":{"value":98,"unit":"mmol/L"}}]}`), p: adultMan,
			level: Abnormal, source: SourceTable, code: "2823-3",
			reason: "Potassium 5.5 mmol/L is above the reference range 3.4–4.8 mmol/L (adult). Chloride 98 mmol/L is below the reference range 100–108 mmol/L (adult)."},
		{name: "component flag", raw: []byte(`{"resourceType":"Observation","code":{"text":"Panel"},"component":[
			{"code":{"coding":[{"system":"http://loinc.org","code":"2951-2"}]},"valueQuantity":{"value":140,"unit":"mmol/L"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":4,"unit":"mmol/L"},"interpretation":[{"coding":[{"code":"LL"}]}]}]}`), p: adultMan,
			level: Critical, dir: "low", source: SourceInterpretation, code: "2823-3"},
		{name: "panel", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"24323-8"}]},"hasMember":[{"reference":"Observation/1"}]}`), p: adultMan,
			level: Unknown, code: "24323-8", reason: "This is a panel without a value of its own; its member results are interpreted one by one."},
		{name: "panel flagged by the sender", raw: []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"24323-8"}]},"hasMember":[{"reference":"Observation/1"}],"interpretation":[{"coding":[{"code":"A"}]}]}`), p: adultMan,
			level: Abnormal, source: SourceInterpretation, code: "24323-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			when := at
			if tc.zeroAt {
				when = time.Time{}
			}
			r, err := Observation(tc.raw, tc.p, when)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if r.Level != tc.level || r.Direction != tc.dir || r.Source != tc.source {
				t.Errorf("got %v/%q/%q, want %v/%q/%q (reason %q)", r.Level, r.Direction, r.Source, tc.level, tc.dir, tc.source, r.Reason)
			}
			if tc.code != "" && r.Code != tc.code {
				t.Errorf("code = %q, want %q", r.Code, tc.code)
			}
			if tc.reason != "" && r.Reason != tc.reason {
				t.Errorf("reason\n got  %q\n want %q", r.Reason, tc.reason)
			}
			if tc.contain != "" && !strings.Contains(r.Reason, tc.contain) {
				t.Errorf("reason %q does not contain %q", r.Reason, tc.contain)
			}
			if r.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestObservationErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"not JSON":        `{"resourceType":`,
		"empty":           ``,
		"array":           `[{"resourceType":"Observation"}]`,
		"string":          `"Observation"`,
		"another type":    `{"resourceType":"Patient","gender":"male"}`,
		"trailing data":   `{"resourceType":"Observation"} {}`,
		"resourceType 42": `{"resourceType":42}`,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Observation([]byte(raw), adultMan, at)
			if err == nil {
				t.Fatalf("no error, result %+v", r)
			}
			if errs.CodeOf(err) != errs.Invalid {
				t.Errorf("code %q, want invalid: %v", errs.CodeOf(err), err)
			}
			if r != (Result{}) {
				t.Errorf("result %+v alongside an error", r)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	for l, want := range map[Level]string{Unknown: "unknown", Normal: "normal", Abnormal: "abnormal", Critical: "critical", Level(7): "Level(7)"} {
		if l.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(l), l.String(), want)
		}
	}
	b, err := json.Marshal(struct{ L Level }{Critical})
	if err != nil || string(b) != `{"L":"critical"}` {
		t.Errorf("marshal = %s, %v", b, err)
	}
	var v struct{ L Level }
	if err := json.Unmarshal([]byte(`{"L":"abnormal"}`), &v); err != nil || v.L != Abnormal {
		t.Errorf("unmarshal = %v, %v", v.L, err)
	}
	if err := json.Unmarshal([]byte(`{"L":"bad"}`), &v); err == nil {
		t.Error("unmarshal of an unknown level succeeded")
	}
	if _, err := json.Marshal(struct{ L Level }{Level(9)}); err == nil {
		t.Error("marshal of an invalid level succeeded")
	}
}

// TestUse replaces the package's table and restores the default.
func TestUse(t *testing.T) {
	custom, err := Load(strings.NewReader("code,name,sex,age_from,age_to,unit,also_units,low,high,critical_low,critical_high,source\n" +
		"2823-3,K+,any,,,mmol/L,,3.5,5.3,2.5,6.5,Our laboratory 2024\n"))
	if err != nil {
		t.Fatal(err)
	}
	raw := obs("2823-3", 5.0, "mmol/L", nil)
	Use(custom)
	t.Cleanup(func() { Use(nil) })
	if Current() != custom {
		t.Fatal("Current is not the table given to Use")
	}
	r, err := Observation(raw, adultMan, at)
	if err != nil || r.Level != Normal || r.Reason != "K+ 5 mmol/L is within the reference range 3.5–5.3 mmol/L (all ages)." {
		t.Errorf("with the custom table: %+v, %v", r, err)
	}
	Use(nil)
	if Current() != Default() {
		t.Fatal("Use(nil) did not restore the default table")
	}
	if r, _ := Observation(raw, adultMan, at); r.Level != Abnormal {
		t.Errorf("with the default table: %+v", r)
	}
}
