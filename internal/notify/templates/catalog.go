package templates

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template/parse"
	"unicode"
)

// Catalog is a set of compiled texts. It is immutable and safe for
// concurrent use.
type Catalog struct {
	entries map[Key]*entry
}

// entry is one compiled text.
type entry struct {
	Template
	subject *parse.ListNode // nil for SMS
	body    *parse.ListNode
}

// Default returns careloop's own texts: every kind, on every channel, in
// every language, at each of its levels (see Levels). It parses the
// embedded files on each call; keep the result. It panics if an embedded
// file is malformed, which the package's tests rule out.
func Default() *Catalog {
	list, err := builtIn()
	if err != nil {
		panic(err)
	}
	c := &Catalog{entries: make(map[Key]*entry, len(list))}
	for _, t := range list {
		e, err := compileEntry(t)
		if err != nil {
			panic(fmt.Sprintf("templates: built-in text %s: %v", t.Key, err))
		}
		c.entries[t.Key] = e
	}
	return c
}

// compileEntry compiles t, whose key must be valid, without the other
// checks of Check.
func compileEntry(t Template) (*entry, error) {
	if err := checkKey(t.Key); err != nil {
		return nil, err
	}
	e := &entry{Template: t}
	var err error
	if t.Channel != SMS {
		if e.subject, err = compile("subject", t.Subject); err != nil {
			return nil, fieldErr("subject", "%v", err)
		}
	}
	if e.body, err = compile("body", t.Body); err != nil {
		return nil, fieldErr("body", "%v", err)
	}
	return e, nil
}

// With returns a new catalog with overrides (an organisation's own texts)
// in place of c's texts of the same keys; c is unchanged. Each override
// must pass Check, and no key may appear twice; otherwise With returns an
// error naming the key and the field, and no catalog.
func (c *Catalog) With(overrides []Template) (*Catalog, error) {
	n := &Catalog{entries: maps.Clone(c.entries)}
	seen := make(map[Key]bool, len(overrides))
	for _, t := range overrides {
		if seen[t.Key] {
			return nil, fmt.Errorf("templates: %s is given twice", t.Key)
		}
		seen[t.Key] = true
		e, err := build(t)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", t.Key, err)
		}
		n.entries[t.Key] = e
	}
	return n, nil
}

// Render fills in the text of key k with d. An empty Level means simple,
// an empty Lang English. When the catalog has no text for k, Render falls
// back to the other level, then to English at the level asked for and
// then the other; Rendered.Key names the text used. Subjects come out as
// one line; bodies without trailing spaces, blank lines at either end or
// runs of blank lines, and email bodies end with a line break. Line
// breaks and other control characters in d's texts become spaces.
//
// Render fails for an unknown kind, channel or level, and when no text
// is found.
func (c *Catalog) Render(k Key, d Data) (Rendered, error) {
	if !knownKind(k.Kind) {
		return Rendered{}, fmt.Errorf("templates: render %s: unknown kind %q", k, k.Kind)
	}
	if k.Channel != Email && k.Channel != SMS && k.Channel != InApp {
		return Rendered{}, fmt.Errorf("templates: render %s: unknown channel %q", k, k.Channel)
	}
	if k.Level == "" {
		k.Level = Simple
	}
	if k.Lang == "" {
		k.Lang = English
	}
	other := Standard
	switch k.Level {
	case Simple:
	case Standard:
		other = Simple
	default:
		return Rendered{}, fmt.Errorf("templates: render %s: unknown level %q", k, k.Level)
	}
	for _, lang := range [2]string{k.Lang, English} {
		for _, level := range [2]string{k.Level, other} {
			e, ok := c.entries[Key{Kind: k.Kind, Channel: k.Channel, Lang: lang, Level: level}]
			if !ok {
				continue
			}
			return e.render(d), nil
		}
	}
	return Rendered{}, fmt.Errorf("templates: render %s: no text for it", k)
}

// Templates returns every text of the catalog, ordered by kind (in the
// order of Kinds), channel (email, SMS, in-app), language and level.
func (c *Catalog) Templates() []Template {
	out := make([]Template, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e.Template)
	}
	kinds := Kinds()
	pos := func(k Kind) int {
		return slices.IndexFunc(kinds, func(i KindInfo) bool { return i.Kind == k })
	}
	slices.SortFunc(out, func(a, b Template) int {
		return cmp.Or(
			cmp.Compare(pos(a.Kind), pos(b.Kind)),
			cmp.Compare(slices.Index(Channels(), a.Channel), slices.Index(Channels(), b.Channel)),
			cmp.Compare(slices.Index(Languages(), a.Lang), slices.Index(Languages(), b.Lang)),
			strings.Compare(a.Level, b.Level),
		)
	})
	return out
}

// render fills in e with d.
func (e *entry) render(d Data) Rendered {
	d = cleanData(d)
	r := Rendered{Key: e.Key}
	var b strings.Builder
	if e.subject != nil {
		b.Grow(len(e.Subject) + len(d.Org) + len(d.Detail) + len(d.When))
		execute(&b, e.subject, &d)
		r.Subject = oneLine(b.String())
		b = strings.Builder{}
	}
	b.Grow(len(e.Body) + len(d.Link) + len(d.Prefs) + 2*(len(d.Org)+len(d.Name)+len(d.Detail)+len(d.When)))
	execute(&b, e.body, &d)
	r.Body = tidy(b.String(), e.Channel == Email)
	return r
}

// cleanData returns d with control characters in its texts turned into
// spaces and the texts trimmed.
func cleanData(d Data) Data {
	dirty := needsCleaning(d.Name) || needsCleaning(d.Org) || needsCleaning(d.Link) || needsCleaning(d.Prefs) ||
		needsCleaning(d.Detail) || needsCleaning(d.When) || slices.ContainsFunc(d.Items, needsCleaning)
	if !dirty {
		return d
	}
	d.Name, d.Org, d.Link, d.Prefs = cleanText(d.Name), cleanText(d.Org), cleanText(d.Link), cleanText(d.Prefs)
	d.Detail, d.When = cleanText(d.Detail), cleanText(d.When)
	items := make([]string, len(d.Items))
	for i, s := range d.Items {
		items[i] = cleanText(s)
	}
	d.Items = items
	return d
}

func needsCleaning(s string) bool {
	if s != strings.TrimSpace(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func cleanText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// oneLine returns s with every run of white space as one space, trimmed.
func oneLine(s string) string {
	clean := s == strings.TrimSpace(s) && !strings.Contains(s, "  ") &&
		!strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) })
	if clean {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// tidy returns body with line ends as \n, trailing spaces cut from each
// line, no blank lines at either end and at most one blank line in a row;
// with a final line break when finalNewline is set.
func tidy(body string, finalNewline bool) string {
	var b strings.Builder
	b.Grow(len(body) + 1)
	blank := false
	for rest := body; rest != ""; {
		line := rest
		if i := strings.IndexAny(rest, "\r\n"); i >= 0 {
			end := i + 1
			if rest[i] == '\r' && end < len(rest) && rest[end] == '\n' {
				end++
			}
			line, rest = rest[:i], rest[end:]
		} else {
			rest = ""
		}
		line = strings.TrimRight(line, " \t")
		if line == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(line)
	}
	if finalNewline {
		b.WriteByte('\n')
	}
	return b.String()
}
