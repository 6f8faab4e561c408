package index

//go:generate go run fold_gen.go

import (
	"strings"
	"unicode"
)

// NormalizeString returns s as string index entries store it and string
// searches compare it: lower-case, accents and other combining marks
// removed (é is e, ß is ss, æ is ae, ł is l, ά is α), runs of white space
// (Unicode) collapsed to one space, leading and trailing space removed.
// Punctuation is kept. Apply it to search values before a prefix match on
// the index.
func NormalizeString(s string) string {
	if isNormal(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r < 0x80:
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' {
				space = b.Len() > 0
				continue
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.Is(unicode.Mn, r):
			// A combining mark: drop it.
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			r = unicode.ToLower(r)
			if f, ok := foldTable[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// isNormal reports whether s is already normalised: printable ASCII
// without upper-case letters, with single spaces between words only.
func isNormal(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f || ('A' <= c && c <= 'Z') || (c == ' ' && s[i+1] == ' ') {
			return false
		}
	}
	return true
}
