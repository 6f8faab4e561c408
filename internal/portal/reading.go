package portal

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/interpret"
)

// loinc is the code system of laboratory tests.
const loinc = "http://loinc.org"

// reading is one laboratory result as the portal shows it, read from an
// Observation.
type reading struct {
	ID      string
	Code    string // LOINC code, "" when the result has none
	Display string // the sender's name of the test
	// Value is the numeric result; HasValue false for a result in words
	// (Text), such as "negative".
	Value    float64
	HasValue bool
	Text     string
	Unit     string
	At       time.Time
	// Low and High are the reference limits the result was judged by:
	// the sender's referenceRange, else careloop's table for the patient.
	Low, High                 *float64
	CriticalLow, CriticalHigh *float64
	Level                     interpret.Level
	Direction                 string // "low", "high" or ""
	Note                      string // the sender's note on the result
}

// observation is the part of an Observation the portal reads.
type observation struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   struct {
		Text   string `json:"text"`
		Coding []struct {
			System  string `json:"system"`
			Code    string `json:"code"`
			Display string `json:"display"`
		} `json:"coding"`
	} `json:"code"`
	EffectiveDateTime string `json:"effectiveDateTime"`
	EffectivePeriod   struct {
		Start string `json:"start"`
	} `json:"effectivePeriod"`
	Issued        string `json:"issued"`
	ValueQuantity *struct {
		Value *float64 `json:"value"`
		Unit  string   `json:"unit"`
		Code  string   `json:"code"`
	} `json:"valueQuantity"`
	ValueString          string `json:"valueString"`
	ValueCodeableConcept *struct {
		Text   string `json:"text"`
		Coding []struct {
			Display string `json:"display"`
		} `json:"coding"`
	} `json:"valueCodeableConcept"`
	ReferenceRange []struct {
		Low  *struct{ Value *float64 } `json:"low"`
		High *struct{ Value *float64 } `json:"high"`
	} `json:"referenceRange"`
	Note []struct {
		Text string `json:"text"`
	} `json:"note"`
}

// readObservation reads an Observation for patient pat, judged at time
// now. It reports false for what is not a result to show (no code, or
// entered in error).
func readObservation(raw []byte, pat interpret.Patient, now time.Time) (reading, bool) {
	var o observation
	if err := json.Unmarshal(raw, &o); err != nil || o.Status == "entered-in-error" || o.Status == "cancelled" {
		return reading{}, false
	}
	rd := reading{ID: o.ID, Display: o.Code.Text}
	for _, c := range o.Code.Coding {
		if c.System == loinc && rd.Code == "" {
			rd.Code = c.Code
		}
		if rd.Display == "" {
			rd.Display = c.Display
		}
	}
	if rd.Code == "" && rd.Display == "" {
		return reading{}, false
	}
	rd.At = firstTime(o.EffectiveDateTime, o.EffectivePeriod.Start, o.Issued)
	switch {
	case o.ValueQuantity != nil && o.ValueQuantity.Value != nil:
		rd.Value, rd.HasValue = *o.ValueQuantity.Value, true
		rd.Unit = o.ValueQuantity.Unit
		if rd.Unit == "" {
			rd.Unit = o.ValueQuantity.Code
		}
	case o.ValueString != "":
		rd.Text = o.ValueString
	case o.ValueCodeableConcept != nil:
		rd.Text = o.ValueCodeableConcept.Text
		if rd.Text == "" && len(o.ValueCodeableConcept.Coding) > 0 {
			rd.Text = o.ValueCodeableConcept.Coding[0].Display
		}
	}
	if len(o.ReferenceRange) > 0 {
		if l := o.ReferenceRange[0].Low; l != nil {
			rd.Low = l.Value
		}
		if h := o.ReferenceRange[0].High; h != nil {
			rd.High = h.Value
		}
	}
	if rd.Code != "" {
		age := -1
		if !pat.BirthDate.IsZero() {
			age = int(now.Sub(pat.BirthDate).Hours() / 24)
		}
		if rg, ok := interpret.Current().Lookup(rd.Code, pat.Gender, age); ok && sameUnit(rg.Unit, rd.Unit) {
			if rd.Low == nil && rd.High == nil {
				rd.Low, rd.High = limit(rg.Low), limit(rg.High)
			}
			rd.CriticalLow, rd.CriticalHigh = limit(rg.CriticalLow), limit(rg.CriticalHigh)
		}
	}
	if res, err := interpret.Observation(raw, pat, now); err == nil {
		rd.Level, rd.Direction = res.Level, res.Direction
	}
	for _, n := range o.Note {
		rd.Note = strings.TrimSpace(rd.Note + " " + n.Text)
	}
	return rd, true
}

func limit(l interpret.Limit) *float64 {
	if !l.Set {
		return nil
	}
	v := l.Value
	return &v
}

// sameUnit reports whether a result's unit is the table's (units are
// compared as written; a result without a unit matches).
func sameUnit(table, result string) bool {
	return result == "" || strings.EqualFold(table, result)
}

// firstTime returns the first of the FHIR dateTimes that parses, in UTC.
func firstTime(values ...string) time.Time {
	for _, v := range values {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Time{}
}

// patientFacts are what interpretation needs of the Patient resource.
func patientFacts(raw []byte) interpret.Patient {
	var p struct {
		Gender    string `json:"gender"`
		BirthDate string `json:"birthDate"`
	}
	_ = json.Unmarshal(raw, &p)
	return interpret.Patient{Gender: p.Gender, BirthDate: firstTime(p.BirthDate)}
}

// report is the part of a DiagnosticReport the portal reads.
type report struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   struct {
		Text   string `json:"text"`
		Coding []struct {
			Display string `json:"display"`
		} `json:"coding"`
	} `json:"code"`
	Conclusion string `json:"conclusion"`
	Result     []struct {
		Reference string `json:"reference"`
	} `json:"result"`
	EffectiveDateTime string `json:"effectiveDateTime"`
	Issued            string `json:"issued"`
}
