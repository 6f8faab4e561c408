package identity

import (
	"strings"
	"testing"
)

func TestParseRecoveryCode(t *testing.T) {
	const canon = "7k2m9qc4xr0dh8tvwa3pz5ye"
	for _, tc := range []struct {
		in   string
		want string // "" when refused
	}{
		{canon, canon},
		{"7k2m9q-c4xr0d-h8tvwa-3pz5ye", canon},
		{"7K2M9Q C4XR0D H8TVWA 3PZ5YE", canon},
		{" 7k2m9q\tc4xrOd-h8tvwa-3pz5ye ", canon},
		{"ikimmm-llllll-oooooo-000000", "1k1mmm111111000000000000"},
		{"", ""},
		{"7k2m9q-c4xr0d-h8tvwa-3pz5y", ""},   // 23
		{"7k2m9q-c4xr0d-h8tvwa-3pz5yee", ""}, // 25
		{"7k2m9q-c4xr0d-h8tvwa-3pz5yu", ""},  // u is not in the alphabet
		{"7k2m9q_c4xr0d_h8tvwa_3pz5ye", ""},
		{"7k2m9q-c4xr0d-h8tvwa-3pz5yé", ""},
		{strings.Repeat("-", 200) + canon, ""},
	} {
		got, ok := parseRecoveryCode(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("parseRecoveryCode(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	if f := formatRecoveryCode(canon); f != "7k2m9q-c4xr0d-h8tvwa-3pz5ye" {
		t.Errorf("format: %q", f)
	}
}

// FuzzParseRecoveryCode checks the parser's contract on any input: it never
// panics, what it accepts is canonical (24 characters of the alphabet),
// canonical codes parse to themselves, formatting round-trips, and case,
// spaces and hyphens never change the outcome.
func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"7k2m9q-c4xr0d-h8tvwa-3pz5ye", "IKIMMM LLLLLL OOOOOO 000000", "", "-", "uuuuuuuuuuuuuuuuuuuuuuuu", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseRecoveryCode(s)
		if !ok {
			if c != "" {
				t.Fatalf("refused %q but returned %q", s, c)
			}
			if _, ok := parseRecoveryCode(asciiUpper(s)); ok {
				t.Fatalf("%q refused but its upper case accepted", s)
			}
			return
		}
		if len(c) != recoveryCodeChars {
			t.Fatalf("%q parsed to %q of %d characters", s, c, len(c))
		}
		for i := 0; i < len(c); i++ {
			if !strings.Contains(crockfordAlphabet, c[i:i+1]) {
				t.Fatalf("%q parsed to %q with %q outside the alphabet", s, c, c[i])
			}
		}
		if again, ok := parseRecoveryCode(c); !ok || again != c {
			t.Fatalf("canonical %q parsed to %q %v", c, again, ok)
		}
		if again, ok := parseRecoveryCode(formatRecoveryCode(c)); !ok || again != c {
			t.Fatalf("formatted %q parsed to %q %v", formatRecoveryCode(c), again, ok)
		}
		if again, ok := parseRecoveryCode(asciiUpper(s)); !ok || again != c {
			t.Fatalf("%q parsed to %q but its upper case to %q %v", s, c, again, ok)
		}
		for _, v := range []string{strings.ToUpper(c), " " + c + " ", strings.Join(strings.Split(c, ""), "-")} {
			if again, ok := parseRecoveryCode(v); !ok || again != c {
				t.Fatalf("variant %q of %q parsed to %q %v", v, c, again, ok)
			}
		}
	})
}

// asciiUpper upper-cases ASCII letters only: the parser ignores their case
// and nothing else's.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestRecoveryEncodingIsTwentyFourCharacters(t *testing.T) {
	if n := recoveryEncoding.EncodedLen(recoveryCodeBytes); n != recoveryCodeChars {
		t.Fatalf("%d bytes encode to %d characters, want %d", recoveryCodeBytes, n, recoveryCodeChars)
	}
}
