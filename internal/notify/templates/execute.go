package templates

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// execute writes the text of a checked parse tree (see compile) for d. It
// follows text/template's rules for the subset compile accepts, without
// reflection, and cannot fail: compile has ruled out every error
// text/template could meet at run time.
func execute(w *strings.Builder, root *parse.ListNode, d *Data) {
	x := executor{w: w, d: d}
	x.list(root, value{t: tData})
}

// value is a value in a text: its type and the one field that holds it.
type value struct {
	t    typ // tData, tString, tInt, tList or tBool
	s    string
	n    int
	list []string
	b    bool
}

// truth reports whether v counts as true in {{if}} and {{with}}: a text,
// list or number that is not empty or zero; the data is always true.
func (v value) truth() bool {
	switch v.t {
	case tString:
		return v.s != ""
	case tInt:
		return v.n != 0
	case tList:
		return len(v.list) > 0
	case tBool:
		return v.b
	}
	return true
}

// flow says how a list ended: normally, or by {{break}} or {{continue}}.
type flow int

const (
	flowNext flow = iota
	flowBreak
	flowContinue
)

type executor struct {
	w *strings.Builder
	d *Data
}

func (x *executor) list(l *parse.ListNode, dot value) flow {
	if l == nil {
		return flowNext
	}
	for _, n := range l.Nodes {
		if f := x.node(n, dot); f != flowNext {
			return f
		}
	}
	return flowNext
}

func (x *executor) node(n parse.Node, dot value) flow {
	switch n := n.(type) {
	case *parse.TextNode:
		x.w.Write(n.Text)
	case *parse.ActionNode:
		x.print(x.pipe(n.Pipe, dot))
	case *parse.IfNode:
		if x.pipe(n.Pipe, dot).truth() {
			return x.list(n.List, dot)
		}
		return x.list(n.ElseList, dot)
	case *parse.WithNode:
		if v := x.pipe(n.Pipe, dot); v.truth() {
			return x.list(n.List, v)
		}
		return x.list(n.ElseList, dot)
	case *parse.RangeNode:
		v := x.pipe(n.Pipe, dot)
		if len(v.list) == 0 {
			return x.list(n.ElseList, dot)
		}
		for _, item := range v.list {
			if x.list(n.List, value{t: tString, s: item}) == flowBreak {
				break
			}
		}
	case *parse.BreakNode:
		return flowBreak
	case *parse.ContinueNode:
		return flowContinue
	}
	return flowNext
}

// print writes v as text/template prints it.
func (x *executor) print(v value) {
	switch v.t {
	case tString:
		x.w.WriteString(v.s)
	case tInt:
		x.w.WriteString(strconv.Itoa(v.n))
	case tBool:
		x.w.WriteString(strconv.FormatBool(v.b))
	case tList:
		fmt.Fprint(x.w, v.list)
	}
}

func (x *executor) pipe(p *parse.PipeNode, dot value) value {
	var v value
	for i, cmd := range p.Cmds {
		var piped *value
		if i > 0 {
			piped = &v
		}
		v = x.command(cmd, dot, piped)
	}
	return v
}

func (x *executor) command(cmd *parse.CommandNode, dot value, piped *value) value {
	fn, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		return x.operand(cmd.Args[0], dot)
	}
	args := make([]value, 0, len(cmd.Args))
	for _, a := range cmd.Args[1:] {
		args = append(args, x.operand(a, dot))
	}
	if piped != nil {
		args = append(args, *piped)
	}
	return call(fn.Ident, args)
}

func (x *executor) operand(n parse.Node, dot value) value {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return x.field(n.Ident[0])
	case *parse.VariableNode:
		if len(n.Ident) == 1 {
			return value{t: tData}
		}
		return x.field(n.Ident[1])
	case *parse.StringNode:
		return value{t: tString, s: n.Text}
	case *parse.NumberNode:
		return value{t: tInt, n: int(n.Int64)}
	case *parse.BoolNode:
		return value{t: tBool, b: n.True}
	case *parse.PipeNode:
		return x.pipe(n, dot)
	}
	return value{}
}

func (x *executor) field(name string) value {
	switch name {
	case "Name":
		return value{t: tString, s: x.d.Name}
	case "Org":
		return value{t: tString, s: x.d.Org}
	case "Link":
		return value{t: tString, s: x.d.Link}
	case "Prefs":
		return value{t: tString, s: x.d.Prefs}
	case "Detail":
		return value{t: tString, s: x.d.Detail}
	case "When":
		return value{t: tString, s: x.d.When}
	case "Count":
		return value{t: tInt, n: x.d.Count}
	case "Items":
		return value{t: tList, list: x.d.Items}
	}
	return value{}
}

// call applies a built-in function to arguments of the types compile
// allowed.
func call(name string, args []value) value {
	switch name {
	case "not":
		return value{t: tBool, b: !args[0].truth()}
	case "and":
		for _, a := range args[:len(args)-1] {
			if !a.truth() {
				return a
			}
		}
		return args[len(args)-1]
	case "or":
		for _, a := range args[:len(args)-1] {
			if a.truth() {
				return a
			}
		}
		return args[len(args)-1]
	case "len":
		if args[0].t == tList {
			return value{t: tInt, n: len(args[0].list)}
		}
		return value{t: tInt, n: len(args[0].s)}
	case "eq":
		for _, a := range args[1:] {
			if compare(args[0], a) == 0 {
				return value{t: tBool, b: true}
			}
		}
		return value{t: tBool}
	case "ne":
		return value{t: tBool, b: compare(args[0], args[1]) != 0}
	case "lt":
		return value{t: tBool, b: compare(args[0], args[1]) < 0}
	case "le":
		return value{t: tBool, b: compare(args[0], args[1]) <= 0}
	case "gt":
		return value{t: tBool, b: compare(args[0], args[1]) > 0}
	case "ge":
		return value{t: tBool, b: compare(args[0], args[1]) >= 0}
	}
	return value{}
}

// compare orders two values of the same type: texts as strings, numbers
// as numbers, false before true.
func compare(a, b value) int {
	switch a.t {
	case tString:
		return strings.Compare(a.s, b.s)
	case tInt:
		return cmp.Compare(a.n, b.n)
	case tBool:
		switch {
		case a.b == b.b:
			return 0
		case b.b:
			return -1
		}
		return 1
	}
	return 0
}
