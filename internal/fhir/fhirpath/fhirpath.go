// Package fhirpath evaluates the subset of FHIRPath that FHIR R4 search
// parameter definitions and the invariants of the R4 element definitions
// use, over resources decoded from JSON.
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
//     in, contains (membership), is T, as T, arithmetic on numbers
//     (+ - * / div mod), concatenation of strings (+ and &)
//   - order (< <= > >=) of numbers, of strings, of dates and times (strings
//     that parse as FHIR date, dateTime, instant or time, compared as points
//     in time at the precision they share: empty when that cannot decide)
//     and of Quantities with the same unit
//   - functions: where(c), select(p), exists(), exists(c), all(c), empty(), not(),
//     first(), last(), tail(), single(), skip(n), take(n), count(), distinct(),
//     isDistinct(), hasValue(), allTrue(), anyTrue(), allFalse(), anyFalse(),
//     ofType(T), as(T), is(T), resolve() (the type only: 'resolve() is Patient'),
//     extension('url'), children(), descendants(), iif(c, a[, b]), trace(name),
//     startsWith('s'), endsWith('s'), contains('s'), matches('re'),
//     lower(), upper(), length(), toString(), substring(start[, length]),
//     union(c), combine(c), intersect(c), exclude(c), subsetOf(c),
//     supersetOf(c) (c evaluated on $this), and FHIR's htmlChecks() (an
//     XHTML div of the elements narratives allow, with some content)
//   - $this, %resource, %rootResource, %context, %ucum, %sct, %loinc; with
//     EvalEnv and Test, %resource and %rootResource come from an Env
//
// Reads tells which part of the focus and of %resource an expression may
// read, so that a caller can decode only that part of a large document.
//
// Types named in 'as', 'is' and ofType may be qualified (FHIR.Quantity,
// System.String). Age, Count, Distance, Duration, SimpleQuantity and
// MoneyQuantity are Quantities; code, id and markdown are strings; url,
// canonical, oid and uuid are uris; positiveInt and unsignedInt are integers.
//
// # Not supported
//
// Date, time and quantity literals (@2024-01-01, 5 'mg'), date and quantity
// arithmetic, unary minus other than on number literals, $index and $total,
// other environment variables, and every other function (memberOf, repeat,
// aggregate, now, today, conformsTo, memberOf, conversions, ...): Compile rejects them
// with an *Error giving the position. Function arguments other than the
// criteria of where/select/exists/all/iif and the collections of the set
// functions must be literals.
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
	src             string
	ev              evaluator
	focus, resource *Shape // what it reads, see Reads
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
	focus, resource := analyze(a)
	return &Expr{src: expr, ev: ev, focus: focus, resource: resource}, nil
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
	return e.run(root, root, nil)
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
	return e.run(root, focus, nil)
}

// Env gives the environment variables of an evaluation by EvalEnv or Test.
// Each function is called at most once per evaluation, and only when the
// expression reads the variable, so that a caller can build the resource
// lazily (see Expr.Reads).
type Env struct {
	// Resource returns %resource (and %context): the resource that holds
	// the focus. Nil, or a Node without Value, means there is none.
	Resource func() Node
	// RootResource returns %rootResource: the resource that contains
	// %resource when that is a contained resource. Nil means %resource.
	RootResource func() Node
}

// EvalEnv evaluates the expression with focus as its input, taking
// %resource and %rootResource from env (which may be nil: no resource).
func (e *Expr) EvalEnv(env *Env, focus Node) []Node {
	if env == nil {
		env = &Env{}
	}
	return e.run(Node{}, focus, env)
}

// Test evaluates the expression as a boolean with focus as its input and
// %resource and %rootResource from env (which may be nil), as for the
// invariants of FHIR element definitions. known is false when the result
// is empty or has several items; a single non-boolean item is true.
func (e *Expr) Test(env *Env, focus Node) (value, known bool) {
	if env == nil {
		env = &Env{}
	}
	c := e.begin(Node{}, focus, env)
	buf := e.ev.eval(c, c.focus[:], c.get())
	value, known = tri(buf)
	c.put(buf)
	c.end()
	return value, known
}

func (e *Expr) run(root, focus Node, env *Env) []Node {
	c := e.begin(root, focus, env)
	buf := e.ev.eval(c, c.focus[:], c.get())
	var out []Node
	if len(buf) > 0 {
		out = make([]Node, len(buf))
		copy(out, buf)
	}
	c.put(buf)
	c.end()
	return out
}

func (e *Expr) begin(root, focus Node, env *Env) *evalCtx {
	c := ctxPool.Get().(*evalCtx)
	c.root = root
	c.focus[0] = focus
	c.this = c.focus[:]
	c.env = env
	return c
}

// end clears what the context holds of the evaluation and returns it to
// the pool.
func (c *evalCtx) end() {
	c.root = Node{}
	c.focus[0] = Node{}
	c.this = nil
	c.env = nil
	c.resource, c.rootRs = Node{}, Node{}
	c.haveRes, c.haveRR = false, false
	ctxPool.Put(c)
}
