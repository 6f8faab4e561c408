package templates

import (
	"strings"
	"testing"
	"text/template"
)

// sameAsReference checks that execute writes what text/template writes
// for the source src with each of ds.
func sameAsReference(t *testing.T, what, src string, ds []Data) {
	t.Helper()
	root, err := compile("body", src)
	if err != nil {
		t.Fatalf("%s: compile: %v", what, err)
	}
	ref, err := template.New("reference").Parse(src)
	if err != nil {
		t.Fatalf("%s: text/template: %v", what, err)
	}
	for _, d := range ds {
		var want, got strings.Builder
		if err := ref.Execute(&want, d); err != nil {
			t.Fatalf("%s: text/template fails on a text compile accepted: %v", what, err)
		}
		execute(&got, root, &d)
		if got.String() != want.String() {
			t.Fatalf("%s with %+v: execute wrote\n%q\ntext/template wrote\n%q", what, d, got.String(), want.String())
		}
	}
}

func TestExecuteMatchesTextTemplate(t *testing.T) {
	odd := Data{Name: "A\nB", Link: "l", Count: -3, Items: []string{"", "x", "y"}}
	for _, tm := range Default().Templates() {
		ds := append(samples(tm.Lang), odd, Data{})
		if tm.Subject != "" {
			sameAsReference(t, tm.Key.String()+" subject", tm.Subject, ds)
		}
		sameAsReference(t, tm.Key.String()+" body", tm.Body, ds)
	}
	exprs := []string{
		`{{and .Name .Org}}|{{or .Name .Org "none"}}|{{and .Count .Name}}|{{or .Items .Name}}`,
		`{{not .Items}} {{not .Count}} {{len .Name}} {{len .Items}} {{.Count}} {{-12}} {{true}}`,
		`{{eq .Count 0 1 3}} {{ne .Name "Alex"}} {{lt .Name "B"}} {{le .Count 1}} {{gt .Count -1}} {{ge "b" "a"}} {{eq true (not .Detail)}}`,
		`{{range .Items}}[{{if eq . "x"}}{{continue}}{{end}}{{if eq . "z"}}{{break}}{{end}}{{.}}]{{else}}none{{end}}`,
		`{{with .Items}}{{range .}}{{.}};{{end}}{{else with .Org}}{{.}}{{else}}-{{end}}`,
		`{{if .Name}}a{{else if .Org}}b{{else}}c{{end}} {{.Name | len | lt 2}} {{$.Org}}`,
		`{{- .Name -}} x {{/* note */}} {{"q"}}`,
	}
	for _, src := range exprs {
		sameAsReference(t, src, src, []Data{odd, {}, {Name: "Alex", Org: "O", Count: 3, Items: []string{"x", "z", "w"}, Detail: "d"}})
	}
}
