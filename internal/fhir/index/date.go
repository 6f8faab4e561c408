package index

import (
	"errors"
	"time"
)

// DateRange is the span of time a date value covers, [Low, High), in UTC.
// A value is as wide as its precision: "2024" is [2024-01-01, 2025-01-01),
// "2024-03" is [2024-03-01, 2024-04-01), "2024-03-01" is one day,
// "2024-03-01T10:00" one minute, "2024-03-01T10:00:00" one second,
// "2024-03-01T10:00:00.5" a tenth of a second and "2024-03-01T10:00:00.250"
// one millisecond, the finest precision kept (further digits are ignored),
// so that bounds are whole milliseconds (see Millis). A Period runs from
// the Low of its start to the High of its end. An open end is MinTime (no
// start) or MaxTime (no end), so that ranges always compare as plain times.
type DateRange struct {
	Low, High time.Time
}

// MinTime and MaxTime stand for the open ends of ranges: a Period without
// start has Low MinTime, one without end High MaxTime. Ranges are clamped
// to [MinTime, MaxTime], which keep four-digit years and fit in int64 Unix
// milliseconds (Millis: -62135596800000 and 253402300799999) or
// microseconds, but not nanoseconds.
var (
	MinTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999_000_000, time.UTC)
)

// Millis returns t as Unix milliseconds, the form index columns store.
// The bounds of the ranges of this package are whole milliseconds, so the
// conversion is exact for them.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// ParseDate returns the range covered by a FHIR date, dateTime or instant:
// YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.fraction]] with an
// optional zone, Z or ±hh:mm (a space is taken for the + that URL decoding
// turns into a space). A time without zone is taken as UTC: FHIR leaves it
// to the server, and UTC keeps the index independent of where it runs.
// Calendar dates are checked (2023-02-29 is an error, 2024-02-29 is not);
// leap seconds (:60) are refused.
func ParseDate(s string) (DateRange, error) {
	n := len(s)
	if n < 4 || !isDigits(s[:4]) {
		return DateRange{}, errors.New("expected a year of four digits")
	}
	year := atoi(s[:4])
	if year == 0 {
		return DateRange{}, errors.New("year 0000 does not exist")
	}
	if n == 4 {
		low := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
		return clamp(low, low.AddDate(1, 0, 0)), nil
	}
	if s[4] != '-' || n < 7 || !isDigits(s[5:7]) {
		return DateRange{}, errors.New("expected -MM after the year")
	}
	month := atoi(s[5:7])
	if month < 1 || month > 12 {
		return DateRange{}, errors.New("month out of range")
	}
	if n == 7 {
		low := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return clamp(low, low.AddDate(0, 1, 0)), nil
	}
	if s[7] != '-' || n < 10 || !isDigits(s[8:10]) {
		return DateRange{}, errors.New("expected -DD after the month")
	}
	day := atoi(s[8:10])
	if day < 1 || day > daysIn(year, month) {
		return DateRange{}, errors.New("day out of range for the month")
	}
	if n == 10 {
		low := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return clamp(low, low.AddDate(0, 0, 1)), nil
	}
	if s[10] != 'T' || n < 16 || !isDigits(s[11:13]) || s[13] != ':' || !isDigits(s[14:16]) {
		return DateRange{}, errors.New("expected Thh:mm after the date")
	}
	hour, minute := atoi(s[11:13]), atoi(s[14:16])
	if hour > 23 || minute > 59 {
		return DateRange{}, errors.New("time out of range")
	}
	i := 16
	sec, nsec := 0, 0
	precision := time.Minute
	if i < n && s[i] == ':' {
		if i+3 > n || !isDigits(s[i+1:i+3]) {
			return DateRange{}, errors.New("expected two digits of seconds")
		}
		sec = atoi(s[i+1 : i+3])
		if sec > 59 {
			return DateRange{}, errors.New("seconds out of range")
		}
		i += 3
		precision = time.Second
		if i < n && s[i] == '.' {
			j := i + 1
			for j < n && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				return DateRange{}, errors.New("expected digits after the decimal point")
			}
			frac := s[i+1 : j]
			if len(frac) > 3 {
				frac = frac[:3]
			}
			unit := int(time.Millisecond)
			for k := len(frac); k < 3; k++ {
				unit *= 10
			}
			nsec = atoi(frac) * unit
			precision = time.Duration(unit)
			i = j
		}
	}
	offset := 0
	if i < n {
		switch s[i] {
		case 'Z':
			i++
		case '+', '-', ' ':
			if i+6 != n || !isDigits(s[i+1:i+3]) || s[i+3] != ':' || !isDigits(s[i+4:i+6]) {
				return DateRange{}, errors.New("expected a time zone Z or ±hh:mm")
			}
			oh, om := atoi(s[i+1:i+3]), atoi(s[i+4:i+6])
			if oh > 14 || om > 59 {
				return DateRange{}, errors.New("time zone out of range")
			}
			offset = (oh*60 + om) * 60
			if s[i] == '-' {
				offset = -offset
			}
			i += 6
		default:
			return DateRange{}, errors.New("expected a time zone Z or ±hh:mm")
		}
	}
	if i != n {
		return DateRange{}, errors.New("unexpected text after the time")
	}
	low := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	return clamp(low, low.Add(precision)), nil
}

// clamp limits a range to [MinTime, MaxTime]. A range wholly outside
// (a time zone can move year 1 or 9999 across the limit) becomes the first
// or last millisecond.
func clamp(low, high time.Time) DateRange {
	switch {
	case !high.After(MinTime):
		return DateRange{Low: MinTime, High: MinTime.Add(time.Millisecond)}
	case !low.Before(MaxTime):
		return DateRange{Low: MaxTime.Add(-time.Millisecond), High: MaxTime}
	}
	if low.Before(MinTime) {
		low = MinTime
	}
	if high.After(MaxTime) {
		high = MaxTime
	}
	return DateRange{Low: low, High: high}
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// Cond is one comparison between a bound of an indexed value's range and
// a bound of the search value's range: value.<Left> <Op> search.<Right>.
// Bounds are "low" (inclusive) and "high" (exclusive).
type Cond struct {
	Left  string // "low" or "high" of the indexed value
	Op    string // "<", "<=", ">" or ">="
	Right string // "low" or "high" of the search value
}

func (c Cond) String() string { return "value." + c.Left + " " + c.Op + " search." + c.Right }

// holds evaluates c.
func (c Cond) holds(value, search DateRange) bool {
	l, r := value.Low, search.Low
	if c.Left == "high" {
		l = value.High
	}
	if c.Right == "high" {
		r = search.High
	}
	switch c.Op {
	case "<":
		return l.Before(r)
	case "<=":
		return !l.After(r)
	case ">":
		return l.After(r)
	case ">=":
		return !l.Before(r)
	}
	return false
}

// The date prefix rules of FHIR R4 (the prefix table of the search page,
// http://hl7.org/fhir/R4/search.html#prefix, as it applies to ranges), for
// a search range S = [S.low, S.high) and an indexed value range
// V = [V.low, V.high):
//
//	eq  S fully contains V:                V.low >= S.low  AND V.high <= S.high
//	ne  S does not fully contain V:        NOT (eq)
//	gt  the range above S overlaps V:      V.high > S.high
//	lt  the range below S overlaps V:      V.low < S.low
//	ge  gt, or S fully contains V:         NOT (V.low < S.low AND V.high <= S.high)
//	le  lt, or S fully contains V:         NOT (V.low >= S.low AND V.high > S.high)
//	sa  V does not overlap S and lies
//	    in the range above S:              V.low >= S.high
//	eb  V does not overlap S and lies
//	    in the range below S:              V.high <= S.low
//	ap  V overlaps S:                      V.low < S.high AND V.high > S.low
//
// ge and le are disjunctions in the specification; each is the negation of
// a conjunction, which is how they are given here (the value is not ge S
// exactly when it starts before S and does not reach beyond it). ap is
// plain overlap: the specification leaves the approximation to the server,
// which may widen S before applying it.
var dateRules = map[Prefix]struct {
	conds  []Cond
	negate bool
}{
	PrefixEq: {conds: []Cond{{"low", ">=", "low"}, {"high", "<=", "high"}}},
	PrefixNe: {conds: []Cond{{"low", ">=", "low"}, {"high", "<=", "high"}}, negate: true},
	PrefixGt: {conds: []Cond{{"high", ">", "high"}}},
	PrefixLt: {conds: []Cond{{"low", "<", "low"}}},
	PrefixGe: {conds: []Cond{{"low", "<", "low"}, {"high", "<=", "high"}}, negate: true},
	PrefixLe: {conds: []Cond{{"low", ">=", "low"}, {"high", ">", "high"}}, negate: true},
	PrefixSa: {conds: []Cond{{"low", ">=", "high"}}},
	PrefixEb: {conds: []Cond{{"high", "<=", "low"}}},
	PrefixAp: {conds: []Cond{{"low", "<", "high"}, {"high", ">", "low"}}},
}

// DateConditions returns the conditions, joined with AND, that an indexed
// date range must meet to match a search range under prefix p; when
// DateNegated(p) is true (ne, ge, le) the match is the NOT of that AND. In
// SQL, with columns low and high holding [low, high):
//
//	cond := strings.Join(each "col(c.Left) c.Op bound(c.Right)", " AND ")
//	if index.DateNegated(p) { cond = "NOT (" + cond + ")" }
//
// It returns nil for an unknown prefix. The slice is the caller's.
func DateConditions(p Prefix) []Cond {
	r, ok := dateRules[p]
	if !ok {
		return nil
	}
	return append([]Cond(nil), r.conds...)
}

// DateNegated reports whether the match for prefix p is the negation of
// DateConditions(p): true for ne, ge and le.
func DateNegated(p Prefix) bool { return dateRules[p].negate }

// MatchesDate reports whether the indexed range value matches the search
// range search under prefix p, by the rules of DateConditions. An unknown
// prefix matches nothing.
func MatchesDate(p Prefix, search, value DateRange) bool {
	r, ok := dateRules[p]
	if !ok {
		return false
	}
	all := true
	for _, c := range r.conds {
		if !c.holds(value, search) {
			all = false
			break
		}
	}
	return all != r.negate
}
