package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/careloop/careloop/internal/fhir/spec"
)

// A primitiveRule checks the text of a primitive value (string contents, or
// the literal text of a number).
type primitiveRule struct {
	re   *regexp.Regexp
	fast func([]byte) bool // same verdict as re, faster; nil to use re
}

// rules is indexed by spec.Primitive.Index.
var rules = sync.OnceValue(func() []primitiveRule {
	prims := spec.Primitives()
	out := make([]primitiveRule, len(prims))
	for i, p := range prims {
		if p.Regex != "" {
			out[i].re = regexp.MustCompile(`^(?:` + p.Regex + `)$`)
		}
		out[i].fast = fastChecks[p.Name]
	}
	return out
})

// fastChecks are hand-written equivalents of the regexes of the most common
// primitive types (a test checks them against the regexes). Go's \s is
// [\t\n\f\r ].
var fastChecks = map[string]func([]byte) bool{
	"string":    isFHIRString,
	"markdown":  isFHIRString,
	"uri":       noSpace,
	"url":       noSpace,
	"canonical": noSpace,
	"code":      isCode,
	"id":        isID,
	"boolean": func(b []byte) bool {
		return string(b) == "true" || string(b) == "false"
	},
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// isFHIRString matches [ \r\n\t\S]+: anything but a form feed.
func isFHIRString(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c == '\f' {
			return false
		}
	}
	return true
}

// noSpace matches \S*.
func noSpace(b []byte) bool {
	for _, c := range b {
		if isSpace(c) {
			return false
		}
	}
	return true
}

// isCode matches [^\s]+(\s[^\s]+)*: words separated by single spaces.
func isCode(b []byte) bool {
	if len(b) == 0 || isSpace(b[0]) || isSpace(b[len(b)-1]) {
		return false
	}
	for i := 1; i < len(b); i++ {
		if isSpace(b[i]) && isSpace(b[i-1]) {
			return false
		}
	}
	return true
}

// isID matches [A-Za-z0-9\-\.]{1,64}.
func isID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkPrimitive checks the text of a value of primitive type p and returns
// what is wrong with it, or "".
func checkPrimitive(p *spec.Primitive, text []byte) string {
	r := rules()[p.Index]
	ok := true
	switch {
	case r.fast != nil:
		ok = r.fast(text)
	case r.re != nil:
		ok = r.re.Match(text)
	}
	if !ok {
		return fmt.Sprintf("%s is not a valid %s", quoteText(text), p.Name)
	}
	switch p.Name {
	case "integer", "positiveInt", "unsignedInt":
		// The regexes allow any length; FHIR integers are 32-bit.
		n, err := strconv.ParseInt(string(text), 10, 32)
		if err != nil {
			return fmt.Sprintf("%s is out of range for %s (32-bit)", quoteText(text), p.Name)
		}
		if p.Name == "positiveInt" && n < 1 || p.Name == "unsignedInt" && n < 0 {
			return fmt.Sprintf("%s is out of range for %s", quoteText(text), p.Name)
		}
	case "date", "dateTime", "instant":
		// The regexes allow 2023-02-31.
		if len(text) >= 10 && !validDay(text) {
			return fmt.Sprintf("%s is not a valid %s: no such day", quoteText(text), p.Name)
		}
	}
	return ""
}

// validDay checks the day of a matched date "YYYY-MM-DD...".
func validDay(t []byte) bool {
	year := int(t[0]-'0')*1000 + int(t[1]-'0')*100 + int(t[2]-'0')*10 + int(t[3]-'0')
	month := int(t[5]-'0')*10 + int(t[6]-'0')
	day := int(t[8]-'0')*10 + int(t[9]-'0')
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

func quoteText(b []byte) string {
	const max = 64
	if len(b) > max {
		return "'" + string(b[:max]) + "...'"
	}
	return "'" + string(b) + "'"
}
