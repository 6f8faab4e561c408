package fhirpath

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCompile checks that Compile never panics, that its errors are
// *Error with an offset inside the expression, and that what compiles
// evaluates without panicking.
func FuzzCompile(f *testing.F) {
	for _, list := range [][]string{briefExpressions, r4Expressions} {
		for _, s := range list {
			f.Add(s)
		}
	}
	for _, s := range []string{
		"", "(", ")", "[0]", "a[", "'", "`", "%", "$", "@2020", "1.", "-", "a.b(", "a.where(b = )",
		"Observation.value as", "x is", "{", "{}.a", "a | | b", "a.b.c[99999999999999999999]",
		"descendants().count()", "children().children()", "iif(true, 1)", "a.skip(3).take(1)",
		"'\\u00e9'", "'\\u00'", "/* x", "// x", "a.extension('u').value.extension('v')",
		"1 + 2 * 3 div 4 mod 5 - 6 / 7", "'a' & b & 'c'", "code.substring(1, 2)", "a.intersect(%resource.b).exists()",
		"start <= end", "contained.where(('#'+id in %resource.descendants().reference).not()).empty()",
		"value.union(x).combine(y).exclude(z).subsetOf(w)", "%rootResource.contained.id",
	} {
		f.Add(s)
	}
	obs := decode(f, observation)
	pat := decode(f, patient)
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Compile(%q): error %T %v is not *Error", expr, err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(expr) {
				t.Fatalf("Compile(%q): offset %d out of range", expr, pe.Offset)
			}
			return
		}
		e.Eval(obs)
		e.Eval(pat)
		for _, n := range MustCompile("Observation.component").Eval(obs) {
			e.EvalNode(obs, n)
		}
		if focus, _ := e.Reads(); focus == nil {
			t.Fatalf("Reads(%q): no focus Shape", expr)
		}
		env := &Env{Resource: func() Node { return Node{Value: obs, Type: "Observation"} }}
		e.Test(env, Node{Value: pat, Type: "Patient"})
	})
}

// FuzzHTMLChecks checks that htmlChecks never panics and accepts only text
// that starts with a div and ends with its end tag.
func FuzzHTMLChecks(f *testing.F) {
	for _, s := range []string{
		`<div xmlns="http://www.w3.org/1999/xhtml">x</div>`,
		`<div xmlns="http://www.w3.org/1999/xhtml"><p a='1' b="2">x &amp; &#233;</p><br/><!-- c --></div>`,
		`<?xml version="1.0"?><div xmlns="http://www.w3.org/1999/xhtml"><img src="x"/></div>`,
		`<div><p></div>`, `<`, `</`, `&`, `<div xmlns="http://www.w3.org/1999/xhtml" onload="x">x</div>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if htmlChecks(s) {
			trimmed := strings.TrimSpace(s)
			if !strings.Contains(trimmed, "<div") || !strings.HasSuffix(trimmed, ">") {
				t.Fatalf("htmlChecks(%q) accepts text that is not a div", s)
			}
		}
	})
}
