package fhirpath

// The parser turns tokens into a small syntax tree, by precedence climbing
// over the FHIRPath operator table (lowest first):
//
//	implies
//	or xor
//	and
//	in contains
//	= ~ != !~
//	< > <= >=
//	|
//	is as
//	+ - &
//	* / div mod
//	unary + -      (only on number literals)
//	. []           (invocation and indexer)

type ast interface{ position() int }

type (
	// astLit is a literal: string, number, boolean or {} (empty).
	astLit struct {
		pos  int
		node Node
		null bool // {}
	}
	// astIdent is an identifier that starts a path: a type name such as
	// Observation, or an element of the focus.
	astIdent struct {
		pos  int
		name string
	}
	// astMember is target.name.
	astMember struct {
		pos    int
		target ast
		name   string
	}
	// astFunc is target.name(args), or name(args) on the focus when target
	// is nil.
	astFunc struct {
		pos    int
		target ast
		name   string
		args   []ast
	}
	// astIndex is target[index].
	astIndex struct {
		pos    int
		target ast
		index  ast
	}
	// astBinary is l op r.
	astBinary struct {
		pos  int
		op   string
		l, r ast
	}
	// astTypeOp is expr is T or expr as T.
	astTypeOp struct {
		pos  int
		op   string
		expr ast
		typ  string
	}
	// astVar is $this or an environment variable such as %resource.
	astVar struct {
		pos  int
		name string // "$this", "%resource", ...
	}
)

func (a *astLit) position() int    { return a.pos }
func (a *astIdent) position() int  { return a.pos }
func (a *astMember) position() int { return a.pos }
func (a *astFunc) position() int   { return a.pos }
func (a *astIndex) position() int  { return a.pos }
func (a *astBinary) position() int { return a.pos }
func (a *astTypeOp) position() int { return a.pos }
func (a *astVar) position() int    { return a.pos }

const maxDepth = 100

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func parse(src string) (ast, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, errAt(src, 0, "empty expression")
	}
	a, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(src, t.pos, "unexpected "+describe(t)+" after a complete expression")
	}
	return a, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(text string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == text
}

func (p *parser) expect(text string) error {
	if !p.isOp(text) {
		t := p.peek()
		return errAt(p.src, t.pos, "expected '"+text+"', found "+describe(t))
	}
	p.i++
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string '" + t.text + "'"
	case tVar:
		return "$" + t.text
	case tEnv:
		return "%" + t.text
	}
	return "'" + t.text + "'"
}

// binaryPrec returns the precedence of t as a binary operator, 0 if it is
// not one.
func binaryPrec(t token) int {
	switch t.kind {
	case tIdent:
		switch t.text {
		case "implies":
			return 1
		case "or", "xor":
			return 2
		case "and":
			return 3
		case "in", "contains":
			return 4
		case "is", "as":
			return 8
		case "div", "mod":
			return 10
		}
	case tOp:
		switch t.text {
		case "=", "~", "!=", "!~":
			return 5
		case "<", ">", "<=", ">=":
			return 6
		case "|":
			return 7
		case "+", "-", "&":
			return 9
		case "*", "/":
			return 10
		}
	}
	return 0
}

func (p *parser) expr(minPrec int) (ast, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.src, p.peek().pos, "expression nested too deeply")
	}
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec := binaryPrec(t)
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		p.next()
		switch {
		case t.text == "is" || t.text == "as":
			typ, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &astTypeOp{pos: t.pos, op: t.text, expr: left, typ: typ}
		default:
			right, err := p.expr(prec + 1)
			if err != nil {
				return nil, err
			}
			left = &astBinary{pos: t.pos, op: t.text, l: left, r: right}
		}
	}
}

// typeSpecifier reads a type name, optionally qualified by FHIR. or System.
func (p *parser) typeSpecifier() (string, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tQIdent {
		return "", errAt(p.src, t.pos, "expected a type name, found "+describe(t))
	}
	if (t.text == "FHIR" || t.text == "System") && p.isOp(".") {
		p.next()
		u := p.next()
		if u.kind != tIdent && u.kind != tQIdent {
			return "", errAt(p.src, u.pos, "expected a type name, found "+describe(u))
		}
		return u.text, nil
	}
	return t.text, nil
}

func (p *parser) unary() (ast, error) {
	if p.isOp("-") || p.isOp("+") {
		op := p.next()
		t := p.peek()
		if t.kind != tNumber {
			return nil, errAt(p.src, op.pos, "unary '"+op.text+"' is supported only before a number")
		}
		p.next()
		text := t.text
		if op.text == "-" {
			text = "-" + text
		}
		return p.postfix(numberLit(t.pos, text))
	}
	term, err := p.term()
	if err != nil {
		return nil, err
	}
	return p.postfix(term)
}

func (p *parser) postfix(left ast) (ast, error) {
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tIdent && t.kind != tQIdent {
				return nil, errAt(p.src, t.pos, "expected a name after '.', found "+describe(t))
			}
			if t.kind == tIdent && p.isOp("(") {
				args, err := p.args()
				if err != nil {
					return nil, err
				}
				left = &astFunc{pos: t.pos, target: left, name: t.text, args: args}
				continue
			}
			left = &astMember{pos: t.pos, target: left, name: t.text}
		case p.isOp("["):
			open := p.next()
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			left = &astIndex{pos: open.pos, target: left, index: idx}
		default:
			return left, nil
		}
	}
}

// args reads a parenthesised argument list.
func (p *parser) args() ([]ast, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var args []ast
	if p.isOp(")") {
		p.next()
		return args, nil
	}
	for {
		a, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.isOp(",") {
			p.next()
			continue
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return args, nil
	}
}

func (p *parser) term() (ast, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		return numberLit(t.pos, t.text), nil
	case tString:
		return &astLit{pos: t.pos, node: Node{Value: t.text, Type: "string"}}, nil
	case tIdent, tQIdent:
		if t.kind == tIdent && (t.text == "true" || t.text == "false") {
			return &astLit{pos: t.pos, node: Node{Value: t.text == "true", Type: "boolean"}}, nil
		}
		if t.kind == tIdent && p.isOp("(") {
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			return &astFunc{pos: t.pos, name: t.text, args: args}, nil
		}
		return &astIdent{pos: t.pos, name: t.text}, nil
	case tVar:
		return &astVar{pos: t.pos, name: "$" + t.text}, nil
	case tEnv:
		return &astVar{pos: t.pos, name: "%" + t.text}, nil
	case tDate:
		return nil, errAt(p.src, t.pos, "date/time literals such as "+t.text+" are not supported")
	case tOp:
		switch t.text {
		case "(":
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return a, nil
		case "{":
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &astLit{pos: t.pos, null: true}, nil
		}
	}
	return nil, errAt(p.src, t.pos, "unexpected "+describe(t))
}

func numberLit(pos int, text string) *astLit {
	typ := "integer"
	for i := 0; i < len(text); i++ {
		if text[i] == '.' {
			typ = "decimal"
		}
	}
	return &astLit{pos: pos, node: Node{Value: jsonNumber(text), Type: typ}}
}
