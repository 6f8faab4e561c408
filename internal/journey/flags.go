package journey

import (
	"time"

	"github.com/tidwall/gjson"
)

// SourceInterpreter flags an Observation from what its source sent: the
// v3 ObservationInterpretation codes of Observation.interpretation (HH,
// LL, AA and the panic codes are critical; H, L, A and the other abnormal
// codes abnormal; N normal). It reads no reference ranges of its own:
// careloop's interpretation (internal/interpret) does, and the application
// wires that one. Codes: http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation.
type SourceInterpreter struct{}

var (
	criticalCodes = map[string]bool{"HH": true, "LL": true, "AA": true}
	abnormalCodes = map[string]bool{"H": true, "L": true, "A": true, "HU": true, "LU": true, "POS": true, "DET": true,
		"R": true, "I": true, "W": true, "U": true, "D": true, "B": true}
)

// Observation returns the worst flag among the interpretation codes.
func (SourceInterpreter) Observation(raw []byte, _ Patient, _ time.Time) (Interpretation, error) {
	out := Interpretation{Flag: Unknown}
	gjson.GetBytes(raw, "interpretation").ForEach(func(_, cc gjson.Result) bool {
		cc.Get("coding").ForEach(func(_, c gjson.Result) bool {
			code := c.Get("code").String()
			f := Unknown
			switch {
			case criticalCodes[code]:
				f = Critical
			case abnormalCodes[code]:
				f = Abnormal
			case code == "N" || code == "NEG" || code == "ND":
				f = Normal
			}
			if f > out.Flag {
				out = Interpretation{Flag: f, Reason: "interpretation " + code + " sent by the source"}
			}
			return true
		})
		return true
	})
	return out, nil
}

// patientOf reads a Patient's gender and birth date.
func patientOf(raw []byte) Patient {
	p := Patient{Gender: gjson.GetBytes(raw, "gender").String()}
	// A partial date (year, or year and month) counts from its first day.
	birth := gjson.GetBytes(raw, "birthDate").String()
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, birth); err == nil {
			p.BirthDate = t
			break
		}
	}
	return p
}
