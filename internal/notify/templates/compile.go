package templates

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// compile parses src as a text/template and checks that it renders
// without error for any Data: it uses only Data's fields, the functions
// and, or, not, eq, ne, lt, le, gt, ge and len with arguments of fitting
// types, whole numbers in decimal, no variables but $, no {{template}}
// or {{define}}, and no range inside a range. It returns the parse tree,
// which render executes.
func compile(name, src string) (*parse.ListNode, error) {
	t, err := template.New(name).Parse(src)
	if err != nil {
		return nil, cleanParseError(name, err)
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("{{define}} and {{block}} are not allowed")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return &parse.ListNode{}, nil
	}
	var c checker
	if err := c.list(t.Tree.Root, tData); err != nil {
		return nil, err
	}
	return t.Tree.Root, nil
}

// cleanParseError drops the template's name from a parse error, which
// already says where the fault is.
func cleanParseError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, name+":")
	return fmt.Errorf("line %s", msg)
}

// typ is the type of a value in a text.
type typ int

const (
	tData   typ = iota // the whole Data
	tString            // a text
	tInt               // a whole number
	tList              // a list of texts (.Items)
	tBool              // true or false
	tAny               // the result of and/or over mixed types
)

// fieldType returns the type of Data's field name, and whether it is one.
func fieldType(name string) (typ, bool) {
	switch name {
	case "Name", "Org", "Link", "Prefs", "Detail", "When":
		return tString, true
	case "Count":
		return tInt, true
	case "Items":
		return tList, true
	}
	return 0, false
}

const fieldNames = ".Name, .Org, .Link, .Prefs, .Detail, .When, .Count, .Items"

// checker walks a parse tree, with the type of dot at each point.
type checker struct {
	inRange bool
}

func (c *checker) list(l *parse.ListNode, dot typ) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := c.node(n, dot); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) node(n parse.Node, dot typ) error {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
		return nil
	case *parse.ActionNode:
		t, err := c.pipe(n.Pipe, dot)
		if err != nil {
			return err
		}
		switch t {
		case tData:
			return errAt(n, "{{.}} here is the whole message data; name a field instead (%s)", fieldNames)
		case tList:
			return errAt(n, "a list cannot be printed; use {{range .Items}}{{.}}{{end}}")
		}
		return nil
	case *parse.IfNode:
		if _, err := c.pipe(n.Pipe, dot); err != nil {
			return err
		}
		if err := c.list(n.List, dot); err != nil {
			return err
		}
		return c.list(n.ElseList, dot)
	case *parse.WithNode:
		t, err := c.pipe(n.Pipe, dot)
		if err != nil {
			return err
		}
		if err := c.list(n.List, t); err != nil {
			return err
		}
		return c.list(n.ElseList, dot)
	case *parse.RangeNode:
		if c.inRange {
			return errAt(n, "a range inside a range is not allowed")
		}
		t, err := c.pipe(n.Pipe, dot)
		if err != nil {
			return err
		}
		if t != tList {
			return errAt(n, "range needs a list: {{range .Items}}")
		}
		c.inRange = true
		err = c.list(n.List, tString)
		c.inRange = false
		if err != nil {
			return err
		}
		return c.list(n.ElseList, dot)
	case *parse.TemplateNode:
		return errAt(n, "{{template}} is not allowed")
	}
	return errAt(n, "%s is not allowed", n)
}

func (c *checker) pipe(p *parse.PipeNode, dot typ) (typ, error) {
	if len(p.Decl) > 0 {
		return 0, errAt(p, "variables are not allowed; use the fields directly (%s)", fieldNames)
	}
	var piped *typ
	for _, cmd := range p.Cmds {
		t, err := c.command(cmd, dot, piped)
		if err != nil {
			return 0, err
		}
		piped = &t
	}
	if piped == nil {
		return 0, errAt(p, "empty action")
	}
	return *piped, nil
}

func (c *checker) command(cmd *parse.CommandNode, dot typ, piped *typ) (typ, error) {
	fn, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		if len(cmd.Args) > 1 || piped != nil {
			return 0, errAt(cmd, "%s is not a function", cmd.Args[0])
		}
		return c.operand(cmd.Args[0], dot)
	}
	var args []typ
	for _, a := range cmd.Args[1:] {
		t, err := c.operand(a, dot)
		if err != nil {
			return 0, err
		}
		args = append(args, t)
	}
	if piped != nil {
		args = append(args, *piped)
	}
	return function(cmd, fn.Ident, args)
}

func (c *checker) operand(n parse.Node, dot typ) (typ, error) {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot, nil
	case *parse.FieldNode:
		if dot != tData {
			return 0, errAt(n, "here {{.}} is a single value, not the message data; use {{$%s}}", n)
		}
		return field(n, n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] != "$" {
			return 0, errAt(n, "variables are not allowed; use the fields directly (%s)", fieldNames)
		}
		if len(n.Ident) == 1 {
			return tData, nil
		}
		return field(n, n.Ident[1:])
	case *parse.StringNode:
		return tString, nil
	case *parse.NumberNode:
		digits := strings.TrimPrefix(n.Text, "-")
		if !n.IsInt || digits == "" || strings.Trim(digits, "0123456789") != "" {
			return 0, errAt(n, "only whole numbers in decimal digits are allowed")
		}
		return tInt, nil
	case *parse.BoolNode:
		return tBool, nil
	case *parse.PipeNode:
		return c.pipe(n, dot)
	case *parse.IdentifierNode:
		return 0, errAt(n, "function %s needs its arguments in parentheses here", n.Ident)
	}
	return 0, errAt(n, "%s is not allowed", n)
}

// field returns the type of .A (idents ["A"]).
func field(n parse.Node, idents []string) (typ, error) {
	t, ok := fieldType(idents[0])
	if !ok {
		return 0, errAt(n, "no field .%s: use %s", idents[0], fieldNames)
	}
	if len(idents) > 1 {
		return 0, errAt(n, ".%s has no field .%s", idents[0], idents[1])
	}
	return t, nil
}

// function checks a call of a built-in function and returns its type.
func function(n parse.Node, name string, args []typ) (typ, error) {
	arity := func(ok bool, want string) error {
		if !ok {
			return errAt(n, "%s takes %s", name, want)
		}
		return nil
	}
	same := func(allowed ...typ) error {
		for _, a := range args {
			if a != args[0] {
				return errAt(n, "%s compares values of different types", name)
			}
		}
		for _, t := range allowed {
			if args[0] == t {
				return nil
			}
		}
		return errAt(n, "%s cannot compare these values", name)
	}
	switch name {
	case "not":
		return tBool, arity(len(args) == 1, "one argument")
	case "and", "or":
		if err := arity(len(args) >= 1, "at least one argument"); err != nil {
			return 0, err
		}
		if slices.Contains(args, tData) {
			return 0, errAt(n, "%s cannot take the whole message data; name a field", name)
		}
		for _, a := range args {
			if a != args[0] {
				return tAny, nil
			}
		}
		return args[0], nil
	case "len":
		if err := arity(len(args) == 1, "one argument"); err != nil {
			return 0, err
		}
		if args[0] != tString && args[0] != tList {
			return 0, errAt(n, "len needs a text or .Items")
		}
		return tInt, nil
	case "eq":
		if err := arity(len(args) >= 2, "at least two arguments"); err != nil {
			return 0, err
		}
		return tBool, same(tString, tInt, tBool)
	case "ne":
		if err := arity(len(args) == 2, "two arguments"); err != nil {
			return 0, err
		}
		return tBool, same(tString, tInt, tBool)
	case "lt", "le", "gt", "ge":
		if err := arity(len(args) == 2, "two arguments"); err != nil {
			return 0, err
		}
		return tBool, same(tString, tInt)
	}
	return 0, errAt(n, "function %s is not allowed (allowed: and, or, not, eq, ne, lt, le, gt, ge, len)", name)
}

// errAt returns an error that names the position of node n.
func errAt(n parse.Node, format string, args ...any) error {
	return fmt.Errorf("at %q: %s", clip(n.String()), fmt.Sprintf(format, args...))
}

// clip shortens a node's text for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
