package spec

import (
	"slices"
	"strings"
	"sync"
)

// Type is the structure of a resource type or complex datatype, as its R4
// snapshot defines it. Structure tables exist for the FirstClass resource
// types, Bundle, and every complex datatype they use.
type Type struct {
	Name string
	// Kind is "resource" or "complex-type".
	Kind string
	// Root is the element named after the type ("Observation"); its
	// children are the type's top-level elements.
	Root *Element

	elements map[string]*Element // keyed by path relative to the type
}

// Element is one element definition of a Type.
type Element struct {
	// Path is the full path, e.g. "Observation.referenceRange.low" or
	// "Observation.value[x]".
	Path string
	// Name is the JSON property name, without "[x]" for choice elements.
	Name string
	Min  int
	// Max is the maximum cardinality, -1 for "*". In FHIR JSON an element
	// whose Max is not 1 is always an array.
	Max int
	// Types lists the allowed type codes ("string", "Quantity",
	// "BackboneElement", "Resource", ...). A choice element lists every
	// variant. Empty for an element defined by ContentRef.
	Types []string
	// Choice reports whether the element is a choice, "value[x]", written in
	// JSON as one of valueQuantity, valueString, ...
	Choice bool
	// ContentRef is the content reference of an element whose definition
	// is another element's, e.g. "#Questionnaire.item"; empty otherwise.
	ContentRef string
	// BindingURL is the value set of a required binding, empty if none.
	BindingURL string
	// Binding lists the codes allowed by a required binding, in the value
	// set's order; nil when there is none or when the value set is not a
	// finite list of codes (mime types, currencies), which is not checked.
	Binding []string
	// BindingSystems lists the code systems of the codes in Binding.
	BindingSystems []string
	// Targets lists the resource types a Reference value of the element
	// may refer to, from the definitions' targetProfile
	// (Observation.subject: Patient, Group, Device, Location); nil when it
	// may refer to any resource or the element has no Reference type.
	Targets []string
	// Index is the element's position among its parent's children.
	Index int
	// Seq is the element's position in the structure tables: a dense
	// number, from 0 to ElementCount()-1, for side tables of elements.
	Seq int
	// Parent is the enclosing element; nil for a type's root.
	Parent *Element

	constraints []Constraint

	children []*Element
	ref      *Element
	lookup   map[string]Child
	codes    map[string]struct{}
	required []*Element
}

// Child is what a JSON property name denotes inside a value of an element.
type Child struct {
	Element *Element
	// Type is the type code of the value: the variant named by the property
	// for a choice element ("Quantity" for valueQuantity), otherwise the
	// element's single type ("BackboneElement" for backbone elements, ""
	// for ContentRef elements).
	Type string
	// Node is the element whose children describe the properties of the
	// value when it is an object: the element itself for backbone and
	// content-reference elements, the root of the datatype for complex
	// types. Nil for primitives and resources (Type "Resource", or a
	// resource type name such as "OperationOutcome").
	Node *Element
	// Primitive is the primitive type of the value, nil if not primitive.
	Primitive *Primitive
}

// Primitive describes a FHIR primitive type.
type Primitive struct {
	Name string
	// JSON is how values are written in JSON: "string", "number" or
	// "boolean".
	JSON string
	// Regex is the regular expression from the definitions that a value's
	// text must match in full (unanchored as published); empty for xhtml.
	Regex string
	// Index is the position of the type in Primitives().
	Index int
}

type elementRow struct {
	path     string
	min, max int
	types    string
	ref      string
	vs       int
	targets  string
}

type constraintRow struct {
	path, key, human, expr string
}

// Constraint is an invariant of an element, a constraint of severity error
// in the definitions.
type Constraint struct {
	// Key names the constraint: "obs-6", "pat-1", "dom-3".
	Key string
	// Human is the constraint's description for a person.
	Human string
	// Expression is the FHIRPath expression that must be true for each
	// value of the element, evaluated with that value as its focus.
	Expression string
	// Element is the element the constraint belongs to.
	Element *Element
}

// Constraints returns the invariants of the element, following a content
// reference. A type's root carries the constraints of the type (inherited
// ones included: dom-3 on each resource, ele-1 on each datatype); another
// element carries those defined for it only (pat-1 on Patient.contact), not
// those of its type, which its type's root carries. The slice is shared:
// callers must not modify it.
func (e *Element) Constraints() []Constraint {
	if e.ref != nil {
		return e.ref.constraints
	}
	return e.constraints
}

type valueSetRow struct {
	url, systems, codes string
}

type primitiveRow struct {
	name, json, regex string
}

// Children returns the child elements, following a content reference.
func (e *Element) Children() []*Element {
	if e.ref != nil {
		return e.ref.children
	}
	return e.children
}

// Required returns the children whose minimum cardinality is at least 1,
// following a content reference.
func (e *Element) Required() []*Element {
	if e.ref != nil {
		return e.ref.required
	}
	return e.required
}

// Lookup returns what the JSON property name denotes inside a value of e,
// following a content reference: a plain child ("status"), or a variant of
// a choice child ("valueQuantity"). Names starting with '_' are not looked
// up; the caller strips the underscore of primitive extension properties.
func (e *Element) Lookup(name string) (Child, bool) {
	if e.ref != nil {
		e = e.ref
	}
	c, ok := e.lookup[name]
	return c, ok
}

// AllowsCode reports whether code is allowed by the element's required
// binding. It returns true when the element has no checked binding.
func (e *Element) AllowsCode(code string) bool {
	if e.codes == nil {
		return true
	}
	_, ok := e.codes[code]
	return ok
}

// IsArray reports whether the element is written as a JSON array.
func (e *Element) IsArray() bool { return e.Max != 1 }

type structure struct {
	types      map[string]*Type
	primitives []*Primitive
	primByName map[string]*Primitive
}

var structures = sync.OnceValue(buildStructures)

func buildStructures() *structure {
	s := &structure{
		types:      make(map[string]*Type, len(structureKinds)),
		primByName: make(map[string]*Primitive, len(primitiveRows)),
	}
	for i, r := range primitiveRows {
		p := &Primitive{Name: r.name, JSON: r.json, Regex: r.regex, Index: i}
		s.primitives = append(s.primitives, p)
		s.primByName[r.name] = p
	}
	sets := make([]struct{ systems, codes []string }, len(valueSetRows))
	for i, v := range valueSetRows {
		if v.codes != "" {
			sets[i].systems = strings.Fields(v.systems)
			sets[i].codes = strings.Fields(v.codes)
		}
	}
	byPath := make(map[string]*Element, len(elementRows))
	var all []*Element
	var cur *Type
	for _, r := range elementRows {
		e := &Element{Path: r.path, Min: r.min, Max: r.max, ContentRef: r.ref, Seq: len(all)}
		if r.types != "" {
			e.Types = strings.Fields(r.types)
		}
		if r.targets != "" {
			e.Targets = strings.Fields(r.targets)
		}
		dot := strings.LastIndexByte(r.path, '.')
		if dot < 0 {
			cur = &Type{Name: r.path, Kind: structureKinds[r.path], Root: e, elements: map[string]*Element{"": e}}
			s.types[r.path] = cur
			e.Name = r.path
		} else {
			e.Name = r.path[dot+1:]
			if n, ok := strings.CutSuffix(e.Name, "[x]"); ok {
				e.Name, e.Choice = n, true
			}
			e.Parent = byPath[r.path[:dot]]
			e.Index = len(e.Parent.children)
			e.Parent.children = append(e.Parent.children, e)
			if e.Min > 0 {
				e.Parent.required = append(e.Parent.required, e)
			}
			cur.elements[r.path[len(cur.Name)+1:]] = e
		}
		if r.vs > 0 {
			v := valueSetRows[r.vs-1]
			e.BindingURL = v.url
			e.Binding = sets[r.vs-1].codes
			e.BindingSystems = sets[r.vs-1].systems
			if e.Binding != nil {
				e.codes = make(map[string]struct{}, len(e.Binding))
				for _, c := range e.Binding {
					e.codes[c] = struct{}{}
				}
			}
		}
		byPath[r.path] = e
		all = append(all, e)
	}
	for _, e := range all {
		if e.ContentRef != "" {
			e.ref = byPath[strings.TrimPrefix(e.ContentRef, "#")]
		}
	}
	for _, r := range constraintRows {
		if e := byPath[r.path]; e != nil {
			e.constraints = append(e.constraints, Constraint{Key: r.key, Human: r.human, Expression: r.expr, Element: e})
		}
	}
	for _, e := range all {
		e.lookup = make(map[string]Child, len(e.children))
		for _, c := range e.children {
			if !c.Choice {
				t := ""
				if len(c.Types) > 0 {
					t = c.Types[0]
				}
				e.lookup[c.Name] = s.child(c, t)
				continue
			}
			for _, t := range c.Types {
				e.lookup[c.Name+strings.ToUpper(t[:1])+t[1:]] = s.child(c, t)
			}
		}
	}
	return s
}

func (s *structure) child(e *Element, typ string) Child {
	c := Child{Element: e, Type: typ}
	switch {
	case len(e.children) > 0 || e.ref != nil:
		c.Node = e
	case s.primByName[typ] != nil:
		c.Primitive = s.primByName[typ]
	case s.types[typ] != nil:
		c.Node = s.types[typ].Root
	}
	return c
}

// ElementCount returns the number of elements of all the types with
// structure tables (see Element.Seq).
func ElementCount() int { return len(elementRows) }

// Types returns the names of the types with structure tables, sorted.
func Types() []string {
	names := make([]string, 0, len(structureKinds))
	for name := range structureKinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// LookupType returns the structure of a type, or nil when there are no
// structure tables for it (primitive types, resource types that are not
// first class other than Bundle).
func LookupType(name string) *Type {
	return structures().types[name]
}

// Elements returns the elements of a type keyed by their path relative to
// the type ("status", "referenceRange.low", "value[x]"; the root is ""), or
// nil when there are no structure tables for it. The map is shared: callers
// must not modify it.
func Elements(typeName string) map[string]*Element {
	t := LookupType(typeName)
	if t == nil {
		return nil
	}
	return t.elements
}

// LookupPrimitive returns the primitive type of that name, or nil.
func LookupPrimitive(name string) *Primitive {
	return structures().primByName[name]
}

// Primitives returns every primitive type, sorted by name. The slice is
// shared: callers must not modify it.
func Primitives() []*Primitive {
	return structures().primitives
}

// PrimitiveRegex returns the regular expression a value of the primitive
// type must match in full, as published (not anchored), or "" when the type
// is unknown or has none.
func PrimitiveRegex(typeName string) string {
	if p := LookupPrimitive(typeName); p != nil {
		return p.Regex
	}
	return ""
}
