// Package i18n gives careloop's pages their words in the reader's
// language. Every string a person reads on a localised page comes from a
// message catalog: one JSON file per language (locales/en.json,
// locales/es.json) in each package that has pages, merged into one
// [Catalog]. Messages are go-i18n messages: a plain string, or an object
// with CLDR plural forms ("one", "other"), with {{.Name}} placeholders.
//
// The language of a request is chosen by [Catalog.Negotiate]: the language
// the person picked with the switcher (a cookie), else their profile's
// language, else the browser's Accept-Language, else English.
//
// English is the source language: every key must exist in English, and a
// test of each page package checks that every key exists in every language.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Default is the source language, used when nothing else matches.
const Default = "en"

// CookieName is the cookie that keeps the language picked with the
// switcher, for a year.
const CookieName = "careloop_lang"

// Language is one language pages are offered in.
type Language struct {
	Tag string // BCP 47: "en", "es"
	// Name is the language's name in itself ("Español"), as the switcher
	// shows it: a reader who cannot read the current language must still
	// find their own.
	Name string
	// RTL: the language is written right to left.
	RTL bool
}

// known names languages in themselves; a catalog may only offer these.
var known = map[string]Language{
	"en": {Tag: "en", Name: "English"},
	"es": {Tag: "es", Name: "Español"},
	"ar": {Tag: "ar", Name: "العربية", RTL: true},
	"he": {Tag: "he", Name: "עברית", RTL: true},
	"fr": {Tag: "fr", Name: "Français"},
	"vi": {Tag: "vi", Name: "Tiếng Việt"},
	"zh": {Tag: "zh", Name: "中文"},
}

// Catalog holds the messages of every language. It is safe for
// concurrent use once built.
type Catalog struct {
	bundle    *goi18n.Bundle
	langs     []Language
	matcher   language.Matcher
	keys      map[string]map[string]bool // language → keys
	localizer map[string]*Localizer
}

// Source is a set of message files: every locales/<lang>.json of FS.
type Source struct {
	FS  fs.FS
	Dir string // folder of the files, usually "locales"
}

// New builds the catalog from the message files of sources. Each
// language's keys may be spread over several sources; a key defined twice
// in one language is an error, as is a language careloop does not know or
// a catalog without English.
func New(sources ...Source) (*Catalog, error) {
	c := &Catalog{bundle: goi18n.NewBundle(language.English), keys: map[string]map[string]bool{}, localizer: map[string]*Localizer{}}
	c.bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, src := range sources {
		names, err := fs.Glob(src.FS, path.Join(src.Dir, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", src.Dir, err)
		}
		for _, name := range names {
			tag := strings.TrimSuffix(path.Base(name), ".json")
			if _, ok := known[tag]; !ok {
				return nil, fmt.Errorf("i18n: %s: careloop does not know the language %q", name, tag)
			}
			buf, err := fs.ReadFile(src.FS, name)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(buf, &raw); err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			if c.keys[tag] == nil {
				c.keys[tag] = map[string]bool{}
			}
			for k := range raw {
				if c.keys[tag][k] {
					return nil, fmt.Errorf("i18n: %s: key %q is defined twice for %s", name, k, tag)
				}
				c.keys[tag][k] = true
			}
			if _, err := c.bundle.ParseMessageFileBytes(buf, name); err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
		}
	}
	if c.keys[Default] == nil {
		return nil, fmt.Errorf("i18n: no English messages: English is the source language")
	}
	tags := []language.Tag{language.English}
	c.langs = []Language{known[Default]}
	var others []string
	for tag := range c.keys {
		if tag != Default {
			others = append(others, tag)
		}
	}
	sort.Strings(others)
	for _, tag := range others {
		tags = append(tags, language.Make(tag))
		c.langs = append(c.langs, known[tag])
	}
	c.matcher = language.NewMatcher(tags)
	for _, l := range c.langs {
		c.localizer[l.Tag] = &Localizer{Language: l, l: goi18n.NewLocalizer(c.bundle, l.Tag), cat: c}
	}
	return c, nil
}

// Languages lists the languages of the catalog, English first.
func (c *Catalog) Languages() []Language { return c.langs }

// Keys returns the keys defined in a language, sorted.
func (c *Catalog) Keys(lang string) []string {
	out := make([]string, 0, len(c.keys[lang]))
	for k := range c.keys[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Missing returns, per language, the keys English has and it lacks, and
// the keys it has that English lacks (prefixed with "+"): what a complete
// catalog must not have.
func (c *Catalog) Missing() map[string][]string {
	out := map[string][]string{}
	for _, l := range c.langs {
		for k := range c.keys[Default] {
			if !c.keys[l.Tag][k] {
				out[l.Tag] = append(out[l.Tag], k)
			}
		}
		for k := range c.keys[l.Tag] {
			if !c.keys[Default][k] {
				out[l.Tag] = append(out[l.Tag], "+"+k)
			}
		}
		sort.Strings(out[l.Tag])
		if len(out[l.Tag]) == 0 {
			delete(out, l.Tag)
		}
	}
	return out
}

// Match returns the catalog's language closest to any of prefs (BCP 47
// tags or Accept-Language values), in order, and false when none is close
// enough to be understood (then English).
func (c *Catalog) Match(prefs ...string) (string, bool) {
	for _, p := range prefs {
		if p == "" {
			continue
		}
		tags, _, err := language.ParseAcceptLanguage(p)
		if err != nil || len(tags) == 0 {
			continue
		}
		if _, i, conf := c.matcher.Match(tags...); conf != language.No {
			return c.langs[i].Tag, true
		}
	}
	return Default, false
}

// Negotiate chooses the language of a request: the one picked with the
// switcher (CookieName), else profile (the person's own language, "" when
// unknown), else the browser's Accept-Language, else English.
func (c *Catalog) Negotiate(r *http.Request, profile string) *Localizer {
	if ck, err := r.Cookie(CookieName); err == nil {
		if l, ok := c.localizer[ck.Value]; ok {
			return l
		}
	}
	if profile != "" {
		if tag, ok := c.Match(profile); ok {
			return c.localizer[tag]
		}
	}
	tag, _ := c.Match(r.Header.Get("Accept-Language"))
	return c.localizer[tag]
}

// For returns the localizer of lang, or English's when the catalog does
// not have lang.
func (c *Catalog) For(lang string) *Localizer {
	if l, ok := c.localizer[lang]; ok {
		return l
	}
	tag, _ := c.Match(lang)
	return c.localizer[tag]
}

// Has reports whether the catalog offers lang exactly.
func (c *Catalog) Has(lang string) bool { _, ok := c.localizer[lang]; return ok }

// Remember sets the switcher's cookie to lang (which must be in the
// catalog), for a year.
func Remember(w http.ResponseWriter, lang string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// Localizer gives the messages of one language.
type Localizer struct {
	Language
	l   *goi18n.Localizer
	cat *Catalog
}

// Lang returns the BCP 47 tag, for the lang attribute.
func (l *Localizer) Lang() string { return l.Tag }

// Dir returns "rtl" or "ltr", for the dir attribute.
func (l *Localizer) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

// Catalog returns the catalog the localizer belongs to.
func (l *Localizer) Catalog() *Catalog { return l.cat }

// T returns the message key with args as its placeholders' values: pairs
// of name and value ("Name", "Ana"), and a "Count" pair chooses the plural
// form. A message missing from the language falls back to English; a key
// missing from English is returned as itself, so the gap is visible
// rather than a blank (the catalog tests keep that from shipping).
func (l *Localizer) T(key string, args ...any) string {
	cfg := goi18n.LocalizeConfig{MessageID: key}
	if len(args) > 0 {
		data := make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			name, _ := args[i].(string)
			data[name] = args[i+1]
			if name == "Count" {
				cfg.PluralCount = args[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := l.l.Localize(&cfg)
	if s == "" && err != nil {
		return key
	}
	return s
}
