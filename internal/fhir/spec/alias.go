package spec

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// findAliases sets RowsOf and RowsTarget on the parameters of one type
// whose values other parameters of the type already index. Two forms are
// recognised, by comparing the terms of the expressions (their top-level
// "|" alternatives):
//
//   - a restriction: every term is E.where(resolve() is T) for one type T,
//     and the terms E are exactly those of one reference parameter;
//   - a union: the terms are exactly the terms of two or more parameters of
//     the same type, each of which has its own rows (for composites, with
//     the same component expressions and component types).
//
// A union's parameters are found among those with fewer terms, so
// parameters are looked at from the fewest terms up.
func findAliases(m map[string]*SearchParam) {
	codes := make([]string, 0, len(m))
	terms := make(map[string][]string, len(m))
	for c, p := range m {
		if p.Expression == "" || p.Type == ParamSpecial {
			continue
		}
		codes = append(codes, c)
		terms[c] = expressionTerms(p.Expression)
	}
	sort.Slice(codes, func(i, j int) bool {
		a, b := codes[i], codes[j]
		if len(terms[a]) != len(terms[b]) {
			return len(terms[a]) < len(terms[b])
		}
		return a < b
	})
	for _, c := range codes {
		p := m[c]
		if p.Type == ParamReference {
			if of, target, ok := restrictionOf(m, codes, terms, c); ok {
				p.RowsOf, p.RowsTarget = []string{of}, target
				continue
			}
		}
		if len(terms[c]) < 2 {
			continue
		}
		var parts []string
		covered := map[string]bool{}
		for _, q := range codes {
			qp := m[q]
			if q == c || qp.RowsOf != nil || qp.Type != p.Type || len(terms[q]) >= len(terms[c]) ||
				!subset(terms[q], terms[c]) || !sameComponents(m, p, qp) {
				continue
			}
			parts = append(parts, q)
			for _, t := range terms[q] {
				covered[t] = true
			}
		}
		if len(parts) >= 2 && len(covered) == len(uniq(terms[c])) {
			sort.Strings(parts)
			p.RowsOf = parts
		}
	}
}

var resolveIs = regexp.MustCompile(`^(.+)\.where\(resolve\(\) is ([A-Z][A-Za-z]*)\)$`)

// restrictionOf finds the reference parameter that code restricts to one
// target type, if it is such a restriction.
func restrictionOf(m map[string]*SearchParam, codes []string, terms map[string][]string, code string) (of, target string, ok bool) {
	var inner []string
	for _, t := range terms[code] {
		g := resolveIs.FindStringSubmatch(t)
		if g == nil || (target != "" && g[2] != target) {
			return "", "", false
		}
		inner, target = append(inner, g[1]), g[2]
	}
	for _, q := range codes {
		if q != code && m[q].Type == ParamReference && m[q].RowsOf == nil && sameSet(terms[q], inner) {
			return q, target, true
		}
	}
	return "", "", false
}

// sameComponents tells whether two parameters' composite components, if
// any, select the same values the same way.
func sameComponents(m map[string]*SearchParam, a, b *SearchParam) bool {
	if len(a.Components) != len(b.Components) {
		return false
	}
	for i, ca := range a.Components {
		cb := b.Components[i]
		pa, oka := m[ca.Code]
		pb, okb := m[cb.Code]
		if ca.Expression != cb.Expression || !oka || !okb || pa.Type != pb.Type {
			return false
		}
	}
	return true
}

// expressionTerms returns the top-level "|" alternatives of a FHIRPath
// expression, without parentheses around a whole one.
func expressionTerms(expr string) []string {
	terms := fhirpath.SplitUnion(expr)
	for i, t := range terms {
		terms[i] = unwrap(t)
	}
	return terms
}

// unwrap trims a term and removes parentheses that enclose all of it.
func unwrap(t string) string {
	t = strings.TrimSpace(t)
	for len(t) >= 2 && t[0] == '(' && t[len(t)-1] == ')' && closes(t) == len(t)-1 {
		t = strings.TrimSpace(t[1 : len(t)-1])
	}
	return t
}

// closes returns the index of the parenthesis closing the one t starts
// with.
func closes(t string) int {
	depth := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func subset(a, b []string) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool { return subset(a, b) && subset(b, a) }

func uniq(s []string) map[string]bool {
	out := make(map[string]bool, len(s))
	for _, t := range s {
		out[t] = true
	}
	return out
}
