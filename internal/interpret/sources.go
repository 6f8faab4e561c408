package interpret

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// flag is what one interpretation code says.
type flag struct {
	level Level
	dir   string
	words string
}

// interpretationCodes maps the codes of HL7 v3 ObservationInterpretation and
// HL7 v2 table 0078 (which share these letters) that decide a level. Codes
// about change (U, D, B, W), susceptibility (S, R, I, ...), off-scale results
// (<, >) and indeterminate results (IND, E) decide nothing: the value is then
// compared with the ranges.
var interpretationCodes = map[string]flag{
	"N":   {Normal, "", "normal"},
	"A":   {Abnormal, "", "abnormal"},
	"AA":  {Critical, "", "critically abnormal"},
	"H":   {Abnormal, "high", "high"},
	"HX":  {Abnormal, "high", "above the high threshold"},
	"HU":  {Abnormal, "high", "significantly high"},
	"HH":  {Critical, "high", "critically high"},
	"L":   {Abnormal, "low", "low"},
	"LX":  {Abnormal, "low", "below the low threshold"},
	"LU":  {Abnormal, "low", "significantly low"},
	"LL":  {Critical, "low", "critically low"},
	"POS": {Abnormal, "", "positive"},
	"DET": {Abnormal, "", "detected"},
	"RR":  {Abnormal, "", "reactive"},
	"NEG": {Normal, "", "negative"},
	"ND":  {Normal, "", "not detected"},
	"NR":  {Normal, "", "non-reactive"},
}

// interpretationSystem reports whether a coding system is one whose codes
// interpretationCodes describes (an absent system is taken to be one).
func interpretationSystem(s string) bool {
	switch s {
	case "",
		"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
		"http://hl7.org/fhir/v3/ObservationInterpretation",
		"urn:oid:2.16.840.1.113883.5.83",
		"http://terminology.hl7.org/CodeSystem/v2-0078",
		"http://hl7.org/fhir/v2/0078",
		"urn:oid:2.16.840.1.113883.12.78":
		return true
	}
	return false
}

// textFlags maps interpretation texts some senders use without a code.
var textFlags = map[string]flag{
	"normal":                 {Normal, "", "normal"},
	"within normal limits":   {Normal, "", "normal"},
	"wnl":                    {Normal, "", "normal"},
	"negative":               {Normal, "", "negative"},
	"not detected":           {Normal, "", "not detected"},
	"non-reactive":           {Normal, "", "non-reactive"},
	"nonreactive":            {Normal, "", "non-reactive"},
	"abnormal":               {Abnormal, "", "abnormal"},
	"high":                   {Abnormal, "high", "high"},
	"above high normal":      {Abnormal, "high", "high"},
	"low":                    {Abnormal, "low", "low"},
	"below low normal":       {Abnormal, "low", "low"},
	"positive":               {Abnormal, "", "positive"},
	"detected":               {Abnormal, "", "detected"},
	"reactive":               {Abnormal, "", "reactive"},
	"critical":               {Critical, "", "critical"},
	"critically abnormal":    {Critical, "", "critically abnormal"},
	"critical high":          {Critical, "high", "critically high"},
	"critically high":        {Critical, "high", "critically high"},
	"critical low":           {Critical, "low", "critically low"},
	"critically low":         {Critical, "low", "critically low"},
	"panic high":             {Critical, "high", "critically high"},
	"panic low":              {Critical, "low", "critically low"},
	"critical value":         {Critical, "", "critical"},
	"abnormal - critical":    {Critical, "", "critical"},
	"significantly high":     {Abnormal, "high", "significantly high"},
	"significantly low":      {Abnormal, "low", "significantly low"},
	"off scale high":         {Abnormal, "high", "off scale high"},
	"off scale low (normal)": {Normal, "", "normal"},
}

// fromInterpretation decides from Observation.interpretation: the most urgent
// flag wins; flags of equal urgency in opposite directions give no direction.
func fromInterpretation(interp gjson.Result, name string, q quantity, hasQ bool) (Result, bool) {
	if !interp.IsArray() {
		return Result{}, false
	}
	var best flag
	var said string
	found := false
	consider := func(f flag, as string) {
		switch {
		case !found || f.level > best.level:
			best, said, found = f, as, true
		case f.level == best.level && f.dir != best.dir:
			best.dir = ""
		}
	}
	interp.ForEach(func(_, cc gjson.Result) bool {
		coded := false
		cc.Get("coding").ForEach(func(_, c gjson.Result) bool {
			if !interpretationSystem(c.Get("system").String()) {
				return true
			}
			code := strings.ToUpper(strings.TrimSpace(c.Get("code").String()))
			if f, ok := interpretationCodes[code]; ok {
				consider(f, code)
				coded = true
			}
			return true
		})
		if !coded {
			text := strings.ToLower(strings.TrimSpace(cc.Get("text").String()))
			if f, ok := textFlags[text]; ok {
				consider(f, strconv.Quote(cc.Get("text").String()))
			}
		}
		return true
	})
	if !found {
		return Result{}, false
	}
	what := name
	if hasQ {
		what += " " + q.String()
	}
	return Result{
		Level:     best.level,
		Direction: best.dir,
		Source:    SourceInterpretation,
		Reason:    fmt.Sprintf("%s is flagged %s (%s) by the sender.", what, said, best.words),
	}, true
}

// limits are the bounds a value is compared with.
type limits struct {
	low, high, critLow, critHigh Limit
}

// class is where a value falls among limits.
type class int

const (
	critLowClass class = iota
	lowClass
	normalClass
	highClass
	critHighClass
)

// below and above report whether v crosses a lower or an upper limit.
func below(v float64, l Limit) bool {
	return l.Set && (v < l.Value || l.AtLimit && v == l.Value)
}

func above(v float64, l Limit) bool {
	return l.Set && (v > l.Value || l.AtLimit && v == l.Value)
}

// classify places v: beyond a limit (or at an AtLimit one) crosses it.
func (l limits) classify(v float64) class {
	switch {
	case below(v, l.critLow):
		return critLowClass
	case above(v, l.critHigh):
		return critHighClass
	case below(v, l.low):
		return lowClass
	case above(v, l.high):
		return highClass
	}
	return normalClass
}

// justBelow places the values immediately below v (for "< v"). Whether a
// limit is AtLimit does not matter here: the limit's value itself is excluded.
func (l limits) justBelow(v float64) class {
	switch {
	case l.critLow.Set && v <= l.critLow.Value:
		return critLowClass
	case l.critHigh.Set && v > l.critHigh.Value:
		return critHighClass
	case l.low.Set && v <= l.low.Value:
		return lowClass
	case l.high.Set && v > l.high.Value:
		return highClass
	}
	return normalClass
}

// justAbove places the values immediately above v (for "> v").
func (l limits) justAbove(v float64) class {
	switch {
	case l.critHigh.Set && v >= l.critHigh.Value:
		return critHighClass
	case l.critLow.Set && v < l.critLow.Value:
		return critLowClass
	case l.high.Set && v >= l.high.Value:
		return highClass
	case l.low.Set && v < l.low.Value:
		return lowClass
	}
	return normalClass
}

// lowest and highest are the classes of values far below and above all limits.
func (l limits) lowest() class {
	switch {
	case l.critLow.Set:
		return critLowClass
	case l.low.Set:
		return lowClass
	}
	return normalClass
}

func (l limits) highest() class {
	switch {
	case l.critHigh.Set:
		return critHighClass
	case l.high.Set:
		return highClass
	}
	return normalClass
}

// place classifies a quantity, honouring its comparator: a result such as
// "< 5" is placed only when every value it allows falls in one class.
func (l limits) place(q quantity) (class, bool) {
	var lo, hi class
	switch q.comparator {
	case "":
		c := l.classify(q.value)
		return c, true
	case "<":
		lo, hi = l.lowest(), l.justBelow(q.value)
	case "<=":
		lo, hi = l.lowest(), l.classify(q.value)
	case ">":
		lo, hi = l.justAbove(q.value), l.highest()
	case ">=":
		lo, hi = l.classify(q.value), l.highest()
	}
	return lo, lo == hi
}

func (c class) level() (Level, string) {
	switch c {
	case critLowClass:
		return Critical, "low"
	case lowClass:
		return Abnormal, "low"
	case highClass:
		return Abnormal, "high"
	case critHighClass:
		return Critical, "high"
	}
	return Normal, ""
}

// explain says why value v falls in class c, e.g. "is above the critical
// limit 6.2 mmol/L". unit is the unit to print after limits.
func (l limits) explain(c class, v float64, unit string) string {
	u := ""
	if unit != "" {
		u = " " + unit
	}
	side := func(words string, lim Limit) string {
		if v == lim.Value {
			return "is at"
		}
		return words
	}
	switch c {
	case critLowClass:
		return side("is below", l.critLow) + " the critical limit " + num(l.critLow.Value) + u
	case critHighClass:
		return side("is above", l.critHigh) + " the critical limit " + num(l.critHigh.Value) + u
	case lowClass:
		switch {
		case l.high.Set && v == l.low.Value:
			return "is at the lower limit of the reference range " + rangeWords(l.low, l.high) + u
		case l.high.Set:
			return "is below the reference range " + rangeWords(l.low, l.high) + u
		}
		return side("is below", l.low) + " the lower reference limit " + num(l.low.Value) + u
	case highClass:
		switch {
		case l.low.Set && v == l.high.Value:
			return "is at the upper limit of the reference range " + rangeWords(l.low, l.high) + u
		case l.low.Set:
			return "is above the reference range " + rangeWords(l.low, l.high) + u
		}
		return side("is above", l.high) + " the upper reference limit " + num(l.high.Value) + u
	}
	switch {
	case l.low.Set && l.high.Set:
		return "is within the reference range " + rangeWords(l.low, l.high) + u
	case l.low.Set:
		return "is not below the lower reference limit " + num(l.low.Value) + u
	case l.high.Set && l.high.AtLimit:
		return "is below the upper reference limit " + num(l.high.Value) + u
	case l.high.Set:
		return "is not above the upper reference limit " + num(l.high.Value) + u
	}
	return "is within the critical limits" + u
}

// rangeWords writes a reference interval, e.g. "3.4–4.8" or "70 to below 100".
func rangeWords(low, high Limit) string {
	if high.AtLimit {
		return num(low.Value) + " to below " + num(high.Value)
	}
	return num(low.Value) + "–" + num(high.Value)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// senderRange is one usable Observation.referenceRange entry.
type senderRange struct {
	low, high Limit
	unit      string // unit of the limits, "" when they carry none
	critical  bool
}

// fromReferenceRange decides from the ranges sent with the result. Ranges
// typed or described as critical give critical limits; ranges without a type
// or typed normal/recommended give the reference interval. Ranges that state
// a sex (appliesTo) or an age the patient does not have are skipped, and so
// are those that state one the patient's record lacks. When the sender gives
// only critical limits and the value is within them, the decision is left to
// the table.
func fromReferenceRange(rr gjson.Result, name string, q quantity, who person) (Result, bool) {
	if !rr.IsArray() {
		return Result{}, false
	}
	var normal, critical *senderRange
	var unitProblem string
	rr.ForEach(func(_, r gjson.Result) bool {
		sr, ok := parseSenderRange(r, who)
		if !ok {
			return true
		}
		if sr.unit != "" && !sameUnit(sr.unit, q.code) && !sameUnit(sr.unit, q.text) {
			if unitProblem == "" {
				unitProblem = sr.unit
			}
			return true
		}
		if sr.critical && critical == nil {
			critical = &sr
		} else if !sr.critical && normal == nil {
			normal = &sr
		}
		return true
	})
	if normal == nil && critical == nil {
		if unitProblem != "" {
			return Result{Reason: fmt.Sprintf("%s is reported in %s but the reference range sent with it is in %s; they are not compared.",
				name, orNone(q.unit()), clipUnit(unitProblem))}, true
		}
		return Result{}, false
	}
	var l limits
	if normal != nil {
		l.low, l.high = normal.low, normal.high
	}
	if critical != nil {
		l.critLow, l.critHigh = critical.low, critical.high
	}
	c, ok := l.place(q)
	if !ok {
		return Result{Reason: fmt.Sprintf("%s %s may lie on either side of a limit of the reference range sent with it.", name, q.String())}, true
	}
	if normal == nil && c == normalClass {
		return Result{}, false
	}
	lv, dir := c.level()
	return Result{
		Level:     lv,
		Direction: dir,
		Source:    SourceReferenceRange,
		Reason:    fmt.Sprintf("%s %s %s, as sent with the result.", name, q.String(), l.explain(c, q.exact(), q.unit())),
	}, true
}

func orNone(u string) string {
	if u == "" {
		return "no unit"
	}
	return u
}

func parseSenderRange(r gjson.Result, who person) (senderRange, bool) {
	var sr senderRange
	lo, hi := r.Get("low"), r.Get("high")
	if v := lo.Get("value"); v.Type == gjson.Number {
		sr.low = Limit{Value: v.Num, Set: true}
		sr.unit = rangeUnit(lo)
	}
	if v := hi.Get("value"); v.Type == gjson.Number {
		sr.high = Limit{Value: v.Num, Set: true}
		if u := rangeUnit(hi); u != "" {
			if sr.unit != "" && !sameUnit(sr.unit, u) {
				return sr, false // a range whose two ends disagree is unusable
			}
			sr.unit = u
		}
	}
	if !sr.low.Set && !sr.high.Set {
		return sr, false
	}
	if sr.low.Set && sr.high.Set && sr.low.Value > sr.high.Value {
		return sr, false
	}
	typ := r.Get("type")
	kind := strings.ToLower(typ.Get("coding.0.code").String() + " " + typ.Get("text").String())
	switch {
	case strings.Contains(kind, "critical") || strings.Contains(strings.ToLower(r.Get("text").String()), "critical"):
		sr.critical = true
	case strings.TrimSpace(kind) == "", strings.Contains(kind, "normal"), strings.Contains(kind, "recommended"):
	default:
		return sr, false // treatment, therapeutic and other targets are not reference intervals
	}
	if !appliesToPerson(r, who) {
		return sr, false
	}
	return sr, true
}

func rangeUnit(q gjson.Result) string {
	if c := strings.TrimSpace(q.Get("code").String()); c != "" {
		return c
	}
	return strings.TrimSpace(q.Get("unit").String())
}

// appliesToPerson checks a range's appliesTo sex and age (in years) against
// the patient; a stated condition the patient's record cannot meet fails.
func appliesToPerson(r gjson.Result, who person) bool {
	ok := true
	r.Get("appliesTo").ForEach(func(_, cc gjson.Result) bool {
		want := sexAny
		cc.Get("coding").ForEach(func(_, c gjson.Result) bool {
			switch strings.ToLower(c.Get("code").String()) {
			case "male", "248153007":
				want = sexMale
			case "female", "248152002":
				want = sexFemale
			}
			return true
		})
		if want == sexAny {
			switch strings.ToLower(strings.TrimSpace(cc.Get("text").String())) {
			case "male", "men":
				want = sexMale
			case "female", "women":
				want = sexFemale
			}
		}
		if want != sexAny && want != who.sex {
			ok = false
		}
		return ok
	})
	if !ok {
		return false
	}
	age := r.Get("age")
	if !age.Exists() {
		return true
	}
	if who.age < 0 {
		return false
	}
	years := float64(who.age) / 365.25
	if v := age.Get("low.value"); v.Type == gjson.Number && years < v.Num {
		return false
	}
	if v := age.Get("high.value"); v.Type == gjson.Number && years > v.Num {
		return false
	}
	return true
}

// fromTable decides from careloop's table.
func (t *Table) fromTable(codes []string, name string, q quantity, who person) Result {
	code := ""
	for _, c := range codes {
		if t.Has(c) {
			code = c
			break
		}
	}
	if code == "" {
		switch len(codes) {
		case 0:
			return Result{Reason: fmt.Sprintf("%s has no LOINC code and no reference range or flag from the sender.", name)}
		case 1:
			return Result{Code: codes[0], Reason: fmt.Sprintf("%s has no reference range or flag from the sender, and LOINC %s is not in careloop's table.", name, codes[0])}
		}
		return Result{Code: codes[0], Reason: fmt.Sprintf("%s has no reference range or flag from the sender, and none of its LOINC codes (%s) is in careloop's table.",
			name, strings.Join(codes, ", "))}
	}
	rg, rows, ok := t.lookupRows(code, who)
	if !ok {
		return Result{Code: code, Reason: fmt.Sprintf("careloop's table has no reference range for %s (LOINC %s) for this patient (%s, age %s).",
			name, code, genderWords(who.gender), ageWordsDays(who.age))}
	}
	if !rows[0].unitMatches(q.code, q.text) {
		return Result{Code: code, Reason: fmt.Sprintf("%s is reported in %s but careloop's table has it in %s; they are not compared.",
			name, orNone(q.unit()), rg.Unit)}
	}
	l := limits{low: rg.Low, high: rg.High, critLow: rg.CriticalLow, critHigh: rg.CriticalHigh}
	c, ok := l.place(q)
	if !ok {
		return Result{Code: code, Reason: fmt.Sprintf("%s %s may lie on either side of a limit in careloop's table (%s).", name, q.String(), rg.Population)}
	}
	if c == normalClass && !l.low.Set && !l.high.Set {
		return Result{Code: code, Reason: fmt.Sprintf("%s %s is within the critical limits %s–%s (%s); careloop's table has no reference range for this age.",
			name, q.String(), limitWords(l.critLow), limitWords(l.critHigh), rg.Population)}
	}
	lv, dir := c.level()
	return Result{
		Level:     lv,
		Direction: dir,
		Source:    SourceTable,
		Code:      code,
		// The result's unit matched the table's, so limits are shown in the
		// unit the sender used.
		Reason: fmt.Sprintf("%s %s %s (%s).", name, q.String(), l.explain(c, q.exact(), q.unit()), rg.Population),
	}
}

func limitWords(l Limit) string {
	if !l.Set {
		return "…"
	}
	return num(l.Value)
}

func genderWords(g string) string {
	switch g {
	case "male", "female":
		return g
	case "", "unknown":
		return "sex not recorded"
	}
	return fmt.Sprintf("sex %.20s", g)
}

// lookupRows is Lookup for the interpretation: it also returns the code's
// rows (which share one unit).
func (t *Table) lookupRows(code string, who person) (Range, []*row, bool) {
	rg, ok := t.lookup(code, who.sex, who.age)
	return rg, t.byCode[code], ok
}
