package templates

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on an organisation's texts.
const (
	MaxSubject    = 120   // runes in a rendered subject or title
	MaxSMS        = 320   // runes in a rendered SMS, with a SampleLinkLen-rune link
	MaxSource     = 10000 // bytes of a text's source
	SampleLinkLen = 60    // the length of the link Check renders SMS with
)

// FieldError is a fault in one field of a Template: "kind", "channel",
// "lang", "level", "subject" or "body".
type FieldError struct {
	Field   string
	Message string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Check reports whether t is an acceptable text, as *FieldError naming the
// field at fault. A text is acceptable when its key is known (a staff
// kind has the standard level only), its subject is one line (none for
// SMS, required otherwise), both parse as text/templates that render for
// any Data (see the package comment), neither contains HTML, and, when
// rendered with sample data with and without each optional field: an
// email or SMS body contains the link, a subject fits MaxSubject runes
// and an SMS fits MaxSMS runes with a SampleLinkLen-rune link.
func Check(t Template) error {
	_, err := build(t)
	return err
}

// build checks t and returns it compiled.
func build(t Template) (*entry, error) {
	if err := checkKey(t.Key); err != nil {
		return nil, err
	}
	if t.Channel == SMS {
		if t.Subject != "" {
			return nil, fieldErr("subject", "SMS messages have no subject; leave it empty")
		}
	} else {
		if strings.TrimSpace(t.Subject) == "" {
			return nil, fieldErr("subject", "is required for %s", t.Channel)
		}
		if strings.ContainsAny(t.Subject, "\r\n") {
			return nil, fieldErr("subject", "must be one line")
		}
		if err := checkSource("subject", t.Subject); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(t.Body) == "" {
		return nil, fieldErr("body", "is required")
	}
	if err := checkSource("body", t.Body); err != nil {
		return nil, err
	}
	e, err := compileEntry(t)
	if err != nil {
		return nil, err
	}
	if err := checkRendered(e); err != nil {
		return nil, err
	}
	return e, nil
}

func checkKey(k Key) error {
	info, ok := Lookup(k.Kind)
	switch {
	case !ok:
		return fieldErr("kind", "%q is not a kind of message", k.Kind)
	case !knownIn(Channels(), k.Channel):
		return fieldErr("channel", "%q is not one of %s", k.Channel, strings.Join(Channels(), ", "))
	case !knownIn(Languages(), k.Lang):
		return fieldErr("lang", "%q is not one of %s", k.Lang, strings.Join(Languages(), ", "))
	case !knownIn([]string{Simple, Standard}, k.Level):
		return fieldErr("level", "%q is not %s or %s", k.Level, Simple, Standard)
	case info.Audience == Staff && k.Level != Standard:
		return fieldErr("level", "messages to staff have the %s level only", Standard)
	}
	return nil
}

// checkSource rejects sources that are too long, not UTF-8, hold control
// characters other than line ends and tabs, or hold HTML.
func checkSource(field, src string) error {
	if len(src) > MaxSource {
		return fieldErr(field, "is longer than %d bytes", MaxSource)
	}
	if !utf8.ValidString(src) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for _, r := range src {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return fieldErr(field, "holds the control character %U", r)
		}
	}
	if m := findHTML(src); m != "" {
		return fieldErr(field, "holds HTML (%q); messages are plain text", clip(m))
	}
	return nil
}

// checkRendered renders e with every sample and checks the results.
func checkRendered(e *entry) error {
	for _, d := range samples(e.Lang) {
		r := e.render(d)
		if e.subject != nil {
			if r.Subject == "" {
				return fieldErr("subject", "renders empty for %s", describe(d))
			}
			if n := utf8.RuneCountInString(r.Subject); n > MaxSubject {
				return fieldErr("subject", "is %d characters long for %s; at most %d", n, describe(d), MaxSubject)
			}
		}
		if strings.TrimSpace(r.Body) == "" {
			return fieldErr("body", "renders empty for %s", describe(d))
		}
		if (e.Channel == Email || e.Channel == SMS) && !strings.Contains(r.Body, d.Link) {
			return fieldErr("body", "must contain the link {{.Link}} (missing for %s)", describe(d))
		}
		if n := utf8.RuneCountInString(r.Body); e.Channel == SMS && n > MaxSMS {
			return fieldErr("body", "is %d characters long for %s with a %d-character link; an SMS may have at most %d", n, describe(d), SampleLinkLen, MaxSMS)
		}
	}
	return nil
}

// samples returns the data Check renders a text with: every combination
// of the optional fields set and empty, with a digest of none, one and
// three items.
func samples(lang string) []Data {
	full := Data{
		Name:   "Alexandra",
		Org:    "Riverside Family Clinic",
		Link:   sampleLink(),
		Prefs:  "https://clinic.example/account/notifications",
		Detail: "cholesterol test",
		When:   "Wednesday, September 30 at 12:30 PM",
	}
	items := []string{"You have a new test result", "Please book your follow-up visit", "Your appointment is booked"}
	if lang == Spanish {
		full.Detail = "prueba de colesterol"
		full.When = "miércoles 30 de septiembre a las 12:30"
		items = []string{"Tiene un nuevo resultado", "Reserve su cita de seguimiento", "Su cita está confirmada"}
	}
	var out []Data
	for mask := range 1 << 5 {
		d := Data{Link: full.Link}
		if mask&1 != 0 {
			d.Name = full.Name
		}
		if mask&2 != 0 {
			d.Org = full.Org
		}
		if mask&4 != 0 {
			d.Detail = full.Detail
		}
		if mask&8 != 0 {
			d.When = full.When
		}
		if mask&16 != 0 {
			d.Prefs = full.Prefs
		}
		for _, n := range []int{0, 1, 3} {
			d.Items, d.Count = items[:n], n
			out = append(out, d)
		}
	}
	return out
}

// sampleLink returns a link of SampleLinkLen runes.
func sampleLink() string {
	const base = "https://clinic.example/n/"
	return base + strings.Repeat("x", SampleLinkLen-len(base))
}

// describe names the optional fields set in d, for an error message.
func describe(d Data) string {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"Name", d.Name != ""}, {"Org", d.Org != ""}, {"Detail", d.Detail != ""}, {"When", d.When != ""}, {"Prefs", d.Prefs != ""}} {
		if f.on {
			set = append(set, f.name)
		}
	}
	s := "data without optional fields"
	if len(set) > 0 {
		s = "data with " + strings.Join(set, ", ")
	}
	return fmt.Sprintf("%s and %d items", s, d.Count)
}

// findHTML returns the first HTML tag, comment or character reference in
// s ("<b>", "</p>", "<!-- x -->", "&amp;", "&#39;"), or "". An address
// in angle brackets (<https://…>) is plain text.
func findHTML(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			if end := tagEnd(s[i+1:]); end >= 0 && !strings.Contains(s[i:i+1+end], "://") {
				return s[i : i+1+end+1]
			}
		case '&':
			if end := referenceEnd(s[i+1:]); end >= 0 {
				return s[i : i+1+end+1]
			}
		}
	}
	return ""
}

// tagEnd returns the index of the '>' closing a tag that s (after '<')
// starts, or -1: optional spaces and '/', a letter or '!', then anything
// but '<' up to '>'.
func tagEnd(s string) int {
	j := 0
	for j < len(s) && (s[j] == ' ' || s[j] == '/') {
		j++
	}
	if j == len(s) || !(isASCIILetter(s[j]) || s[j] == '!') {
		return -1
	}
	for ; j < len(s); j++ {
		switch s[j] {
		case '>':
			return j
		case '<':
			return -1
		}
	}
	return -1
}

// referenceEnd returns the index of the ';' closing a character reference
// that s (after '&') starts ("amp;", "#39;", "#x27;"), or -1.
func referenceEnd(s string) int {
	j := 0
	digits := func(ok func(byte) bool) int {
		start := j
		for j < len(s) && ok(s[j]) {
			j++
		}
		if j == start || j == len(s) || s[j] != ';' {
			return -1
		}
		return j
	}
	if strings.HasPrefix(s, "#x") || strings.HasPrefix(s, "#X") {
		j = 2
		return digits(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' })
	}
	if strings.HasPrefix(s, "#") {
		j = 1
		return digits(func(c byte) bool { return c >= '0' && c <= '9' })
	}
	return digits(isASCIILetter)
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
