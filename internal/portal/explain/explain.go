// Package explain holds careloop's plain-language explanations of
// laboratory tests, which the patient portal shows beside each result. The
// texts are general information written for careloop, not advice about any
// one person's health: each clinic must have its own clinicians review them
// before its patients see them.
//
// An explanation says, in the patient's language, what a test measures
// and why it is done, what a result above or below the reference range
// may mean in general terms, and what to do next. It never gives a
// diagnosis, and it never gives urgent instructions: for critical results
// the portal shows its own banner.
//
// The explanations are data, kept readable for clinical reviewers and
// compiled into the binary: data/tests.json maps each explanation's key to
// the LOINC codes it explains, and data/<language>.json (en.json, es.json)
// holds one object per key with the fields name, what, high, low and next.
// The files are parsed and checked once, when the package is initialised;
// malformed data makes the program panic at start with a message naming
// the problem, and the package's tests guard against it.
package explain

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// English is the language every explanation exists in, and the one
// [Lookup] falls back to.
const English = "en"

// Explanation is one test's explanation in one language. Every field but
// Low is set.
type Explanation struct {
	// Key identifies the explanation: the same in every language and for
	// every LOINC code it explains (such as "glucose" or "allergen-ige").
	Key string
	// Name is what patients call the test, short.
	Name string
	// What says what the test measures and why it is done.
	What string
	// High says what a result above the reference range may mean.
	High string
	// Low says what a result below the reference range may mean; it is
	// empty, in every language, when a low result means nothing in
	// particular.
	Low string
	// Next says what the patient can do next, calmly and practically.
	Next string
}

// text is one explanation as written in a language file.
type text struct {
	Name string `json:"name"`
	What string `json:"what"`
	High string `json:"high"`
	Low  string `json:"low"`
	Next string `json:"next"`
}

// catalog is the parsed data. It is read-only once built.
type catalog struct {
	keyOf map[string]string          // LOINC code → key
	texts map[string]map[string]text // language → key → text
	codes []string                   // sorted
	langs []string                   // sorted
}

//go:embed data/*.json
var files embed.FS

var data = mustLoad()

func mustLoad() *catalog {
	sub, err := fs.Sub(files, "data")
	if err == nil {
		var c *catalog
		if c, err = load(sub); err == nil {
			return c
		}
	}
	panic("explain: the embedded explanations are malformed: " + err.Error())
}

// Lookup returns the explanation of the test with LOINC code code (such as
// "2345-7", matched exactly) in language lang, a BCP 47 tag such as "en",
// "es" or "es-MX", matched without regard to case. A tag careloop has no
// texts for falls back to its base language ("es-MX" to "es"), and a
// language careloop has no texts in (or an empty tag) to English. ok is
// false, with a zero Explanation, when careloop has no explanation for the
// code. Lookup is safe for concurrent use.
func Lookup(code, lang string) (e Explanation, ok bool) {
	key, ok := data.keyOf[code]
	if !ok {
		return Explanation{}, false
	}
	t := data.texts[data.language(lang)][key]
	return Explanation{Key: key, Name: t.Name, What: t.What, High: t.High, Low: t.Low, Next: t.Next}, true
}

// Languages lists the languages the explanations are written in, as base
// language tags in sorted order: "en" and "es". Every explanation exists
// in each of them.
func Languages() []string { return slices.Clone(data.langs) }

// Codes lists every LOINC code explained, each once, in sorted order.
func Codes() []string { return slices.Clone(data.codes) }

// language returns the language of c that serves tag.
func (c *catalog) language(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	base, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	if _, ok := c.texts[base]; ok {
		return base
	}
	return English
}

// The file of keys and codes; every other *.json file is a language, named
// by its base language tag.
const testsFile = "tests.json"

var (
	keyPattern  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	langPattern = regexp.MustCompile(`^[a-z]{2,3}$`)
	codePattern = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
)

// load reads and checks the data files at the root of fsys: tests.json
// and one file per language, English among them. It refuses data that
// would show patients something wrong or missing: invalid JSON or UTF-8, a
// key given twice in a file, unknown fields, a LOINC code that is
// malformed, fails its check digit or sits under two keys, a language
// lacking a key or having one tests.json lacks, an empty name, what, high
// or next, stray spaces, or a low text empty in some languages only.
func load(fsys fs.FS) (*catalog, error) {
	c := &catalog{keyOf: map[string]string{}, texts: map[string]map[string]text{}}
	raw, err := fs.ReadFile(fsys, testsFile)
	if err != nil {
		return nil, err
	}
	var keys []string
	err = decodeObject(raw, func(key string, dec *json.Decoder) error {
		if !keyPattern.MatchString(key) {
			return fmt.Errorf("key %q: use lower-case letters, digits and single hyphens", key)
		}
		var codes []string
		if err := dec.Decode(&codes); err != nil {
			return fmt.Errorf("key %q: want a list of LOINC codes: %w", key, err)
		}
		if len(codes) == 0 {
			return fmt.Errorf("key %q: no LOINC codes", key)
		}
		for _, code := range codes {
			if err := checkLOINC(code); err != nil {
				return fmt.Errorf("key %q: %w", key, err)
			}
			if other, dup := c.keyOf[code]; dup {
				return fmt.Errorf("LOINC code %s is under both %q and %q", code, other, key)
			}
			c.keyOf[code] = key
			c.codes = append(c.codes, code)
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", testsFile, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no tests", testsFile)
	}
	slices.Sort(c.codes)

	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == testsFile {
			continue
		}
		lang := strings.TrimSuffix(name, path.Ext(name))
		if !langPattern.MatchString(lang) {
			return nil, fmt.Errorf("%s: name a language file by its base language tag, such as en.json", name)
		}
		texts, err := loadLanguage(fsys, name, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c.texts[lang] = texts
		c.langs = append(c.langs, lang)
	}
	slices.Sort(c.langs)
	en, ok := c.texts[English]
	if !ok {
		return nil, fmt.Errorf("no %s.json: English is required, as the fallback", English)
	}
	for _, lang := range c.langs {
		for _, key := range keys {
			if (c.texts[lang][key].Low == "") != (en[key].Low == "") {
				return nil, fmt.Errorf("%q: low is empty in one of %s.json and %s.json but not in the other (empty means a low result means nothing in particular, in every language)", key, English, lang)
			}
		}
	}
	return c, nil
}

// loadLanguage reads one language file, which must hold a text for each
// of keys and for nothing else.
func loadLanguage(fsys fs.FS, name string, keys []string) (map[string]text, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	texts := map[string]text{}
	err = decodeObject(raw, func(key string, dec *json.Decoder) error {
		if !slices.Contains(keys, key) {
			return fmt.Errorf("key %q is not in %s", key, testsFile)
		}
		var t text
		if err := dec.Decode(&t); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		for _, f := range []struct{ name, value string }{
			{"name", t.Name}, {"what", t.What}, {"high", t.High}, {"low", t.Low}, {"next", t.Next},
		} {
			switch {
			case f.value == "" && f.name != "low":
				return fmt.Errorf("key %q: empty %s", key, f.name)
			case strings.TrimSpace(f.value) != f.value || strings.Contains(f.value, "  ") || strings.ContainsAny(f.value, "\n\t"):
				return fmt.Errorf("key %q: %s has stray spaces or line breaks", key, f.name)
			}
		}
		texts[key] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if _, ok := texts[key]; !ok {
			return nil, fmt.Errorf("no text for key %q", key)
		}
	}
	return texts, nil
}

// decodeObject reads raw as one JSON object and calls each with every
// member's name, in file order, and a decoder positioned at its value,
// which each must consume. Unlike json.Unmarshal it refuses a name given
// twice, unknown fields in the values, invalid UTF-8 and anything after
// the object.
func decodeObject(raw []byte, each func(name string, dec *json.Decoder) error) error {
	if !utf8.Valid(raw) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if tok, err := dec.Token(); err != nil {
		return err
	} else if tok != json.Delim('{') {
		return errors.New("want a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string) // inside an object, the decoder yields names as strings
		if seen[name] {
			return fmt.Errorf("key %q is given twice", name)
		}
		seen[name] = true
		if err := each(name, dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// checkLOINC reports whether code is a well-formed LOINC code whose last
// digit is its check digit (the mod 10 algorithm LOINC publishes, which
// is Luhn's over the digits before the hyphen).
func checkLOINC(code string) error {
	if !codePattern.MatchString(code) {
		return fmt.Errorf("%q is not a LOINC code (digits, a hyphen, a check digit)", code)
	}
	body, check, _ := strings.Cut(code, "-")
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if want := (10 - sum%10) % 10; int(check[0]-'0') != want {
		return fmt.Errorf("LOINC code %s: the check digit should be %d", code, want)
	}
	return nil
}
