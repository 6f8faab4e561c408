package index

import (
	"strings"
	"testing"
)

func FuzzParseDateValue(f *testing.F) {
	for _, s := range []string{
		"2024", "ge2024-01-01", "lt2024-03-01T10:00:00Z", "2024-03-01T10:00:00+02:00", "2024-02-29",
		"2023-02-29", "2024-03-01T10:00:00.123456789Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
		"xx2024", "", "eq", "2024-13", "2024-01-01T24:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, r, err := ParseDateValue(s)
		if err != nil {
			if !strings.Contains(err.Error(), "\"") {
				t.Fatalf("%q: error %q does not quote the value", s, err)
			}
			return
		}
		if DateConditions(p) == nil {
			t.Fatalf("%q: prefix %q has no conditions", s, p)
		}
		if !r.Low.Before(r.High) || r.Low.Before(MinTime) || r.High.After(MaxTime) {
			t.Fatalf("%q: bad range [%v, %v)", s, r.Low, r.High)
		}
		if r.Low.Nanosecond()%1e6 != 0 || r.High.Nanosecond()%1e6 != 0 {
			t.Fatalf("%q: bounds not whole milliseconds", s)
		}
		if !MatchesDate(PrefixEq, r, r) || MatchesDate(PrefixNe, r, r) || !MatchesDate(PrefixAp, r, r) {
			t.Fatalf("%q: a range does not equal itself", s)
		}
	})
}

func FuzzParseTokenValue(f *testing.F) {
	for _, s := range []string{"http://loinc.org|1234-5", "|code", "system|", "code", `a\|b|c\,d\$e\\`, `\`, "|", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		system, has, code := ParseTokenValue(s)
		if !has && system != "" {
			t.Fatalf("%q: system %q without hasSystem", s, system)
		}
		if len(system)+len(code) > len(s) {
			t.Fatalf("%q: parts longer than the value", s)
		}
		// Escaping the parts again and joining them gives the same parts.
		esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`)
		again := esc.Replace(code)
		if has {
			again = esc.Replace(system) + "|" + again
		}
		s2, has2, c2 := ParseTokenValue(again)
		if s2 != system || has2 != has || c2 != code {
			t.Fatalf("%q: round trip through %q gives %q %v %q, want %q %v %q", s, again, s2, has2, c2, system, has, code)
		}
		// SplitOr keeps every byte.
		if strings.Join(SplitOr(s), ",") != s {
			t.Fatalf("%q: SplitOr loses text", s)
		}
	})
}

func FuzzNormalizeString(f *testing.F) {
	for _, s := range []string{"Müller", "  a  b ", "Straße", "e\u0301", "\xff", "ǅ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeString(s)
		if NormalizeString(n) != n {
			t.Fatalf("%q: not idempotent: %q then %q", s, n, NormalizeString(n))
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("%q: white space left in %q", s, n)
		}
	})
}

func FuzzParseNumberValue(f *testing.F) {
	for _, s := range []string{"5", "gt5.4", "-1e3", "1e999", "", "ap0.00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, v, text, err := ParseNumberValue(s)
		if err != nil {
			return
		}
		if DateConditions(p) == nil {
			t.Fatalf("%q: bad prefix %q", s, p)
		}
		lo, hi, err := ImplicitRange(text)
		if err != nil || !(lo <= v && v <= hi) {
			t.Fatalf("%q: implicit range [%v, %v] %v does not hold %v", s, lo, hi, err, v)
		}
		if _, _, err := ParseQuantityValue(s + "|http://unitsofmeasure.org|mg"); err != nil {
			t.Fatalf("%q: as a quantity: %v", s, err)
		}
	})
}
