package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	comps      []index.Component // of a composite
}

// NewSpecIndexer returns an indexer for the R4 search parameters.
func NewSpecIndexer() *SpecIndexer {
	return &SpecIndexer{byType: map[string][]compiledParam{}, skipped: map[string][]string{}}
}

// indexedKinds are the parameter types kept in the index tables.
var indexedKinds = map[string]bool{"token": true, "string": true, "date": true, "reference": true, "quantity": true, "number": true, "uri": true, "composite": true}

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
		// An alias's values are in the rows of the parameters it names.
		if !indexedKinds[string(d.Type)] || c == "_id" || c == "_lastUpdated" || d.Expression == "" || d.RowsOf != nil {
			continue
		}
		e, err := fhirpath.Compile(d.Expression)
		if err != nil {
			x.skipped[typ] = append(x.skipped[typ], c)
			continue
		}
		p := compiledParam{code: c, kind: string(d.Type), expr: e}
		if d.Type == spec.ParamComposite {
			cd := compositeOf(typ, c)
			if cd.problem != "" {
				x.skipped[typ] = append(x.skipped[typ], c)
				continue
			}
			p.comps = cd.comps
		}
		ps = append(ps, p)
	}
	x.byType[typ] = ps
	return ps
}

// Unsupported returns the search parameters of typ that cannot be indexed
// because their expressions use FHIRPath this server does not evaluate, or
// because they are composites whose definitions careloop cannot follow.
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
	return x.IndexDoc(typ, doc)
}

// IndexDoc returns the index entries of a resource already decoded (with
// json.Decoder.UseNumber), which it does not change.
func (x *SpecIndexer) IndexDoc(typ string, doc map[string]any) ([]IndexEntry, error) {
	ps := x.params(typ)
	var out []IndexEntry
	for _, p := range ps {
		nodes := p.expr.Eval(doc)
		if len(nodes) == 0 {
			continue
		}
		if p.kind == "composite" {
			for n, parts := range index.ExtractComposite(doc, nodes, p.comps) {
				for i, e := range parts {
					start := len(out)
					out = appendEntries(out, p.code, e)
					for k := start; k < len(out); k++ {
						out[k].Kind, out[k].Node, out[k].Part = "composite", n, i
					}
				}
			}
			continue
		}
		out = appendEntries(out, p.code, index.Extract(p.kind, nodes))
	}
	return out, nil
}

// appendEntries appends the index entries of e, the values of parameter
// code, to out.
func appendEntries(out []IndexEntry, code string, e index.Entries) []IndexEntry {
	for _, t := range e.Tokens {
		out = append(out, IndexEntry{Param: code, Kind: "token", System: t.System, Code: t.Code, Display: t.Display})
	}
	for i, s := range e.Strings {
		exact := s
		if i < len(e.Exact) {
			exact = e.Exact[i]
		}
		out = append(out, IndexEntry{Param: code, Kind: "string", Value: s, Display: exact})
	}
	for _, r := range e.Dates {
		out = append(out, IndexEntry{Param: code, Kind: "date", Low: index.Millis(r.Low), High: index.Millis(r.High)})
	}
	for _, r := range e.References {
		out = append(out, IndexEntry{Param: code, Kind: "reference", TargetType: r.Type, TargetID: r.ID, URL: r.URL})
	}
	for _, q := range e.Quantities {
		out = append(out, IndexEntry{Param: code, Kind: "quantity", Number: q.Value, System: q.System, Code: q.Code, Unit: q.Unit})
	}
	for _, n := range e.Numbers {
		out = append(out, IndexEntry{Param: code, Kind: "number", Number: n})
	}
	for _, u := range e.URIs {
		out = append(out, IndexEntry{Param: code, Kind: "uri", Value: u})
	}
	return out
}

// unfollowedComposites are composite parameters whose R4 definitions cannot
// be evaluated as written, with the reason.
var unfollowedComposites = map[string]string{
	// The R4 definition gives the reference component (relatesto) the
	// expression of the code and the token component (relation) that of
	// the target.
	"DocumentReference.relationship": "its R4 definition pairs each component with the other's expression",
}

// compositeDef is a composite parameter compiled for indexing and search.
type compositeDef struct {
	comps   []index.Component
	infos   []ParamInfo
	problem string // why it cannot be evaluated; "" when it can
}

var composites sync.Map // "Type.code" -> *compositeDef

// compositeOf compiles the composite parameter code of typ once.
func compositeOf(typ, code string) *compositeDef {
	key := typ + "." + code
	if v, ok := composites.Load(key); ok {
		return v.(*compositeDef)
	}
	v, _ := composites.LoadOrStore(key, compileComposite(typ, code))
	return v.(*compositeDef)
}

func compileComposite(typ, code string) *compositeDef {
	if why, ok := unfollowedComposites[typ+"."+code]; ok {
		return &compositeDef{problem: why}
	}
	p, ok := spec.LookupSearchParam(typ, code)
	if !ok || p.Type != spec.ParamComposite {
		return &compositeDef{problem: "it is not a composite parameter"}
	}
	if len(p.Components) < 2 {
		return &compositeDef{problem: "its definition has fewer than two components"}
	}
	if _, err := fhirpath.Compile(p.Expression); err != nil {
		return &compositeDef{problem: "its expression uses FHIRPath careloop does not evaluate"}
	}
	d := &compositeDef{}
	for _, c := range p.Components {
		cp, ok := spec.LookupSearchParam(typ, c.Code)
		if !ok {
			return &compositeDef{problem: fmt.Sprintf("its component %s is not a search parameter of %s", c.Code, typ)}
		}
		if !indexedKinds[string(cp.Type)] || cp.Type == spec.ParamComposite {
			return &compositeDef{problem: fmt.Sprintf("its component %s is a %s parameter", c.Code, cp.Type)}
		}
		e, err := fhirpath.Compile(c.Expression)
		if err != nil {
			return &compositeDef{problem: fmt.Sprintf("the expression of its component %s uses FHIRPath careloop does not evaluate", c.Code)}
		}
		d.comps = append(d.comps, index.Component{Type: string(cp.Type), Expr: e})
		d.infos = append(d.infos, ParamInfo{Code: cp.Code, Type: string(cp.Type), Targets: cp.Targets})
	}
	return d
}

// LookupParam is the ParamLookup of the R4 search parameters.
func LookupParam(typ, code string) (ParamInfo, bool) {
	p, ok := spec.LookupSearchParam(typ, code)
	if !ok {
		return ParamInfo{}, false
	}
	info := ParamInfo{Code: p.Code, Type: string(p.Type), Targets: p.Targets, RowsOf: p.RowsOf, RowsTarget: p.RowsTarget}
	if p.Type == spec.ParamComposite {
		d := compositeOf(typ, code)
		info.Components, info.Unsupported = d.infos, d.problem
	}
	return info, true
}
