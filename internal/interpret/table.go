package interpret

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// defaultCSV is careloop's own table of reference ranges and critical limits.
//
//go:embed ranges.csv
var defaultCSV string

// columns is the header every table file must start with, in this order.
var columns = []string{"code", "name", "sex", "age_from", "age_to", "unit", "also_units",
	"low", "high", "critical_low", "critical_high", "source"}

// openEnded is the age_to of a band without an upper bound, in days.
const openEnded = math.MaxInt32

// Limit is one optional limit of a range: Value counts only when Set is true.
// A result beyond Value crosses the limit; with AtLimit, a result equal to
// Value crosses it too (guideline cut-offs such as "HbA1c below 5.7 % is
// normal", written "<5.7" in a table file).
type Limit struct {
	Value   float64
	Set     bool
	AtLimit bool
}

// Range is what the table says about one test for one kind of person: the
// reference interval and critical limits, in Unit. A result strictly below
// Low or above High is abnormal; strictly below CriticalLow or above
// CriticalHigh is critical. A limit that is not Set is not assessed.
type Range struct {
	Code         string // LOINC code
	Name         string // short test name for explanations
	Unit         string // UCUM unit of every limit
	Low, High    Limit
	CriticalLow  Limit
	CriticalHigh Limit
	// Population says who the range is for, for example "adult",
	// "female, 12–18 years" or "adult, either sex".
	Population string
	// Source names the publications the figures come from.
	Source string
}

// Sex values of a table row.
const (
	sexAny = iota
	sexMale
	sexFemale
)

// row is one line of a table.
type row struct {
	line          int
	code, name    string
	sex           int
	from, to      int // age band in days: from inclusive, to exclusive
	fromText      string
	toText        string
	unit          string   // as written
	canonUnit     string   // unit after the general aliases
	alsoUnits     []string // per-test equivalent spellings, canonicalised
	dimensionless bool     // unit is "1", an annotation like "{INR}", or "[pH]": an absent unit matches
	low, high     Limit
	critLow       Limit
	critHigh      Limit
	source        string
}

// Table holds reference ranges and critical limits by LOINC code, sex and
// age band. A Table is immutable once loaded and safe for concurrent use.
type Table struct {
	byCode map[string][]*row
	codes  []string
}

// TableError reports a line of a table file that cannot be used. Line counts
// from 1, as an editor shows it.
type TableError struct {
	Line int
	Msg  string
}

func (e *TableError) Error() string {
	return fmt.Sprintf("interpret: reference table line %d: %s", e.Line, e.Msg)
}

var defaultTable = mustLoadDefault()

func mustLoadDefault() *Table {
	t, err := Load(strings.NewReader(defaultCSV))
	if err != nil {
		// The embedded table is checked by the package's tests; a failure here
		// is a build defect, not a run-time condition.
		panic(err)
	}
	return t
}

// Default returns careloop's own table, built from the embedded ranges.csv.
// Its figures are defaults from published sources (see docs/INTERPRETATION.md);
// a laboratory should replace them with its own through [Load] and [Use].
func Default() *Table { return defaultTable }

// LoadFile reads a table file in the format of [Load].
func LoadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interpret: open reference table: %w", err)
	}
	defer f.Close()
	t, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Load reads a table in careloop's CSV format: a header line naming the
// columns code, name, sex, age_from, age_to, unit, also_units, low, high,
// critical_low, critical_high, source (in that order), then one row per
// (LOINC code, sex, age band). Lines starting with # are comments. Ages are a
// whole number followed by d, w, mo or y (a year counts as 365.25 days, a
// month as a twelfth of that); an empty age_from means birth and an empty
// age_to means no upper bound. sex is male, female or any.
//
// Load refuses the whole table with a *TableError naming the line when a row
// is malformed, when limits are out of order, when the rows of one code
// disagree on unit or name, or when two rows of one code could both apply
// to the same person (overlapping age bands for the same or "any" sex).
func Load(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false

	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &TableError{Line: 1, Msg: "the table is empty; it needs the header " + strings.Join(columns, ",")}
		}
		return nil, csvError(err)
	}
	line, _ := cr.FieldPos(0)
	if !slices.Equal(trimAll(header), columns) {
		return nil, &TableError{Line: line, Msg: fmt.Sprintf("the header must be %q, not %q",
			strings.Join(columns, ","), strings.Join(header, ","))}
	}

	t := &Table{byCode: make(map[string][]*row)}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		rw, err := parseRow(trimAll(rec), line)
		if err != nil {
			return nil, err
		}
		if err := t.add(rw); err != nil {
			return nil, err
		}
	}
	if len(t.byCode) == 0 {
		return nil, &TableError{Line: line + 1, Msg: "the table has a header but no rows"}
	}
	for code := range t.byCode {
		t.codes = append(t.codes, code)
	}
	slices.Sort(t.codes)
	return t, nil
}

// csvError turns an encoding/csv error into a *TableError with its line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &TableError{Line: pe.Line, Msg: pe.Err.Error()}
	}
	return fmt.Errorf("interpret: read reference table: %w", err)
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, f := range rec {
		out[i] = strings.TrimSpace(f)
	}
	return out
}

var loincCode = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)

func parseRow(f []string, line int) (*row, error) {
	bad := func(format string, args ...any) error {
		return &TableError{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(f) != len(columns) {
		return nil, bad("%d fields, want %d (%s)", len(f), len(columns), strings.Join(columns, ","))
	}
	rw := &row{line: line, code: f[0], name: f[1], unit: f[5], source: f[11]}
	if !loincCode.MatchString(rw.code) {
		return nil, bad("code %q is not a LOINC code (digits, a hyphen and a check digit)", rw.code)
	}
	if rw.name == "" {
		return nil, bad("name is empty")
	}
	switch strings.ToLower(f[2]) {
	case "any", "":
		rw.sex = sexAny
	case "male":
		rw.sex = sexMale
	case "female":
		rw.sex = sexFemale
	default:
		return nil, bad("sex %q must be male, female or any", f[2])
	}
	var err error
	rw.fromText, rw.toText = f[3], f[4]
	if rw.from, err = parseAge(f[3], 0); err != nil {
		return nil, bad("age_from: %v", err)
	}
	if rw.to, err = parseAge(f[4], openEnded); err != nil {
		return nil, bad("age_to: %v", err)
	}
	if rw.from >= rw.to {
		return nil, bad("age band %s to %s is empty (age_from must be below age_to)", f[3], f[4])
	}
	if rw.unit == "" {
		return nil, bad("unit is empty")
	}
	rw.canonUnit = canonicalUnit(rw.unit)
	rw.dimensionless = isDimensionless(rw.unit)
	if f[6] != "" {
		for _, u := range strings.Split(f[6], "|") {
			u = strings.TrimSpace(u)
			if u == "" {
				return nil, bad("also_units has an empty entry")
			}
			rw.alsoUnits = append(rw.alsoUnits, canonicalUnit(u))
		}
	}
	lims := []*Limit{&rw.low, &rw.high, &rw.critLow, &rw.critHigh}
	for i, l := range lims {
		s := f[7+i]
		if s == "" {
			continue
		}
		// "<X" on an upper limit (">X" on a lower one) means X itself is beyond it.
		atLimit := false
		if mark := "><"[i%2]; s[0] == mark {
			atLimit, s = true, strings.TrimSpace(s[1:])
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, bad("%s %q is not a number (an upper limit may start with <, a lower one with >)", columns[7+i], f[7+i])
		}
		*l = Limit{Value: v, Set: true, AtLimit: atLimit}
	}
	if !rw.low.Set && !rw.high.Set && !rw.critLow.Set && !rw.critHigh.Set {
		return nil, bad("no limit is given; a row needs at least one of low, high, critical_low, critical_high")
	}
	if rw.low.Set && rw.high.Set && rw.low.Value > rw.high.Value {
		return nil, bad("low %v is above high %v", rw.low.Value, rw.high.Value)
	}
	if rw.critLow.Set && rw.critHigh.Set && rw.critLow.Value >= rw.critHigh.Value {
		return nil, bad("critical_low %v is not below critical_high %v", rw.critLow.Value, rw.critHigh.Value)
	}
	for _, l := range []Limit{rw.low, rw.high} {
		if l.Set && rw.critLow.Set && rw.critLow.Value > l.Value {
			return nil, bad("critical_low %v is above the reference limit %v", rw.critLow.Value, l.Value)
		}
		if l.Set && rw.critHigh.Set && rw.critHigh.Value < l.Value {
			return nil, bad("critical_high %v is below the reference limit %v", rw.critHigh.Value, l.Value)
		}
	}
	if rw.source == "" {
		return nil, bad("source is empty; cite where the figures come from")
	}
	return rw, nil
}

// parseAge reads "18y", "6mo", "2w" or "30d" as days; empty gives def.
func parseAge(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 4 {
		return 0, fmt.Errorf("%q must be a whole number followed by d, w, mo or y", s)
	}
	n, _ := strconv.Atoi(s[:i])
	switch s[i:] {
	case "d":
		return n, nil
	case "w":
		return 7 * n, nil
	case "mo":
		return int(float64(n) * 365.25 / 12), nil
	case "y":
		return int(float64(n) * 365.25), nil
	}
	return 0, fmt.Errorf("%q must be a whole number followed by d, w, mo or y", s)
}

func (t *Table) add(rw *row) error {
	for _, o := range t.byCode[rw.code] {
		if o.canonUnit != rw.canonUnit {
			return &TableError{Line: rw.line, Msg: fmt.Sprintf("unit %q differs from %q on line %d; all rows of %s must share one unit",
				rw.unit, o.unit, o.line, rw.code)}
		}
		if o.name != rw.name {
			return &TableError{Line: rw.line, Msg: fmt.Sprintf("name %q differs from %q on line %d; all rows of %s must share one name",
				rw.name, o.name, o.line, rw.code)}
		}
		sexOverlap := o.sex == sexAny || rw.sex == sexAny || o.sex == rw.sex
		if sexOverlap && rw.from < o.to && o.from < rw.to {
			return &TableError{Line: rw.line, Msg: fmt.Sprintf("%s for %s overlaps line %d (%s): age bands of one code must not overlap for the same sex",
				rw.code, rw.label(), o.line, o.label())}
		}
	}
	t.byCode[rw.code] = append(t.byCode[rw.code], rw)
	return nil
}

// Codes returns the LOINC codes the table covers, sorted.
func (t *Table) Codes() []string { return slices.Clone(t.codes) }

// Has reports whether the table has any row for the LOINC code.
func (t *Table) Has(code string) bool { return len(t.byCode[code]) > 0 }

// Lookup returns the range for a LOINC code, a FHIR administrative gender and
// an age in days. ageDays below zero means the age is unknown; a gender other
// than "male" or "female" means the sex is unknown. When the person matches
// several rows because sex or age is unknown, Lookup returns their envelope:
// each limit only where every matching row has one, and the least strict of
// them, so that what it flags would be flagged for any of those rows. It
// returns false when no row applies.
func (t *Table) Lookup(code, gender string, ageDays int) (Range, bool) {
	return t.lookup(code, sexOf(gender), ageDays)
}

func (t *Table) lookup(code string, sex, ageDays int) (Range, bool) {
	rows := t.byCode[code]
	if len(rows) == 0 {
		return Range{}, false
	}
	var buf [8]*row
	match := buf[:0]
	for _, r := range rows {
		if sex != sexAny && r.sex != sexAny && r.sex != sex {
			continue
		}
		if ageDays >= 0 && (ageDays < r.from || ageDays >= r.to) {
			continue
		}
		match = append(match, r)
	}
	switch len(match) {
	case 0:
		return Range{}, false
	case 1:
		return match[0].rangeOf(), true
	}
	return envelope(match, sex), true
}

func sexOf(gender string) int {
	switch gender {
	case "male":
		return sexMale
	case "female":
		return sexFemale
	}
	return sexAny
}

func (r *row) rangeOf() Range {
	return Range{Code: r.code, Name: r.name, Unit: r.unit, Low: r.low, High: r.high,
		CriticalLow: r.critLow, CriticalHigh: r.critHigh, Population: r.label(), Source: r.source}
}

// envelope combines rows that may all apply to a person whose sex or age is
// unknown: a limit survives only when every row has it, at its least strict.
// sex is the person's sex, sexAny when unknown.
func envelope(rows []*row, sex int) Range {
	out := rows[0].rangeOf()
	sameSex, sameAge := true, true
	sources := []string{rows[0].source}
	for _, r := range rows[1:] {
		out.Low = looser(out.Low, r.low, math.Min)
		out.High = looser(out.High, r.high, math.Max)
		out.CriticalLow = looser(out.CriticalLow, r.critLow, math.Min)
		out.CriticalHigh = looser(out.CriticalHigh, r.critHigh, math.Max)
		sameSex = sameSex && r.sex == rows[0].sex
		sameAge = sameAge && r.from == rows[0].from && r.to == rows[0].to
		if !slices.Contains(sources, r.source) {
			sources = append(sources, r.source)
		}
	}
	age := rows[0].ageLabel()
	if !sameAge {
		age = "age unknown"
	}
	switch {
	case sex != sexAny:
		out.Population = withSex(age, sex)
	case !sameSex && age == "adult":
		out.Population = "adult, either sex"
	case !sameSex:
		out.Population = age + ", either sex"
	default:
		out.Population = withSex(age, rows[0].sex)
	}
	out.Source = strings.Join(sources, " | ")
	return out
}

func looser(a, b Limit, pick func(x, y float64) float64) Limit {
	switch {
	case !a.Set || !b.Set:
		return Limit{}
	case a.Value == b.Value:
		return Limit{Value: a.Value, Set: true, AtLimit: a.AtLimit && b.AtLimit}
	case pick(a.Value, b.Value) == a.Value:
		return a
	}
	return b
}

// label describes who a row is for, for explanations.
func (r *row) label() string { return withSex(r.ageLabel(), r.sex) }

func withSex(age string, sex int) string {
	s := ""
	switch sex {
	case sexMale:
		s = "male"
	case sexFemale:
		s = "female"
	}
	switch {
	case s == "":
		return age
	case age == "adult":
		return "adult " + s
	}
	return age + ", " + s
}

func (r *row) ageLabel() string {
	switch {
	case r.from == 0 && r.to == openEnded:
		return "all ages"
	case r.fromText == "18y" && r.to == openEnded:
		return "adult"
	case r.to == openEnded:
		return "from " + ageWords(r.fromText)
	case r.from == 0:
		return "under " + ageWords(r.toText)
	}
	from, to := ageWords(r.fromText), ageWords(r.toText)
	// "2–6 years" rather than "2 years–6 years".
	if fu, tu := unitWord(from), unitWord(to); strings.TrimSuffix(fu, "s") == strings.TrimSuffix(tu, "s") {
		from = strings.TrimSuffix(from, " "+fu)
	}
	return from + "–" + to
}

func unitWord(s string) string {
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// ageWords turns "6mo" into "6 months" (and "1y" into "1 year").
func ageWords(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, unit := s[:i], s[i:]
	word := map[string]string{"d": "day", "w": "week", "mo": "month", "y": "year"}[unit]
	if n != "1" {
		word += "s"
	}
	return n + " " + word
}
