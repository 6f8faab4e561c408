package sms

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// NormalizePhone returns a phone number in E.164 form: "+1 (555)
// 123-4567" becomes "+15551234567". The number must start with '+' and
// its country code; spaces, hyphens, dots and parentheses between the
// digits are dropped. It must then have 8 to 15 digits, the first not 0.
// Anything else (letters, an extension, a second '+') is an error that
// says what is wrong.
func NormalizePhone(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.HasPrefix(s, "+") {
		return "", errors.New("a phone number starts with + and its country code (+1 555 123 4567)")
	}
	if len(s) > 64 {
		return "", errors.New("too long for a phone number")
	}
	digits := make([]byte, 1, 16)
	digits[0] = '+'
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			if len(digits) == 16 {
				return "", errors.New("a phone number has at most 15 digits")
			}
			digits = append(digits, byte(r))
		case r == '-' || r == '.' || r == '(' || r == ')' || unicode.IsSpace(r):
		default:
			return "", fmt.Errorf("%q does not belong in a phone number (digits only, after the +)", r)
		}
	}
	n := len(digits) - 1
	switch {
	case n < 8:
		return "", fmt.Errorf("a phone number has at least 8 digits; this has %d", n)
	case digits[1] == '0':
		return "", errors.New("a country code does not start with 0")
	}
	return string(digits), nil
}
