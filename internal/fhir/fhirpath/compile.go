package fhirpath

import (
	"encoding/json"
	"regexp"
	"strconv"
)

// compile turns a syntax tree into an evaluator. ctxPath is the path of the
// focus the expression applies to ("" at the top, where the focus is the
// resource), used to label the nodes found; it returns the path of the
// output.
func compile(src string, a ast, ctxPath string) (evaluator, string, error) {
	switch a := a.(type) {
	case *astLit:
		if a.null {
			return emptyLit{}, "", nil
		}
		return &literal{node: a.node}, "", nil
	case *astIdent:
		if isTypeName(a.name) {
			return &typeRoot{name: a.name}, a.name, nil
		}
		p := join(ctxPath, a.name)
		return &member{name: a.name, path: p}, p, nil
	case *astMember:
		tgt, tp, err := compile(src, a.target, ctxPath)
		if err != nil {
			return nil, "", err
		}
		p := join(tp, a.name)
		return seq(tgt, &member{name: a.name, path: p}), p, nil
	case *astFunc:
		var tgt evaluator
		inPath := ctxPath
		if a.target != nil {
			var err error
			if tgt, inPath, err = compile(src, a.target, ctxPath); err != nil {
				return nil, "", err
			}
		}
		fn, p, err := compileFunc(src, a, inPath)
		if err != nil {
			return nil, "", err
		}
		return seq(tgt, fn), p, nil
	case *astIndex:
		tgt, tp, err := compile(src, a.target, ctxPath)
		if err != nil {
			return nil, "", err
		}
		n, err := intArg(src, a.index)
		if err != nil {
			return nil, "", err
		}
		return seq(tgt, &indexer{n: n}), tp, nil
	case *astTypeOp:
		x, p, err := compile(src, a.expr, ctxPath)
		if err != nil {
			return nil, "", err
		}
		typ, err := checkType(src, a.pos, a.typ)
		if err != nil {
			return nil, "", err
		}
		if a.op == "is" {
			return seq(x, &typeTest{typ: typ}), "", nil
		}
		return seq(x, &typeFilter{typ: typ}), p, nil
	case *astBinary:
		l, lp, err := compile(src, a.l, ctxPath)
		if err != nil {
			return nil, "", err
		}
		r, rp, err := compile(src, a.r, ctxPath)
		if err != nil {
			return nil, "", err
		}
		switch a.op {
		case "|":
			p := lp
			if lp != rp {
				p = ""
			}
			return &union{l: l, r: r}, p, nil
		case "and", "or", "xor", "implies":
			return &logic{op: a.op, l: l, r: r}, "", nil
		case "in", "contains":
			return &membership{op: a.op, l: l, r: r}, "", nil
		case "+", "-", "*", "/", "div", "mod", "&":
			return &arith{op: a.op, l: l, r: r}, "", nil
		default:
			return &compare{op: a.op, l: l, r: r}, "", nil
		}
	case *astVar:
		switch a.name {
		case "$this":
			return thisEval{}, ctxPath, nil
		case "%resource", "%context":
			return rootEval{}, "", nil
		case "%rootResource":
			return rootEval{root: true}, "", nil
		case "%ucum":
			return &literal{node: Node{Value: "http://unitsofmeasure.org", Type: "string"}}, "", nil
		case "%sct":
			return &literal{node: Node{Value: "http://snomed.info/sct", Type: "string"}}, "", nil
		case "%loinc":
			return &literal{node: Node{Value: "http://loinc.org", Type: "string"}}, "", nil
		}
		return nil, "", errAt(src, a.pos, "variable "+a.name+" is not supported")
	}
	return nil, "", errAt(src, a.position(), "unsupported construct")
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// compileFunc compiles the function call a applied to a focus with path
// inPath.
func compileFunc(src string, a *astFunc, inPath string) (evaluator, string, error) {
	nargs := func(lo, hi int) error {
		if len(a.args) < lo || len(a.args) > hi {
			want := strconv.Itoa(lo)
			if hi != lo {
				want += " to " + strconv.Itoa(hi)
			}
			return errAt(src, a.pos, a.name+"() takes "+want+" argument(s), not "+strconv.Itoa(len(a.args)))
		}
		return nil
	}
	// lambda compiles argument i, evaluated on each item of the focus.
	lambda := func(i int) (evaluator, string, error) {
		return compile(src, a.args[i], inPath)
	}
	switch a.name {
	case "where", "select", "all":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		crit, p, err := lambda(0)
		if err != nil {
			return nil, "", err
		}
		switch a.name {
		case "where":
			return &where{crit: crit}, inPath, nil
		case "select":
			return &selectFn{proj: crit}, p, nil
		}
		return &existsFn{crit: crit, all: true}, "", nil
	case "exists":
		if err := nargs(0, 1); err != nil {
			return nil, "", err
		}
		if len(a.args) == 0 {
			return &existsFn{}, "", nil
		}
		crit, _, err := lambda(0)
		if err != nil {
			return nil, "", err
		}
		return &existsFn{crit: crit}, "", nil
	case "empty", "not", "count", "hasValue", "isDistinct", "allTrue", "anyTrue", "allFalse", "anyFalse":
		if err := nargs(0, 0); err != nil {
			return nil, "", err
		}
		return &collFn{name: a.name}, "", nil
	case "first", "last", "tail", "single", "distinct", "children", "descendants", "toString":
		if err := nargs(0, 0); err != nil {
			return nil, "", err
		}
		p := inPath
		if a.name == "children" || a.name == "descendants" {
			p = ""
		}
		return &collFn{name: a.name}, p, nil
	case "skip", "take":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		n, err := intArg(src, a.args[0])
		if err != nil {
			return nil, "", err
		}
		return &skipTake{n: n, take: a.name == "take"}, inPath, nil
	case "ofType", "as", "is":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		typ, err := typeArg(src, a.args[0])
		if err != nil {
			return nil, "", err
		}
		if a.name == "is" {
			return &typeTest{typ: typ}, "", nil
		}
		return &typeFilter{typ: typ}, inPath, nil
	case "resolve":
		if err := nargs(0, 0); err != nil {
			return nil, "", err
		}
		return resolveFn{}, inPath, nil
	case "extension":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		url, err := stringArg(src, a.args[0])
		if err != nil {
			return nil, "", err
		}
		p := join(inPath, "extension")
		return &extensionFn{url: url, path: p}, p, nil
	case "trace":
		if err := nargs(1, 2); err != nil {
			return nil, "", err
		}
		return thisEval{}, inPath, nil
	case "startsWith", "endsWith", "contains", "matches":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		arg, err := stringArg(src, a.args[0])
		if err != nil {
			return nil, "", err
		}
		fn := &strFn{name: a.name, arg: arg}
		if a.name == "matches" {
			if fn.re, err = regexp.Compile(arg); err != nil {
				return nil, "", errAt(src, a.args[0].position(), "bad regular expression: "+err.Error())
			}
		}
		return fn, "", nil
	case "lower", "upper", "length":
		if err := nargs(0, 0); err != nil {
			return nil, "", err
		}
		return &strFn{name: a.name}, inPath, nil
	case "substring":
		if err := nargs(1, 2); err != nil {
			return nil, "", err
		}
		fn := &strFn{name: a.name, length: -1}
		var err error
		if fn.start, err = intArg(src, a.args[0]); err != nil {
			return nil, "", err
		}
		if len(a.args) == 2 {
			if fn.length, err = intArg(src, a.args[1]); err != nil {
				return nil, "", err
			}
		}
		return fn, inPath, nil
	case "union", "combine", "intersect", "exclude", "subsetOf", "supersetOf":
		if err := nargs(1, 1); err != nil {
			return nil, "", err
		}
		// The argument is evaluated on $this, as the rest of the
		// expression the function is part of, not on the function's input.
		arg, _, err := compile(src, a.args[0], "")
		if err != nil {
			return nil, "", err
		}
		p := inPath
		if a.name == "subsetOf" || a.name == "supersetOf" {
			p = ""
		}
		return &setFn{name: a.name, arg: arg}, p, nil
	case "htmlChecks":
		if err := nargs(0, 0); err != nil {
			return nil, "", err
		}
		return htmlFn{}, "", nil
	case "iif":
		if err := nargs(2, 3); err != nil {
			return nil, "", err
		}
		e := &iif{}
		var err error
		if e.cond, _, err = lambda(0); err != nil {
			return nil, "", err
		}
		if e.then, _, err = lambda(1); err != nil {
			return nil, "", err
		}
		if len(a.args) == 3 {
			if e.otherwise, _, err = lambda(2); err != nil {
				return nil, "", err
			}
		}
		return e, "", nil
	}
	return nil, "", errAt(src, a.pos, "function "+a.name+"() is not supported")
}

// intArg reads a non-negative integer literal argument.
func intArg(src string, a ast) (int, error) {
	if l, ok := a.(*astLit); ok && l.node.Type == "integer" {
		if n, err := strconv.Atoi(string(l.node.Value.(json.Number))); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, errAt(src, a.position(), "expected a non-negative integer literal")
}

// stringArg reads a string literal argument.
func stringArg(src string, a ast) (string, error) {
	if l, ok := a.(*astLit); ok && l.node.Type == "string" {
		return l.node.Value.(string), nil
	}
	if v, ok := a.(*astVar); ok {
		if e, _, err := compile(src, v, ""); err == nil {
			if l, ok := e.(*literal); ok {
				return l.node.Value.(string), nil
			}
		}
	}
	return "", errAt(src, a.position(), "expected a string literal")
}

// typeArg reads a type name argument: Quantity, FHIR.Quantity or
// System.String.
func typeArg(src string, a ast) (string, error) {
	switch x := a.(type) {
	case *astIdent:
		return checkType(src, x.pos, x.name)
	case *astMember:
		if ns, ok := x.target.(*astIdent); ok {
			if ns.name == "FHIR" || ns.name == "System" {
				return checkType(src, x.pos, x.name)
			}
		}
	}
	return "", errAt(src, a.position(), "expected a type name")
}

// checkType accepts FHIR primitive type names, also when capitalised as in
// choice suffixes and System types (DateTime is dateTime), and names that
// look like complex or resource type names.
func checkType(src string, pos int, name string) (string, error) {
	if t, ok := choiceTypes[name]; ok {
		return t, nil
	}
	if isTypeName(name) {
		return name, nil
	}
	for _, t := range choiceTypes {
		if t == name {
			return name, nil
		}
	}
	if name == "xhtml" {
		return name, nil
	}
	return "", errAt(src, pos, "unknown type "+name)
}
