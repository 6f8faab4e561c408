package fhirpath

import (
	"errors"
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
	})
}
