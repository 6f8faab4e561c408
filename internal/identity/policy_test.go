package identity_test

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
)

func TestCheckPassword(t *testing.T) {
	inputs := []string{"ana.silva@clinic.example", "Ana Silva"}
	for _, tc := range []struct {
		name     string
		password string
		ok       bool
		says     string // part of the message when refused
	}{
		{"empty", "", false, "at least 8 characters"},
		{"seven characters", "x7#kQ2p", false, "this one has 7"},
		{"common", "password123", false, "common password"},
		{"common, capitalised", "Password123!", false, "easy to guess"},
		{"most common", "12345678", false, "easy to guess"},
		{"keyboard walk", "qwertyuiop", false, "easy to guess"},
		{"repeats", "aaaaaaaaaaaa", false, "easy to guess"},
		{"contains the email's name", "anasilva2024", false, "your name, your email address"},
		{"contains the email", "ana.silva@clinic.example", false, "your name, your email address"},
		{"the service's name", "careloop2026", false, "name of the service"},
		{"only spaces", strings.Repeat(" ", 12), false, ""},
		{"strong passphrase", "correct horse battery staple", true, ""},
		{"passphrase with spaces and case", "Tidal Ferns Argue Quietly", true, ""},
		{"no composition rules: lower case letters only", "glimmervoxtrunklepadda", true, ""},
		{"64 characters", strings.Repeat("qz8#Lm2$", 8), true, ""},
		{"256 characters", strings.Repeat("bramble cinder ", 18)[:256], true, ""},
		{"257 characters", strings.Repeat("x", 257), false, "at most 256"},
		{"random but too short to resist guessing", "x7#kQ2pW", false, "too short to resist guessing"},
		{"unicode counted by runes: 7 runes, 21 bytes", "日本語の秘密文", false, "this one has 7"},
		{"unicode passphrase", "наивный кот читает стихи", true, ""},
		{"unicode counted by runes: 256 runes, 472 bytes", string([]rune(strings.Repeat("наивный кот читает стихи ", 11))[:256]), true, ""},
		{"unicode counted by runes: 257 runes", strings.Repeat("ж", 257), false, "this one has 257"},
		{"emoji", "🦊🌲🔥🐙🎻🚲🧭🍄🪁🦉", true, ""},
		{"invalid UTF-8", "abc\xffdefghij", false, "not text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := identity.CheckPassword(tc.password, inputs...)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != "password" {
				t.Fatalf("got %v, want an invalid password", err)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
		})
	}
	if long := string([]rune(strings.Repeat("наивный кот читает стихи ", 11))[:256]); len(long) != 472 {
		t.Errorf("the 256-rune case has %d bytes", len(long))
	}
	// The user inputs matter: these pass without them.
	for _, pw := range []string{"anasilva-ferns", "anasilvaclinicexample", "Ana.Silva@Clinic"} {
		if err := identity.CheckPassword(pw); err != nil {
			t.Errorf("%q without user inputs: %v", pw, err)
		}
		if err := identity.CheckPassword(pw, inputs...); !strings.Contains(errs.MessageOf(err), "your name, your email address") {
			t.Errorf("%q with user inputs: %v", pw, err)
		}
	}
	// A strong passphrase may still mention the person.
	if err := identity.CheckPassword("silva tidal ferns argue quietly", inputs...); err != nil {
		t.Errorf("strong passphrase with the surname: %v", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	current, err := identity.HashPassword("correct horse battery staple", identity.DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	stronger := identity.DefaultPasswordParams
	stronger.MemoryKiB *= 2
	strong, _ := identity.HashPassword("pw", stronger)
	weak := func(f func(*identity.PasswordParams)) string {
		p := identity.DefaultPasswordParams
		p.MemoryKiB = 64 // keep the test fast; each case lowers one more
		f(&p)
		h, err := identity.HashPassword("pw", p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for name, tc := range map[string]struct {
		hash string
		want bool
	}{
		"default parameters":  {current, false},
		"stronger parameters": {strong, false},
		"less memory":         {weak(func(*identity.PasswordParams) {}), true},
		"fewer passes":        {strings.Replace(current, "t=2", "t=1", 1), true},
		"shorter key":         {current[:strings.LastIndex(current, "$")+1] + "c2hvcnRrZXlzaG9ydGtleQ", true},
		"not argon2id":        {"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true},
		"empty":               {"", true},
	} {
		if got := identity.NeedsRehash(tc.hash); got != tc.want {
			t.Errorf("%s: NeedsRehash(%q) = %v, want %v", name, tc.hash, got, tc.want)
		}
	}
}

// BenchmarkCheckPassword measures the strength estimate on a long
// passphrase, its slowest usual input.
func BenchmarkCheckPassword(b *testing.B) {
	pw := strings.Repeat("bramble cinder ", 18)[:256]
	for b.Loop() {
		if err := identity.CheckPassword(pw, "ana.silva@clinic.example", "Ana Silva"); err != nil {
			b.Fatal(err)
		}
	}
}
