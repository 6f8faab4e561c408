package index

import (
	"fmt"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// Component is one compiled component of a composite search parameter:
// the type of the search parameter that defines it ("token", "quantity",
// ...) and its expression, which is relative to a node the composite's own
// expression selects.
type Component struct {
	Type string
	Expr *fhirpath.Expr
}

// ExtractComposite evaluates the components of a composite search
// parameter on each node its expression selected, with resource as
// %resource, and returns for each such node the entries of every
// component, in component order: out[n][i] are the entries of component i
// in the n-th node that has them all. The values of one node belong
// together: for Observation.component, the code and the value of the same
// component.
//
// A node where some component gives no entries is left out, since a
// composite search names a value for every component. Token entries with
// neither system nor code (a CodeableConcept's text alone) are dropped:
// composite search has no :text.
func ExtractComposite(resource map[string]any, nodes []fhirpath.Node, comps []Component) [][]Entries {
	var out [][]Entries
	for _, n := range nodes {
		parts := make([]Entries, len(comps))
		complete := true
		for i, c := range comps {
			e := Extract(c.Type, c.Expr.EvalNode(resource, n))
			if c.Type == "token" {
				kept := e.Tokens[:0]
				for _, t := range e.Tokens {
					if t.System != "" || t.Code != "" {
						kept = append(kept, t)
					}
				}
				e.Tokens = kept
			}
			if e.Len() == 0 {
				complete = false
				break
			}
			parts[i] = e
		}
		if complete && len(comps) > 0 {
			out = append(out, parts)
		}
	}
	return out
}

// ParseCompositeValue splits a composite search value ("code$value") into
// its n component values at $ not escaped by a backslash, keeping escapes
// for the component parsers. It is an error when the number of parts is
// not n or a part is empty; the error quotes the value.
func ParseCompositeValue(s string, n int) ([]string, error) {
	parts := SplitComposite(s)
	if len(parts) != n {
		return nil, fmt.Errorf("%q has %d part(s); a value of this parameter has %d, separated by $ (a $ inside a part is written \\$)", s, len(parts), n)
	}
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q has an empty part %d; every part needs a value", s, i+1)
		}
	}
	return parts, nil
}

// Unescape resolves the search value escapes \| \, \$ and \\; any other
// backslash is kept.
func Unescape(s string) string { return unescape(s) }
