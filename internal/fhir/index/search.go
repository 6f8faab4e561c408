package index

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Prefix is the comparison prefix of a date, number or quantity search
// value, as in "ge2024-01-01".
type Prefix string

// The prefixes of FHIR R4 search.
const (
	PrefixEq Prefix = "eq" // equal (the default)
	PrefixNe Prefix = "ne" // not equal
	PrefixGt Prefix = "gt" // greater than
	PrefixLt Prefix = "lt" // less than
	PrefixGe Prefix = "ge" // greater or equal
	PrefixLe Prefix = "le" // less or equal
	PrefixSa Prefix = "sa" // starts after
	PrefixEb Prefix = "eb" // ends before
	PrefixAp Prefix = "ap" // approximately
)

// splitPrefix takes the prefix off a date, number or quantity value. A
// value without one gets eq; two lower-case letters that are not a prefix
// are an error.
func splitPrefix(s string) (Prefix, string, error) {
	if len(s) >= 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' {
		switch p := Prefix(s[:2]); p {
		case PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb, PrefixAp:
			return p, s[2:], nil
		}
		return "", "", fmt.Errorf("%q has an unknown prefix %q (want eq, ne, gt, lt, ge, le, sa, eb or ap)", s, s[:2])
	}
	return PrefixEq, s, nil
}

// ParseDateValue parses a date search value: an optional prefix, then a
// date as ParseDate takes it ("ge2024-01-01", "2024", "lt2024-03-01T10:00:00Z",
// "2024-03-01T10:00:00+02:00"). The prefix defaults to eq. The error names
// the value and what is wrong with it.
func ParseDateValue(s string) (Prefix, DateRange, error) {
	p, rest, err := splitPrefix(s)
	if err != nil {
		return "", DateRange{}, err
	}
	r, err := ParseDate(rest)
	if err != nil {
		return "", DateRange{}, fmt.Errorf("%q is not a valid date (%v); use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.sss]][Z|±hh:mm], optionally after a prefix such as ge", s, err)
	}
	return p, r, nil
}

// ParseNumberValue parses a number search value: an optional prefix, then
// a decimal number ("gt5", "100", "-0.5", "1e3"). It returns the prefix
// (eq by default), the value, and the number as written, whose precision
// sets the implicit range of eq (see ImplicitRange).
func ParseNumberValue(s string) (Prefix, float64, string, error) {
	p, rest, err := splitPrefix(s)
	if err != nil {
		return "", 0, "", err
	}
	f, err := parseDecimal(rest)
	if err != nil {
		return "", 0, "", fmt.Errorf("%q is not a valid number (%v)", s, err)
	}
	return p, f, rest, nil
}

// parseDecimal parses -?digits[.digits][e[+-]digits], finite.
func parseDecimal(s string) (float64, error) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, errors.New("expected digits")
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return 0, errors.New("expected digits after the decimal point")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return 0, errors.New("expected digits in the exponent")
		}
	}
	if i != len(s) {
		return 0, errors.New("unexpected characters")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, errors.New("out of range")
	}
	return f, nil
}

// ImplicitRange returns the range a decimal number stands for given its
// precision, [value - half a unit of the last digit, value + half a unit):
// "100" is [99.5, 100.5), "100.00" is [99.995, 100.005), "1e2" is
// [50, 150). FHIR search compares eq, ne and ap with this range.
func ImplicitRange(decimal string) (low, high float64, err error) {
	f, err := parseDecimal(decimal)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a valid number (%v)", decimal, err)
	}
	mant, exp, _ := strings.Cut(strings.ToLower(decimal), "e")
	e := 0
	if exp != "" {
		e, _ = strconv.Atoi(exp)
	}
	if _, frac, ok := strings.Cut(mant, "."); ok {
		e -= len(frac)
	}
	half := math.Pow(10, float64(e)) / 2
	return f - half, f + half, nil
}

// ParseQuantityValue parses a quantity search value:
// [prefix]number[|system|code], as in "5.4|http://unitsofmeasure.org|mg",
// "gt5.4||mg" (any system; the code may match the unit) or "5.4". System
// and code are unescaped (\| \, \$ \\). The Quantity's Value and Decimal
// hold the number; Unit stays empty.
func ParseQuantityValue(s string) (Prefix, Quantity, error) {
	parts := splitUnescaped(s, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return "", Quantity{}, fmt.Errorf("%q is not a valid quantity; use [prefix]number or [prefix]number|system|code", s)
	}
	p, f, dec, err := ParseNumberValue(parts[0])
	if err != nil {
		return "", Quantity{}, fmt.Errorf("%q is not a valid quantity: %w", s, err)
	}
	q := Quantity{Value: f, Decimal: dec}
	if len(parts) == 3 {
		q.System = unescape(parts[1])
		q.Code = unescape(parts[2])
	}
	return p, q, nil
}

// ParseTokenValue parses a token search value:
//
//	"code"         any system: hasSystem false
//	"system|code"  that code in that system
//	"|code"        that code without a system: hasSystem true, system ""
//	"system|"      any code of that system: code ""
//
// It splits at the first unescaped |; both parts are unescaped (\| \, \$
// \\), so later | belong to the code (the :of-type modifier needs its own
// parsing).
func ParseTokenValue(s string) (system string, hasSystem bool, code string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			return unescape(s[:i]), true, unescape(s[i+1:])
		}
	}
	return "", false, unescape(s)
}

// SplitOr splits a search parameter value into the values it joins with
// OR, at commas not escaped by a backslash. Escapes are kept for the value
// parsers to handle.
func SplitOr(s string) []string { return splitUnescaped(s, ',') }

// SplitComposite splits a composite search value at $ not escaped by a
// backslash, keeping escapes.
func SplitComposite(s string) []string { return splitUnescaped(s, '$') }

func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape resolves the search escapes \| \, \$ and \\; any other
// backslash is kept.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '|', ',', '$', '\\':
				b.WriteByte(s[i+1])
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
