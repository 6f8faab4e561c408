package fhirpath

import "strings"

// SplitUnion splits an expression at its top-level '|' operators, leaving
// those inside parentheses, brackets and string literals alone, and trims
// each part.
func SplitUnion(expr string) []string {
	var parts []string
	depth, start := 0, 0
	quoted := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '\'' {
				quoted = false
			}
		case c == '\'':
			quoted = true
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, strings.TrimSpace(expr[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(expr[start:]))
}
