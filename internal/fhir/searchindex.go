package fhir

import (
	"bytes"
	"encoding/json"
	"sort"
	"sync"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
	"github.com/careloop/careloop/internal/fhir/index"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/errs"
)

// SpecIndexer indexes resources by the R4 search parameters of their type,
// evaluating each parameter's FHIRPath expression. It is safe for
// concurrent use; expressions are compiled once per type.
type SpecIndexer struct {
	mu      sync.RWMutex
	byType  map[string][]compiledParam
	skipped map[string][]string // type -> parameters whose expressions are not supported
}

type compiledParam struct {
	code, kind string
	expr       *fhirpath.Expr
}

// NewSpecIndexer returns an indexer for the R4 search parameters.
func NewSpecIndexer() *SpecIndexer {
	return &SpecIndexer{byType: map[string][]compiledParam{}, skipped: map[string][]string{}}
}

// indexedKinds are the parameter types kept in the index tables.
var indexedKinds = map[string]bool{"token": true, "string": true, "date": true, "reference": true, "quantity": true, "number": true, "uri": true}

// params returns the compiled parameters of a type.
func (x *SpecIndexer) params(typ string) []compiledParam {
	x.mu.RLock()
	ps, ok := x.byType[typ]
	x.mu.RUnlock()
	if ok {
		return ps
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if ps, ok := x.byType[typ]; ok {
		return ps
	}
	defs := spec.SearchParams(typ)
	codes := make([]string, 0, len(defs))
	for c := range defs {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		d := defs[c]
		if !indexedKinds[string(d.Type)] || c == "_id" || c == "_lastUpdated" || d.Expression == "" {
			continue
		}
		e, err := fhirpath.Compile(d.Expression)
		if err != nil {
			x.skipped[typ] = append(x.skipped[typ], c)
			continue
		}
		ps = append(ps, compiledParam{code: c, kind: string(d.Type), expr: e})
	}
	x.byType[typ] = ps
	return ps
}

// Unsupported returns the search parameters of typ that cannot be indexed
// because their expressions use FHIRPath this server does not evaluate.
func (x *SpecIndexer) Unsupported(typ string) []string {
	x.params(typ)
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]string(nil), x.skipped[typ]...)
}

// Index returns the index entries of a resource.
func (x *SpecIndexer) Index(typ string, raw []byte) ([]IndexEntry, error) {
	ps := x.params(typ)
	if len(ps) == 0 {
		return nil, nil
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, errs.Invalidf("", "malformed JSON: %v", err)
	}
	var out []IndexEntry
	for _, p := range ps {
		nodes := p.expr.Eval(doc)
		if len(nodes) == 0 {
			continue
		}
		e := index.Extract(p.kind, nodes)
		for _, t := range e.Tokens {
			out = append(out, IndexEntry{Param: p.code, Kind: "token", System: t.System, Code: t.Code, Display: t.Display})
		}
		for i, s := range e.Strings {
			exact := s
			if i < len(e.Exact) {
				exact = e.Exact[i]
			}
			out = append(out, IndexEntry{Param: p.code, Kind: "string", Value: s, Display: exact})
		}
		for _, r := range e.Dates {
			out = append(out, IndexEntry{Param: p.code, Kind: "date", Low: index.Millis(r.Low), High: index.Millis(r.High)})
		}
		for _, r := range e.References {
			out = append(out, IndexEntry{Param: p.code, Kind: "reference", TargetType: r.Type, TargetID: r.ID, URL: r.URL})
		}
		for _, q := range e.Quantities {
			out = append(out, IndexEntry{Param: p.code, Kind: "quantity", Number: q.Value, System: q.System, Code: q.Code, Unit: q.Unit})
		}
		for _, n := range e.Numbers {
			out = append(out, IndexEntry{Param: p.code, Kind: "number", Number: n})
		}
		for _, u := range e.URIs {
			out = append(out, IndexEntry{Param: p.code, Kind: "uri", Value: u})
		}
	}
	return out, nil
}

// LookupParam is the ParamLookup of the R4 search parameters.
func LookupParam(typ, code string) (ParamInfo, bool) {
	p, ok := spec.LookupSearchParam(typ, code)
	if !ok {
		return ParamInfo{}, false
	}
	return ParamInfo{Code: p.Code, Type: string(p.Type), Targets: p.Targets}, true
}
