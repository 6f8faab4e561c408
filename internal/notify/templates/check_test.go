package templates

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAccepts(t *testing.T) {
	email := Key{ResultReady, Email, "en", Simple}
	tests := []struct {
		name string
		t    Template
	}{
		{"plain email", Template{Key: email, Subject: "News from {{.Org}}", Body: "Hello {{.Name}}. See {{.Link}}\n\nSettings: {{.Prefs}}"}},
		{"sms", Template{Key: Key{ResultReady, SMS, "es", Standard}, Body: "{{with .Org}}{{.}}: {{end}}Tiene un resultado: {{.Link}}"}},
		{"in-app without a link", Template{Key: Key{ResultReady, InApp, "en", Standard}, Subject: "New result", Body: "Open it when you are ready."}},
		{"staff standard", Template{Key: Key{CriticalEscalation, SMS, "en", Standard}, Body: "Critical result: {{.Link}}"}},
		{"range, $ and conditions", Template{Key: Key{Digest, Email, "en", Simple},
			Subject: "{{if eq .Count 1}}1 message{{else if gt .Count 1}}{{.Count}} messages{{else}}Messages{{end}}",
			Body:    "{{range .Items}}{{if .}}- {{.}} ({{$.Org}}){{end}}{{else}}Nothing listed.{{end}}\n{{if and .Name (not .Detail)}}Hi {{or .Name \"there\"}}{{end}} {{len .Items}} {{.Link}}"}},
		{"with and pipelines", Template{Key: email, Subject: "{{with .Org}}{{.}}{{else}}Your clinic{{end}}",
			Body: "{{if .Name | len | lt 3}}Long name{{end}} {{if ne .When \"\"}}{{.When}}{{end}} {{.Link}}"}},
		{"address in angle brackets", Template{Key: email, Subject: "Hi", Body: "See <{{.Link}}> or <https://clinic.example/help>"}},
		{"comments and trims", Template{Key: email, Subject: "Hi", Body: "{{/* a note */}}Hello,\n{{- .Name -}}\n{{.Link}}"}},
		{"a lone less-than and ampersand", Template{Key: email, Subject: "Q&A", Body: "If count < 3 & more: {{.Link}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.t); err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	email := Key{ResultReady, Email, "en", Simple}
	sms := Key{ResultReady, SMS, "en", Simple}
	ok := "Hello. {{.Link}}"
	tests := []struct {
		name  string
		t     Template
		field string
		want  string
	}{
		{"unknown kind", Template{Key: Key{"party", Email, "en", Simple}, Subject: "Hi", Body: ok}, "kind", "not a kind"},
		{"unknown channel", Template{Key: Key{ResultReady, "fax", "en", Simple}, Subject: "Hi", Body: ok}, "channel", "fax"},
		{"unknown language", Template{Key: Key{ResultReady, Email, "fr", Simple}, Subject: "Hi", Body: ok}, "lang", "fr"},
		{"unknown level", Template{Key: Key{ResultReady, Email, "en", "easy"}, Subject: "Hi", Body: ok}, "level", "easy"},
		{"staff text at simple level", Template{Key: Key{ReviewOverdue, Email, "en", Simple}, Subject: "Hi", Body: ok}, "level", "standard level only"},
		{"SMS with a subject", Template{Key: sms, Subject: "Hi", Body: ok}, "subject", "no subject"},
		{"email without a subject", Template{Key: email, Subject: " ", Body: ok}, "subject", "required"},
		{"subject on two lines", Template{Key: email, Subject: "Hi\nthere", Body: ok}, "subject", "one line"},
		{"subject too long", Template{Key: email, Subject: strings.Repeat("a", 100) + " {{.Org}}", Body: ok}, "subject", "at most 120"},
		{"subject renders empty", Template{Key: email, Subject: "{{.Name}}", Body: ok}, "subject", "renders empty"},
		{"empty body", Template{Key: email, Subject: "Hi", Body: "\n "}, "body", "required"},
		{"body renders empty", Template{Key: Key{ResultReady, InApp, "en", Simple}, Subject: "Hi", Body: "{{.Detail}}"}, "body", "renders empty"},
		{"email without the link", Template{Key: email, Subject: "Hi", Body: "Sign in to see it."}, "body", "{{.Link}}"},
		{"SMS with the link only with a detail", Template{Key: sms, Body: "New result.{{if .Detail}} {{.Link}}{{end}}"}, "body", "{{.Link}}"},
		{"SMS too long", Template{Key: sms, Body: strings.Repeat("word ", 55) + "{{.Link}}"}, "body", "at most 320"},
		{"SMS too long with an item per line", Template{Key: Key{Digest, SMS, "en", Simple}, Body: "{{range .Items}}{{.}} {{.}} {{.}} {{end}}{{.Link}}"}, "body", "at most 320"},
		{"HTML tag", Template{Key: email, Subject: "Hi", Body: "<b>Hello</b> {{.Link}}"}, "body", "HTML"},
		{"HTML in the subject", Template{Key: email, Subject: "<i>Hi</i>", Body: ok}, "subject", "HTML"},
		{"HTML comment", Template{Key: email, Subject: "Hi", Body: "<!-- x --> {{.Link}}"}, "body", "HTML"},
		{"character reference", Template{Key: email, Subject: "Hi", Body: "Tom &amp; Ann {{.Link}}"}, "body", "HTML"},
		{"numeric reference", Template{Key: email, Subject: "Hi", Body: "It&#39;s {{.Link}}"}, "body", "HTML"},
		{"control character", Template{Key: email, Subject: "Hi", Body: "Bell\a {{.Link}}"}, "body", "control character"},
		{"not UTF-8", Template{Key: email, Subject: "Hi", Body: "\xff {{.Link}}"}, "body", "UTF-8"},
		{"source too long", Template{Key: email, Subject: "Hi", Body: strings.Repeat("a", MaxSource) + "{{.Link}}"}, "body", "longer than"},
		{"parse error", Template{Key: email, Subject: "Hi", Body: "{{if .Name}}open {{.Link}}"}, "body", "line"},
		{"unknown field", Template{Key: email, Subject: "Hi", Body: "{{.Phone}} {{.Link}}"}, "body", "no field .Phone"},
		{"field of a field", Template{Key: email, Subject: "Hi", Body: "{{.Name.First}} {{.Link}}"}, "body", "has no field"},
		{"field of a single value", Template{Key: email, Subject: "Hi", Body: "{{with .Org}}{{.Name}}{{end}} {{.Link}}"}, "body", "single value"},
		{"field inside a range", Template{Key: email, Subject: "Hi", Body: "{{range .Items}}{{.Org}}{{end}} {{.Link}}"}, "body", "{{$.Org}}"},
		{"printf", Template{Key: email, Subject: "Hi", Body: `{{printf "%09999d" 1}} {{.Link}}`}, "body", "printf is not allowed"},
		{"call", Template{Key: email, Subject: "Hi", Body: "{{call .Name}} {{.Link}}"}, "body", "call is not allowed"},
		{"index", Template{Key: email, Subject: "Hi", Body: "{{index .Items 5}} {{.Link}}"}, "body", "index is not allowed"},
		{"variable", Template{Key: email, Subject: "Hi", Body: "{{$n := .Name}}{{$n}} {{.Link}}"}, "body", "variables"},
		{"range with variables", Template{Key: email, Subject: "Hi", Body: "{{range $i, $s := .Items}}{{$s}}{{end}} {{.Link}}"}, "body", "variables"},
		{"define", Template{Key: email, Subject: "Hi", Body: `{{define "x"}}X{{end}}{{.Link}}`}, "body", "define"},
		{"template call", Template{Key: email, Subject: "Hi", Body: `{{template "x"}}{{.Link}}`}, "body", "template"},
		{"block", Template{Key: email, Subject: "Hi", Body: `{{block "x" .}}X{{end}}{{.Link}}`}, "body", "define"},
		{"nested range", Template{Key: email, Subject: "Hi", Body: "{{range .Items}}{{range $.Items}}x{{end}}{{end}} {{.Link}}"}, "body", "range inside a range"},
		{"range over text", Template{Key: email, Subject: "Hi", Body: "{{range .Name}}x{{end}} {{.Link}}"}, "body", "range needs a list"},
		{"whole data printed", Template{Key: email, Subject: "Hi", Body: "{{.}} {{.Link}}"}, "body", "whole message data"},
		{"list printed", Template{Key: email, Subject: "Hi", Body: "{{.Items}} {{.Link}}"}, "body", "list cannot be printed"},
		{"mixed comparison", Template{Key: email, Subject: "Hi", Body: `{{if eq .Count "1"}}x{{end}} {{.Link}}`}, "body", "different types"},
		{"order of booleans", Template{Key: email, Subject: "Hi", Body: `{{if lt true false}}x{{end}} {{.Link}}`}, "body", "cannot compare"},
		{"fraction", Template{Key: email, Subject: "Hi", Body: `{{if eq .Count 1.5}}x{{end}} {{.Link}}`}, "body", "whole numbers"},
		{"len of a number", Template{Key: email, Subject: "Hi", Body: `{{len .Count}} {{.Link}}`}, "body", "len needs"},
		{"wrong arity", Template{Key: email, Subject: "Hi", Body: `{{if not .Name .Org}}x{{end}} {{.Link}}`}, "body", "one argument"},
		{"bare function as argument", Template{Key: email, Subject: "Hi", Body: `{{if and not .Name}}x{{end}} {{.Link}}`}, "body", "parentheses"},
		{"nil", Template{Key: email, Subject: "Hi", Body: `{{if eq .Name nil}}x{{end}} {{.Link}}`}, "body", "not allowed"},
		{"field of a pipeline", Template{Key: email, Subject: "Hi", Body: `{{(.Name).Foo}} {{.Link}}`}, "body", "not allowed"},
		{"value called with arguments", Template{Key: email, Subject: "Hi", Body: `{{.Name 1}} {{.Link}}`}, "body", "not a function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.t)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Check = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.want) {
				t.Errorf("Check = %q, want field %q and a message with %q", err, tt.field, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") {
				t.Errorf("error %q does not start with its field", err)
			}
		})
	}
}
