// Package interpret decides whether an Observation's result is normal,
// abnormal or critical, and says why in plain words for staff.
//
// It uses, in this order: the sender's own flags (Observation.interpretation),
// the sender's reference ranges (Observation.referenceRange), and careloop's
// table of reference ranges and critical limits for common LOINC laboratory
// tests by sex and age ([Default]), which a laboratory replaces with its own
// through [Load] and [Use]. It never converts units: a result in a unit other
// than the range's is left Unknown with the reason.
//
// See docs/INTERPRETATION.md for the rules and the sources of the figures.
package interpret

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Level is how far a result is from normal.
type Level int

// The levels, in increasing order of urgency.
const (
	Unknown  Level = iota // no interpretation possible (no value, unknown code, unit mismatch)
	Normal                // within the reference range, or flagged normal by the sender
	Abnormal              // outside the reference range, or flagged abnormal by the sender
	Critical              // beyond a critical limit, or flagged critical by the sender
)

var levelNames = [...]string{"unknown", "normal", "abnormal", "critical"}

// String returns "unknown", "normal", "abnormal" or "critical".
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "Level(" + strconv.Itoa(int(l)) + ")"
	}
	return levelNames[l]
}

// MarshalText encodes the level as its String.
func (l Level) MarshalText() ([]byte, error) {
	if l < 0 || int(l) >= len(levelNames) {
		return nil, fmt.Errorf("interpret: invalid level %d", int(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText decodes a level written by MarshalText.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if string(b) == n {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("interpret: unknown level %q", b)
}

// Patient is what the table needs about the person.
type Patient struct {
	Gender    string    // FHIR administrative gender: "male", "female", "other", "unknown", ""
	BirthDate time.Time // zero when unknown
}

// Result is the interpretation of one Observation.
type Result struct {
	Level     Level
	Direction string // "low", "high" or "" (e.g. positive/abnormal without a direction)
	Source    string // "interpretation", "referenceRange" or "table"; "" when nothing could decide
	Reason    string // plain English for staff
	Code      string // the LOINC code the decision used, if any
}

// The Source values of a Result.
const (
	SourceInterpretation = "interpretation"
	SourceReferenceRange = "referenceRange"
	SourceTable          = "table"
)

// current is the table [Observation] uses.
var current atomic.Pointer[Table]

func init() { current.Store(defaultTable) }

// Use makes t the table that [Observation] uses from now on; nil restores
// [Default]. It is safe to call while other goroutines interpret.
func Use(t *Table) {
	if t == nil {
		t = defaultTable
	}
	current.Store(t)
}

// Current returns the table [Observation] uses.
func Current() *Table { return current.Load() }

// Observation interprets one Observation's JSON with the current table (see
// [Use]); at is the time to compute the age at (the Observation's effective
// time when the caller has it; when at is zero the Observation's own
// effective[x] or issued time is used, and without either the age is
// unknown). It returns an errs.Invalid error when raw is not a JSON object
// or is another resource type; every other problem (no value, unknown code,
// unit mismatch) is a Result with Level Unknown and the reason.
//
// An Observation with components and no value of its own (blood pressure,
// for example) is interpreted per component and gets its most urgent
// component's level, with the reasons of the components at that level. A
// panel (hasMember) without a value of its own is Unknown: its members are
// interpreted on their own.
func Observation(raw []byte, p Patient, at time.Time) (Result, error) {
	return current.Load().Observation(raw, p, at)
}

// Observation interprets one Observation's JSON like the package-level
// [Observation], with t as careloop's table.
func (t *Table) Observation(raw []byte, p Patient, at time.Time) (Result, error) {
	if !gjson.ValidBytes(raw) {
		return Result{}, errs.Invalidf("", "The Observation is not valid JSON.")
	}
	root := gjson.ParseBytes(raw)
	if !root.IsObject() {
		return Result{}, errs.Invalidf("", "The Observation must be a JSON object.")
	}
	var top item
	var components, hasMember, effective, issued gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "resourceType":
			top.resourceType = v
		case "component":
			components = v
		case "hasMember":
			hasMember = v
		case "effectiveDateTime", "effectiveInstant":
			effective = v
		case "effectivePeriod":
			if !effective.Exists() {
				effective = v.Get("start")
			}
		case "issued":
			issued = v
		default:
			top.field(k.Str, v)
		}
		return true
	})
	if rt := top.resourceType; rt.Exists() && rt.String() != "Observation" {
		return Result{}, errs.Invalidf("resourceType", "Expected an Observation, got %.40q.", rt.String())
	}
	if at.IsZero() {
		if at = fhirTime(effective.String()); at.IsZero() {
			at = fhirTime(issued.String())
		}
	}
	who := person{sex: sexOf(p.Gender), gender: p.Gender, age: ageDays(p.BirthDate, at)}

	res := t.interpretItem(&top, who)
	if res.Source != "" || top.hasValue {
		return res, nil
	}
	if components.IsArray() && len(components.Array()) > 0 {
		return t.interpretComponents(components, who), nil
	}
	if hasMember.IsArray() && len(hasMember.Array()) > 0 {
		res.Reason = "This is a panel without a value of its own; its member results are interpreted one by one."
	}
	return res, nil
}

// person is the patient as the interpretation needs them.
type person struct {
	sex    int
	gender string
	age    int // days; -1 when unknown
}

// item is the part of an Observation or of one of its components that
// carries a result.
type item struct {
	resourceType   gjson.Result
	code           gjson.Result
	valueQuantity  gjson.Result
	otherValue     string // the value[x] key when it is not a Quantity
	interpretation gjson.Result
	referenceRange gjson.Result
	dataAbsent     gjson.Result
	hasValue       bool
}

func (it *item) field(k string, v gjson.Result) {
	switch k {
	case "code":
		it.code = v
	case "valueQuantity":
		it.valueQuantity, it.hasValue = v, true
	case "interpretation":
		it.interpretation = v
	case "referenceRange":
		it.referenceRange = v
	case "dataAbsentReason":
		it.dataAbsent = v
	default:
		if strings.HasPrefix(k, "value") {
			it.otherValue, it.hasValue = k, true
			if k == "valueInteger" {
				// An integer is a quantity without a unit.
				it.valueQuantity = v
			}
		}
	}
}

// interpretComponents interprets each component and keeps the most urgent.
func (t *Table) interpretComponents(components gjson.Result, who person) Result {
	var best Result
	var reasons []string
	first := ""
	n := 0
	components.ForEach(func(_, c gjson.Result) bool {
		var it item
		c.ForEach(func(k, v gjson.Result) bool {
			it.field(k.Str, v)
			return true
		})
		r := t.interpretItem(&it, who)
		n++
		if first == "" {
			first = r.Reason
		}
		switch {
		case r.Level > best.Level || n == 1:
			best, reasons = r, append(reasons[:0], r.Reason)
		case r.Level == best.Level && r.Level != Unknown:
			reasons = append(reasons, r.Reason)
			if r.Direction != best.Direction {
				best.Direction = ""
			}
		}
		return true
	})
	if best.Level == Unknown {
		return Result{Reason: "No component could be interpreted. " + first}
	}
	best.Reason = strings.Join(reasons, " ")
	return best
}

// interpretItem applies the three sources in order of precedence.
func (t *Table) interpretItem(it *item, who person) Result {
	codes := loincCodes(it.code)
	name := t.nameOf(it.code, codes)

	q, hasQ := quantityOf(it.valueQuantity)
	if r, ok := fromInterpretation(it.interpretation, name, q, hasQ); ok {
		r.Code = firstOr(codes)
		return r
	}
	if !hasQ {
		return Result{Code: firstOr(codes), Reason: noValueReason(it, name)}
	}
	if r, ok := fromReferenceRange(it.referenceRange, name, q, who); ok {
		r.Code = firstOr(codes)
		return r
	}
	return t.fromTable(codes, name, q, who)
}

func firstOr(codes []string) string {
	if len(codes) == 0 {
		return ""
	}
	return codes[0]
}

func noValueReason(it *item, name string) string {
	switch {
	case it.dataAbsent.Exists():
		why := it.dataAbsent.Get("text").String()
		if why == "" {
			why = it.dataAbsent.Get("coding.0.code").String()
		}
		return fmt.Sprintf("%s has no value (%.60s).", name, why)
	case it.otherValue != "" && it.otherValue != "valueQuantity" && it.otherValue != "valueInteger":
		return fmt.Sprintf("%s has no numeric value (%s) and no interpretation flag from the sender.", name, it.otherValue)
	case it.hasValue:
		return fmt.Sprintf("%s has no numeric value.", name)
	}
	return fmt.Sprintf("%s has no value.", name)
}

// loincCodes returns the LOINC codes of a CodeableConcept, in order.
func loincCodes(cc gjson.Result) []string {
	var codes []string
	cc.Get("coding").ForEach(func(_, c gjson.Result) bool {
		if c.Get("system").String() == "http://loinc.org" {
			if code := c.Get("code").String(); code != "" {
				codes = append(codes, code)
			}
		}
		return true
	})
	return codes
}

// nameOf names the test for explanations: the table's name for one of its
// LOINC codes, else the concept's text or first display, else "The result".
func (t *Table) nameOf(cc gjson.Result, codes []string) string {
	for _, c := range codes {
		if rows := t.byCode[c]; len(rows) > 0 {
			return rows[0].name
		}
	}
	if s := strings.TrimSpace(cc.Get("text").String()); s != "" {
		return clip(s)
	}
	if s := strings.TrimSpace(cc.Get("coding.0.display").String()); s != "" {
		return clip(s)
	}
	return "The result"
}

// clip keeps sender-supplied names to a readable length.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	r := []rune(s)
	if len(r) <= 80 {
		return s
	}
	return string(r[:79]) + "…"
}

// quantity is a numeric result.
type quantity struct {
	value      float64
	comparator string // "", "<", "<=", ">=", ">"
	code, text string // UCUM code and display unit, either may be empty
}

func quantityOf(v gjson.Result) (quantity, bool) {
	if v.Type == gjson.Number {
		// valueInteger
		return quantity{value: v.Num}, true
	}
	if !v.IsObject() {
		return quantity{}, false
	}
	val := v.Get("value")
	if val.Type != gjson.Number {
		return quantity{}, false
	}
	q := quantity{value: val.Num, text: strings.TrimSpace(v.Get("unit").String())}
	switch c := v.Get("comparator").String(); c {
	case "<", "<=", ">=", ">":
		q.comparator = c
	}
	if sys := v.Get("system").String(); sys == "" || sys == "http://unitsofmeasure.org" {
		q.code = strings.TrimSpace(v.Get("code").String())
	}
	return q, true
}

// String writes the value as staff read it, e.g. "< 0.01 ng/mL".
func (q quantity) String() string {
	s := strconv.FormatFloat(q.value, 'f', -1, 64)
	if q.comparator != "" {
		s = q.comparator + " " + s
	}
	if u := q.unit(); u != "" {
		s += " " + u
	}
	return s
}

// exact returns the value when it has no comparator, else NaN (which equals
// no limit).
func (q quantity) exact() float64 {
	if q.comparator != "" {
		return math.NaN()
	}
	return q.value
}

func (q quantity) unit() string {
	if q.text != "" {
		return clipUnit(q.text)
	}
	return clipUnit(q.code)
}

func clipUnit(u string) string {
	if len(u) > 30 {
		return u[:30] + "…"
	}
	return u
}

// fhirTime parses a FHIR date or dateTime; it returns zero when s is not one.
func fhirTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// ageDays returns whole days from birth to at by their calendar dates, or -1
// when either is unknown or at is before birth.
func ageDays(birth, at time.Time) int {
	if birth.IsZero() || at.IsZero() {
		return -1
	}
	b := time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC).Unix()
	a := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC).Unix()
	if a < b {
		return -1
	}
	d := (a - b) / 86400
	if d > 200*366 {
		return -1
	}
	return int(d)
}

// ageWordsDays describes an age in days for explanations.
func ageWordsDays(d int) string {
	switch {
	case d < 0:
		return "unknown"
	case d >= 2*365:
		return strconv.Itoa(int(float64(d)/365.25)) + " years"
	case d >= 61:
		return strconv.Itoa(int(float64(d)/(365.25/12))) + " months"
	case d == 1:
		return "1 day"
	}
	return strconv.Itoa(d) + " days"
}
