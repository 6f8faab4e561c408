package spec

import (
	"strings"
	"sync"
)

// ParamType is the type of a search parameter, which decides how its values
// are indexed and matched.
type ParamType string

// The search parameter types of FHIR R4.
const (
	ParamNumber    ParamType = "number"
	ParamDate      ParamType = "date"
	ParamString    ParamType = "string"
	ParamToken     ParamType = "token"
	ParamReference ParamType = "reference"
	ParamComposite ParamType = "composite"
	ParamQuantity  ParamType = "quantity"
	ParamURI       ParamType = "uri"
	ParamSpecial   ParamType = "special"
)

// SearchParam is one search parameter as it applies to one resource type.
type SearchParam struct {
	// Code is the name used in search URLs, e.g. "subject" or "_id".
	Code string
	Type ParamType
	// Expression is the FHIRPath expression that selects the values to
	// index, restricted to this resource type: of the official union over
	// all the bases of the definition, only the members on this type are
	// kept, joined with " | ". Parameters defined on Resource or
	// DomainResource (_id, _lastUpdated, ...) are rewritten onto the type
	// ("Patient.meta.lastUpdated"). Empty for _text, _content and _query,
	// which have no expression.
	Expression string
	// Targets lists the resource types a reference parameter may point to,
	// sorted; nil for other types.
	Targets []string
	// Components lists the parts of a composite parameter, in order.
	Components []Component
	// URL is the canonical URL of the SearchParameter definition.
	URL string
	// RowsOf, when not nil, names other parameters of the type whose
	// search index rows hold all of this parameter's values, so that it
	// needs none of its own: its expression is the union of theirs (on
	// Observation, combo-code is code | component-code), or, when
	// RowsTarget is not empty, theirs limited to references to that type
	// (patient is subject.where(resolve() is Patient)). See findAliases.
	RowsOf     []string
	RowsTarget string
}

// Component is one part of a composite search parameter: the code of the
// search parameter that defines it and the FHIRPath expression, relative to
// the composite's own expression, that selects its value.
type Component struct {
	Code       string
	Expression string
}

type searchParamDef struct {
	code, typ, url, targets string
	components              []Component
}

type searchParamBase struct {
	base, code string
	def        int
	expr       string
}

var searchIndex = sync.OnceValue(func() map[string]map[string]*SearchParam {
	idx := make(map[string]map[string]*SearchParam, len(resourceTypes))
	for _, r := range searchParamBases {
		d := searchParamDefs[r.def]
		m := idx[r.base]
		if m == nil {
			m = make(map[string]*SearchParam)
			idx[r.base] = m
		}
		p := &SearchParam{
			Code:       d.code,
			Type:       ParamType(d.typ),
			Expression: r.expr,
			Components: d.components,
			URL:        d.url,
		}
		if d.targets != "" {
			p.Targets = strings.Fields(d.targets)
		}
		m[d.code] = p
	}
	for _, m := range idx {
		findAliases(m)
	}
	return idx
})

// SearchParams returns the search parameters of a resource type keyed by
// code, including those defined on Resource and DomainResource that apply to
// every type (_id, _lastUpdated, _tag, _profile, _security, _source, _text,
// _content, _query). It returns nil for an unknown type. The map and the
// parameters are shared: callers must not modify them.
func SearchParams(resourceType string) map[string]*SearchParam {
	return searchIndex()[resourceType]
}

// LookupSearchParam returns the search parameter code of resourceType, and
// whether there is one.
func LookupSearchParam(resourceType, code string) (*SearchParam, bool) {
	p, ok := searchIndex()[resourceType][code]
	return p, ok
}
