package web

import (
	"strings"

	pweb "github.com/careloop/careloop/internal/platform/web"
)

// formField is one labelled input of a form built in Go, for the
// templates "input-field", "select-field" and "checkbox-field"
// (templates/_notify.html): its label, hint and error are tied to it for
// screen readers.
type formField struct {
	ID, Name, Label, Hint, Error string
	// Type is the input's type (text, time, number, url, password).
	Type, Value  string
	Min, Max     string
	Autocomplete string
	Options      []option // of a select
	Checked      bool     // of a checkbox
	Secret, Set  bool     // a write-only secret, and whether one is stored
}

// option is one choice of a select.
type option struct {
	Value, Label string
	// Lang is the language of the label when it is not English.
	Lang     string
	Selected bool
}

// DescribedBy lists the ids of the field's hint and error.
func (f formField) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// withError returns f with the form's error for its id.
func (f formField) withError(e *pweb.FormErrors) formField {
	f.Error = e.Of(f.ID)
	return f
}

// options returns the choices of values (value, label pairs) with
// selected chosen.
func options(selected string, pairs ...string) []option {
	out := make([]option, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == selected})
	}
	return out
}
