// Package fhirpath evaluates the subset of FHIRPath that FHIR R4 search
// parameter definitions use, over resources decoded from JSON.
//
// Resources are the map[string]any a json.Decoder with UseNumber produces
// (float64 numbers are accepted too). There is no schema: element types
// come from the JSON itself. A choice element such as Observation.value[x]
// is found by its JSON name, the element name followed by a type name
// starting with an upper-case letter (valueQuantity), and the node found
// carries that type; other nodes have no type, and 'as', 'is' and ofType
// guess it from the shape of the value when they must.
//
// # Supported
//
//   - paths: Observation.code.coding, with arrays flattened; a leading type
//     name (Observation, Resource, DomainResource, or any resource type)
//     keeps the focus only when it is of that type; a leading lower-case
//     name navigates from the focus (composite components: value.as(Quantity));
//     `delimited` names
//   - choice elements: value finds valueQuantity, valueString, ...
//   - indexer [n] with an integer literal
//   - literals: 'strings' with escapes, integers, decimals, true, false, {}
//   - operators: | (union), = != ~ !~, < <= > >=, and or xor implies (three-valued),
//     in, contains (membership), is T, as T
//   - functions: where(c), select(p), exists(), exists(c), all(c), empty(), not(),
//     first(), last(), tail(), single(), skip(n), take(n), count(), distinct(),
//     isDistinct(), hasValue(), allTrue(), anyTrue(), allFalse(), anyFalse(),
//     ofType(T), as(T), is(T), resolve() (the type only: 'resolve() is Patient'),
//     extension('url'), children(), descendants(), iif(c, a[, b]), trace(name),
//     startsWith('s'), endsWith('s'), contains('s'), matches('re'),
//     lower(), upper(), length(), toString()
//   - $this, %resource, %rootResource, %context, %ucum, %sct, %loinc
//
// Types named in 'as', 'is' and ofType may be qualified (FHIR.Quantity,
// System.String). Age, Count, Distance, Duration, SimpleQuantity and
// MoneyQuantity are Quantities; code, id and markdown are strings; url,
// canonical, oid and uuid are uris; positiveInt and unsignedInt are integers.
//
// # Not supported
//
// Arithmetic and string concatenation (+ - * / div mod &), date, time and
// quantity literals (@2024-01-01, 5 'mg'), $index and $total, other
// environment variables, and every other function (memberOf, repeat,
// aggregate, now, today, conversions, ...): Compile rejects them with an
// *Error giving the position. Function arguments other than the criteria of
// where/select/exists/all/iif must be literals.
//
// Deviations from FHIRPath that do not matter for search: where FHIRPath
// would signal an error (such as 'as' on several items) the evaluation goes
// on (as filters each item; is on several items gives empty); union
// removes duplicates by identity for objects and by value for primitives;
// resolve() does not fetch anything.
package fhirpath

import "fmt"

// Node is one item of a result collection.
type Node struct {
	// Value is the JSON value: map[string]any for an object, or a string,
	// json.Number, float64 or bool; for the results of resolve() an opaque
	// value whose type is in Type.
	Value any
	// Type is the FHIR type when known: from a choice suffix
	// (valueQuantity: "Quantity", effectiveDateTime: "dateTime"), from 'as'
	// or ofType, the resource type for a resource, "Extension" for the
	// results of extension(), "boolean" for computed booleans. Primitive
	// types start with a lower-case letter. It is "" when unknown.
	Type string
	// Path is where the value was found, for debugging: "Observation.value".
	// Array indexes are not included.
	Path string
}

// Expr is a compiled expression. It is safe for concurrent use.
type Expr struct {
	src string
	ev  evaluator
}

// Error is a syntax error or an unsupported construct found by Compile.
type Error struct {
	Expr   string // the expression
	Offset int    // byte offset of the fault in Expr
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("fhirpath: %s at offset %d of %q", e.Msg, e.Offset, e.Expr)
}

func errAt(src string, pos int, msg string) error {
	return &Error{Expr: src, Offset: pos, Msg: msg}
}

// Compile parses expr. The error, if any, is an *Error naming the
// construct at fault and its position.
func Compile(expr string) (*Expr, error) {
	a, err := parse(expr)
	if err != nil {
		return nil, err
	}
	ev, _, err := compile(expr, a, "")
	if err != nil {
		return nil, err
	}
	return &Expr{src: expr, ev: ev}, nil
}

// MustCompile is like Compile but panics on error. It is meant for
// expressions fixed in the program.
func MustCompile(expr string) *Expr {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source of the expression.
func (e *Expr) String() string { return e.src }

// Eval evaluates the expression on resource and returns the result
// collection, nil when empty. The nodes share the resource's values: the
// caller must not modify them while using the result.
func (e *Expr) Eval(resource map[string]any) []Node {
	if resource == nil {
		return nil
	}
	rt, _ := resource["resourceType"].(string)
	root := Node{Value: resource, Type: rt, Path: rt}
	return e.run(root, root)
}

// EvalNode evaluates the expression with focus as its input and resource
// as %resource, as for the components of a composite search parameter,
// which are relative to the nodes the composite's own expression selects.
// resource may be nil.
func (e *Expr) EvalNode(resource map[string]any, focus Node) []Node {
	var root Node
	if resource != nil {
		rt, _ := resource["resourceType"].(string)
		root = Node{Value: resource, Type: rt, Path: rt}
	}
	return e.run(root, focus)
}

func (e *Expr) run(root, focus Node) []Node {
	c := ctxPool.Get().(*evalCtx)
	c.root = root
	c.focus[0] = focus
	buf := e.ev.eval(c, c.focus[:], c.get())
	var out []Node
	if len(buf) > 0 {
		out = make([]Node, len(buf))
		copy(out, buf)
	}
	c.put(buf)
	c.root = Node{}
	c.focus[0] = Node{}
	ctxPool.Put(c)
	return out
}
