package index

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in, low, high string
	}{
		{"2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2023-02", "2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z"},
		{"2024-12", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2000-02-29", "2000-02-29T00:00:00Z", "2000-03-01T00:00:00Z"},
		{"2024-12-31", "2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-03-01T10:00", "2024-03-01T10:00:00Z", "2024-03-01T10:01:00Z"},
		{"2024-03-01T10:00Z", "2024-03-01T10:00:00Z", "2024-03-01T10:01:00Z"},
		{"2024-03-01T10:00:00", "2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z"},
		{"2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z"},
		{"2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00Z", "2024-03-01T08:00:01Z"},
		{"2024-03-01T10:00:00 02:00", "2024-03-01T08:00:00Z", "2024-03-01T08:00:01Z"},
		{"2024-03-01T10:00:00-05:00", "2024-03-01T15:00:00Z", "2024-03-01T15:00:01Z"},
		{"2024-03-01T01:00:00+05:30", "2024-02-29T19:30:00Z", "2024-02-29T19:30:01Z"},
		{"2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z", "2025-01-01T00:30:01Z"},
		{"2024-03-01T10:00:00+14:00", "2024-02-29T20:00:00Z", "2024-02-29T20:00:01Z"},
		{"2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00.6Z"},
		{"2024-03-01T10:00:00.25Z", "2024-03-01T10:00:00.25Z", "2024-03-01T10:00:00.26Z"},
		{"2011-10-14T23:37:54.530+00:00", "2011-10-14T23:37:54.53Z", "2011-10-14T23:37:54.531Z"},
		{"2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.123Z", "2024-03-01T10:00:00.124Z"},
		{"2024-03-01T10:00:00.999Z", "2024-03-01T10:00:00.999Z", "2024-03-01T10:00:01Z"},
		{"2024-03-01T23:59:59.999+00:00", "2024-03-01T23:59:59.999Z", "2024-03-02T00:00:00Z"},
		{"0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.001Z"}, // before MinTime
		{"0001-01-01T00:30:00+00:10", "0001-01-01T00:20:00Z", "0001-01-01T00:20:01Z"},
		{"9999", "9999-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"}, // clamped to MaxTime
		{"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z"},
		{"9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.998Z", "9999-12-31T23:59:59.999Z"}, // after MaxTime
		{"1900-01-01", "1900-01-01T00:00:00Z", "1900-01-02T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if err != nil {
			t.Errorf("ParseDate(%q): %v", tt.in, err)
			continue
		}
		if !got.Low.Equal(utc(tt.low)) || !got.High.Equal(utc(tt.high)) {
			t.Errorf("ParseDate(%q) = [%s, %s), want [%s, %s)", tt.in,
				got.Low.Format(time.RFC3339Nano), got.High.Format(time.RFC3339Nano), tt.low, tt.high)
		}
		if got.Low.Location() != time.UTC || got.High.Location() != time.UTC {
			t.Errorf("ParseDate(%q): not UTC", tt.in)
		}
		if got.Low.Nanosecond()%1e6 != 0 || got.High.Nanosecond()%1e6 != 0 {
			t.Errorf("ParseDate(%q): bounds not whole milliseconds", tt.in)
		}
	}
}

func TestParseDateErrors(t *testing.T) {
	for _, in := range []string{
		"", "24", "202", "abcd", "0000", "2024-1", "2024-13", "2024-00", "2024-01-32", "2024-04-31",
		"2023-02-29", "1900-02-29", "2100-02-29", "2024/01/01", "2024-01-01 10:00", "2024-01-01T",
		"2024-01-01T10", "2024-01-01T24:00", "2024-01-01T10:60", "2024-01-01T10:00:60Z",
		"2024-01-01T10:00:0", "2024-01-01T10:00:00.Z", "2024-01-01T10:00:00+15:00",
		"2024-01-01T10:00:00+02", "2024-01-01T10:00:00+02:60", "2024-01-01Z", "2024-01-01T10:00:00ZZ",
		"2024-01-01T10:00:00Z ", " 2024", "2024-01-01T10:00:00+0200", "2024-01-01t10:00:00z", "-2024",
	} {
		if r, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, r)
		}
	}
}

func TestParseDateValue(t *testing.T) {
	tests := []struct {
		in     string
		prefix Prefix
		low    string
	}{
		{"2024", PrefixEq, "2024-01-01T00:00:00Z"},
		{"eq2024", PrefixEq, "2024-01-01T00:00:00Z"},
		{"ge2024-01-01", PrefixGe, "2024-01-01T00:00:00Z"},
		{"lt2024-03-01T10:00:00Z", PrefixLt, "2024-03-01T10:00:00Z"},
		{"2024-03-01T10:00:00+02:00", PrefixEq, "2024-03-01T08:00:00Z"},
		{"ne2024-03", PrefixNe, "2024-03-01T00:00:00Z"},
		{"gt2024", PrefixGt, "2024-01-01T00:00:00Z"},
		{"le2024", PrefixLe, "2024-01-01T00:00:00Z"},
		{"sa2024", PrefixSa, "2024-01-01T00:00:00Z"},
		{"eb2024", PrefixEb, "2024-01-01T00:00:00Z"},
		{"ap2024", PrefixAp, "2024-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		p, r, err := ParseDateValue(tt.in)
		if err != nil {
			t.Errorf("ParseDateValue(%q): %v", tt.in, err)
			continue
		}
		if p != tt.prefix || !r.Low.Equal(utc(tt.low)) {
			t.Errorf("ParseDateValue(%q) = %s %v, want %s %s", tt.in, p, r.Low, tt.prefix, tt.low)
		}
	}
	for _, in := range []string{"", "ge", "xx2024", "GE2024", "ge 2024", "gt2024-13", "2024-01-01T10:00:00.1234+25:00", "today"} {
		_, _, err := ParseDateValue(in)
		if err == nil {
			t.Errorf("ParseDateValue(%q): no error", in)
			continue
		}
		if !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseDateValue(%q): error %q does not name the value", in, err)
		}
	}
}

func TestMillis(t *testing.T) {
	if got := Millis(MinTime); got != -62135596800000 {
		t.Errorf("Millis(MinTime) = %d", got)
	}
	if got := Millis(MaxTime); got != 253402300799999 {
		t.Errorf("Millis(MaxTime) = %d", got)
	}
	r, _ := ParseDate("2011-10-14T23:37:54.530+00:00")
	if Millis(r.High)-Millis(r.Low) != 1 {
		t.Errorf("one millisecond range: %d", Millis(r.High)-Millis(r.Low))
	}
}

func rng(low, high string) DateRange {
	parse := func(s string) time.Time {
		switch s {
		case "-inf":
			return MinTime
		case "+inf":
			return MaxTime
		}
		r, err := ParseDate(s)
		if err != nil {
			panic(err)
		}
		return r.Low
	}
	return DateRange{Low: parse(low), High: parse(high)}
}

func TestMatchesDate(t *testing.T) {
	march := rng("2024-03", "2024-04")
	prefixes := []Prefix{PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb, PrefixAp}
	tests := []struct {
		name  string
		value DateRange
		want  string // one letter per prefix, in the order above: T or F
	}{
		{"day inside", rng("2024-03-15", "2024-03-16"), "TFFFTTFFT"},
		{"the same month", march, "TFFFTTFFT"},
		{"first instant", rng("2024-03-01T00:00:00Z", "2024-03-01T00:00:01Z"), "TFFFTTFFT"},
		{"last millisecond", rng("2024-03-31T23:59:59.999Z", "2024-04-01"), "TFFFTTFFT"},
		{"day before", rng("2024-02-29", "2024-03-01"), "FTFTFTFTF"},
		{"day after", rng("2024-04-01", "2024-04-02"), "FTTFTFTFF"},
		{"earlier day", rng("2024-02-10", "2024-02-11"), "FTFTFTFTF"},
		{"later day", rng("2024-04-10", "2024-04-11"), "FTTFTFTFF"},
		{"overlaps start", rng("2024-02-15", "2024-03-16"), "FTFTFTFFT"},
		{"overlaps end", rng("2024-03-15", "2024-04-16"), "FTTFTFFFT"},
		{"contains search", rng("2024-02-01", "2024-05-01"), "FTTTTTFFT"},
		{"the year", rng("2024", "2025"), "FTTTTTFFT"},
		{"open start, ends inside", rng("-inf", "2024-03-11"), "FTFTFTFFT"},
		{"open start, ends before", rng("-inf", "2024-02-11"), "FTFTFTFTF"},
		{"open end, starts inside", rng("2024-03-10", "+inf"), "FTTFTFFFT"},
		{"open end, starts after", rng("2024-05-10", "+inf"), "FTTFTFTFF"},
		{"open both", rng("-inf", "+inf"), "FTTTTTFFT"},
	}
	for _, tt := range tests {
		var got strings.Builder
		for _, p := range prefixes {
			if MatchesDate(p, march, tt.value) {
				got.WriteByte('T')
			} else {
				got.WriteByte('F')
			}
		}
		if got.String() != tt.want {
			t.Errorf("%s: got %s, want %s (eq ne gt lt ge le sa eb ap)", tt.name, got.String(), tt.want)
		}
	}
	if MatchesDate("xx", march, march) {
		t.Error("unknown prefix matched")
	}
}

// TestMatchesDateModel checks MatchesDate against the wording of the FHIR
// prefix table applied to sets of points, over every pair of small ranges.
func TestMatchesDateModel(t *testing.T) {
	const n = 7
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	// Points are 0..n-1; a range [a, b) holds a..b-1.
	type set [n]bool
	mk := func(a, b int) (s set) {
		for i := a; i < b; i++ {
			s[i] = true
		}
		return s
	}
	subset := func(x, y set) bool {
		for i := range x {
			if x[i] && !y[i] {
				return false
			}
		}
		return true
	}
	meets := func(x, y set) bool {
		for i := range x {
			if x[i] && y[i] {
				return true
			}
		}
		return false
	}
	for sa := 1; sa < n-1; sa++ { // keep room above and below the search range
		for sb := sa + 1; sb < n; sb++ {
			S := mk(sa, sb)
			above, below := mk(sb, n), mk(0, sa)
			for va := 0; va < n; va++ {
				for vb := va + 1; vb <= n; vb++ {
					V := mk(va, vb)
					eq := subset(V, S)
					gt := meets(above, V)
					lt := meets(below, V)
					want := map[Prefix]bool{
						PrefixEq: eq,
						PrefixNe: !eq,
						PrefixGt: gt,
						PrefixLt: lt,
						PrefixGe: gt || eq,
						PrefixLe: lt || eq,
						PrefixSa: !meets(S, V) && subset(V, above),
						PrefixEb: !meets(S, V) && subset(V, below),
						PrefixAp: meets(S, V),
					}
					search := DateRange{Low: at(sa), High: at(sb)}
					value := DateRange{Low: at(va), High: at(vb)}
					for p, w := range want {
						if got := MatchesDate(p, search, value); got != w {
							t.Errorf("%s: search [%d,%d) value [%d,%d): got %v, want %v", p, sa, sb, va, vb, got, w)
						}
					}
				}
			}
		}
	}
}

func TestDateConditions(t *testing.T) {
	for _, p := range []Prefix{PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb, PrefixAp} {
		conds := DateConditions(p)
		if len(conds) == 0 {
			t.Errorf("%s: no conditions", p)
		}
		for _, c := range conds {
			if (c.Left != "low" && c.Left != "high") || (c.Right != "low" && c.Right != "high") ||
				!strings.Contains("< <= > >=", c.Op) {
				t.Errorf("%s: bad condition %+v", p, c)
			}
		}
		conds[0].Op = "changed"
		if DateConditions(p)[0].Op == "changed" {
			t.Errorf("%s: the table is shared with callers", p)
		}
	}
	negated := map[Prefix]bool{PrefixNe: true, PrefixGe: true, PrefixLe: true}
	for _, p := range []Prefix{PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb, PrefixAp} {
		if DateNegated(p) != negated[p] {
			t.Errorf("DateNegated(%s) = %v", p, DateNegated(p))
		}
	}
	if DateConditions("xx") != nil || DateNegated("xx") {
		t.Error("unknown prefix has conditions")
	}
	if got := (Cond{"high", ">", "high"}).String(); got != "value.high > search.high" {
		t.Errorf("String() = %q", got)
	}
}
