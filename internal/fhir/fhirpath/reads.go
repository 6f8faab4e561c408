package fhirpath

// Shape describes the part of a JSON value that an expression may read, so
// that a caller holding the value as JSON text can decode only that part
// (see Expr.Reads). A decoded object that follows a Shape holds the fields
// the Shape names, each decoded by its own Shape, and its resourceType. A
// primitive whose Shape is not All is only tested for presence (exists(),
// empty(), count(), hasValue()): any primitive can stand for it.
type Shape struct {
	// All reports that the whole value may be read: children(),
	// descendants(), equality and order, functions of the value of a
	// primitive (not(), startsWith(), ...), and functions whose needs are
	// not known.
	All bool
	// Type reports that the type of the value is tested ('is', 'as',
	// ofType): a resource needs its resourceType only, but the type of
	// another object is guessed from its fields, so it needs them all.
	Type bool
	// Fields are the elements read below the value, by their FHIRPath name:
	// "value" stands for valueQuantity, valueString and the other variants
	// of a choice element.
	Fields map[string]*Shape
}

// whole is the Shape of the values inside a value read whole.
var whole = &Shape{All: true}

// field returns the Shape of the element name of s, creating it.
func (s *Shape) field(name string) *Shape {
	if s.All {
		return whole
	}
	f := s.Fields[name]
	if f == nil {
		if s.Fields == nil {
			s.Fields = map[string]*Shape{}
		}
		f = &Shape{}
		s.Fields[name] = f
	}
	return f
}

// Reads returns what the expression may read of its focus and, when it uses
// %resource, %rootResource or %context, of that resource (nil otherwise).
// The focus is one value, as for an invariant or a where() criterion. The
// Shapes are shared: callers must not modify them.
func (e *Expr) Reads() (focus, resource *Shape) {
	return e.focus, e.resource
}

// analyzer computes the Shapes of an expression by following, for each
// sub-expression, the set of Shapes of the values it may produce.
type analyzer struct {
	focus, resource *Shape
}

func analyze(a ast) (focus, resource *Shape) {
	an := &analyzer{focus: &Shape{}}
	an.walk(a, []*Shape{an.focus})
	return an.focus, an.resource
}

func markAll(set []*Shape) {
	for _, s := range set {
		if s != whole {
			s.All, s.Fields = true, nil
		}
	}
}

func markType(set []*Shape) {
	for _, s := range set {
		if !s.All {
			s.Type = true
		}
	}
}

func nav(set []*Shape, name string) []*Shape {
	var out []*Shape
	for _, s := range set {
		out = append(out, s.field(name))
	}
	return out
}

// walk returns the Shapes of the values a may produce when this holds the
// Shapes of $this.
func (an *analyzer) walk(a ast, this []*Shape) []*Shape {
	switch a := a.(type) {
	case *astLit:
		return nil
	case *astIdent:
		if isTypeName(a.name) {
			return this
		}
		return nav(this, a.name)
	case *astMember:
		return nav(an.walk(a.target, this), a.name)
	case *astIndex:
		an.walk(a.index, this)
		return an.walk(a.target, this)
	case *astVar:
		switch a.name {
		case "$this":
			return this
		case "%resource", "%rootResource", "%context":
			if an.resource == nil {
				an.resource = &Shape{}
			}
			return []*Shape{an.resource}
		}
		return nil
	case *astTypeOp:
		in := an.walk(a.expr, this)
		markType(in)
		if a.op == "as" {
			return in
		}
		return nil
	case *astBinary:
		l := an.walk(a.l, this)
		r := an.walk(a.r, this)
		switch a.op {
		case "|":
			return append(l, r...)
		case "and", "or", "xor", "implies":
		default: // comparisons, membership, arithmetic compare values
			markAll(l)
			markAll(r)
		}
		return nil
	case *astFunc:
		return an.function(a, this)
	}
	return nil
}

func (an *analyzer) function(a *astFunc, this []*Shape) []*Shape {
	in := this
	if a.target != nil {
		in = an.walk(a.target, this)
	}
	arg := func(i int, on []*Shape) []*Shape {
		if i < len(a.args) {
			return an.walk(a.args[i], on)
		}
		return nil
	}
	switch a.name {
	case "where":
		arg(0, in)
		return in
	case "select":
		return arg(0, in)
	case "all", "exists":
		arg(0, in)
		return nil
	case "iif":
		arg(0, in)
		return append(arg(1, in), arg(2, in)...)
	case "first", "last", "tail", "single", "skip", "take", "trace":
		return in
	case "distinct":
		markAll(in)
		return in
	case "ofType", "as":
		markType(in)
		return in
	case "is":
		markType(in)
		return nil
	case "children", "descendants":
		markAll(in)
		return []*Shape{whole}
	case "resolve":
		markAll(nav(in, "reference"))
		markAll(nav(in, "type"))
		return nil
	case "extension":
		ext := nav(in, "extension")
		markAll(nav(ext, "url"))
		return ext
	case "union", "combine", "intersect", "exclude", "subsetOf", "supersetOf":
		other := arg(0, this)
		markAll(in)
		markAll(other)
		if a.name == "subsetOf" || a.name == "supersetOf" {
			return nil
		}
		return append(in, other...)
	case "empty", "count", "hasValue":
		// Presence only.
		return nil
	case "not", "isDistinct", "allTrue", "anyTrue", "allFalse", "anyFalse", "htmlChecks",
		"toString", "lower", "upper", "length", "startsWith", "endsWith", "contains", "matches", "substring":
		markAll(in)
		return nil
	}
	markAll(in)
	for i := range a.args {
		markAll(arg(i, in))
	}
	return nil
}
