package explain

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"

	"github.com/careloop/careloop/internal/interpret"
	"github.com/careloop/careloop/internal/platform/readability"
)

// fields are the fields of a text, in file order.
var fields = []string{"name", "what", "high", "low", "next"}

// rawData is the embedded data as plain JSON sees it, read without the
// package's loader so the tests check the files themselves.
type rawData struct {
	tests map[string][]string                     // key → codes
	langs map[string]map[string]map[string]string // language → key → field → text
}

func readRaw(t *testing.T) rawData {
	t.Helper()
	var d rawData
	b, err := fs.ReadFile(files, "data/tests.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d.tests); err != nil {
		t.Fatalf("tests.json: %v", err)
	}
	names, err := fs.Glob(files, "data/*.json")
	if err != nil {
		t.Fatal(err)
	}
	d.langs = map[string]map[string]map[string]string{}
	for _, name := range names {
		if name == "data/tests.json" {
			continue
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		var texts map[string]map[string]string
		if err := json.Unmarshal(b, &texts); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d.langs[strings.TrimSuffix(strings.TrimPrefix(name, "data/"), ".json")] = texts
	}
	return d
}

// TestCoversReferenceTable checks that every LOINC code of careloop's
// reference table has an explanation in every language, and that the
// explanations are many and distinct enough to be worth reading.
func TestCoversReferenceTable(t *testing.T) {
	codes := interpret.Default().Codes()
	if len(codes) == 0 {
		t.Fatal("the reference table lists no codes")
	}
	keys := map[string]bool{}
	for _, code := range codes {
		for _, lang := range Languages() {
			e, ok := Lookup(code, lang)
			if !ok {
				t.Errorf("no explanation for %s, a code of the reference table", code)
				break
			}
			keys[e.Key] = true
		}
	}
	if len(keys) < 40 {
		t.Errorf("the reference table's codes share %d distinct explanations, want at least 40", len(keys))
	}
	t.Logf("%d codes of the reference table, %d explanations", len(codes), len(keys))
}

// TestFilesAreComplete checks the data files as written: every key in
// every language, with the fields set, low empty everywhere or nowhere,
// nothing a language has that tests.json lacks, and each code once.
func TestFilesAreComplete(t *testing.T) {
	d := readRaw(t)
	if got, want := slices.Sorted(maps.Keys(d.langs)), Languages(); !slices.Equal(got, want) {
		t.Errorf("language files %v, Languages() %v", got, want)
	}
	if _, ok := d.langs[English]; !ok {
		t.Fatal("no en.json")
	}
	keyOf := map[string]string{}
	for key, codes := range d.tests {
		if len(codes) == 0 {
			t.Errorf("%q has no codes", key)
		}
		for _, code := range codes {
			if other, dup := keyOf[code]; dup {
				t.Errorf("%s is under both %q and %q", code, other, key)
			}
			keyOf[code] = key
		}
	}
	for lang, texts := range d.langs {
		for key := range texts {
			if _, ok := d.tests[key]; !ok {
				t.Errorf("%s.json: %q is not in tests.json", lang, key)
			}
		}
		for key := range d.tests {
			tx, ok := texts[key]
			if !ok {
				t.Errorf("%s.json: no text for %q", lang, key)
				continue
			}
			if got := slices.Sorted(maps.Keys(tx)); !slices.Equal(got, slices.Sorted(slices.Values(fields))) {
				t.Errorf("%s.json %q: fields %v, want %v", lang, key, got, fields)
			}
			for _, f := range fields {
				if f != "low" && tx[f] == "" {
					t.Errorf("%s.json %q: empty %s", lang, key, f)
				}
			}
			if (tx["low"] == "") != (d.langs[English][key]["low"] == "") {
				t.Errorf("%s.json %q: low is empty in only one of en.json and %s.json", lang, key, lang)
			}
		}
	}
}

// TestTextsAreTidy checks what a reviewer would otherwise catch by eye:
// sentences that start with a capital and end with a period, no stray
// spaces, no broken characters, and Spanish that is not English left
// untranslated.
func TestTextsAreTidy(t *testing.T) {
	d := readRaw(t)
	for lang, texts := range d.langs {
		for key, tx := range texts {
			for _, f := range fields {
				s := tx[f]
				if s == "" {
					continue
				}
				where := fmt.Sprintf("%s.json %q %s", lang, key, f)
				if strings.TrimSpace(s) != s || strings.Contains(s, "  ") || strings.ContainsAny(s, "\n\t\uFFFD") {
					t.Errorf("%s: stray spaces or broken characters in %q", where, s)
				}
				if f == "name" {
					continue
				}
				// A sentence starts with a capital, or with a term such as eGFR.
				if first, _, _ := strings.Cut(s, " "); !strings.ContainsFunc(first, unicode.IsUpper) {
					t.Errorf("%s: does not start with a capital: %q", where, s)
				}
				if !strings.HasSuffix(s, ".") {
					t.Errorf("%s: does not end with a period: %q", where, s)
				}
			}
			if lang == English {
				continue
			}
			for _, f := range fields[1:] {
				if en := d.langs[English][key][f]; en != "" && tx[f] == en {
					t.Errorf("%s.json %q %s: same text as in English", lang, key, f)
				}
			}
		}
	}
}

// TestAPIServesFiles checks that Lookup, Codes and Languages give back
// exactly what the files say.
func TestAPIServesFiles(t *testing.T) {
	d := readRaw(t)
	var want []string
	for key, codes := range d.tests {
		want = append(want, codes...)
		for _, code := range codes {
			for lang, texts := range d.langs {
				e, ok := Lookup(code, lang)
				tx := texts[key]
				w := Explanation{Key: key, Name: tx["name"], What: tx["what"], High: tx["high"], Low: tx["low"], Next: tx["next"]}
				if !ok || e != w {
					t.Errorf("Lookup(%q, %q) = %+v, %v; want %+v", code, lang, e, ok, w)
				}
			}
		}
	}
	slices.Sort(want)
	if got := Codes(); !slices.Equal(got, want) {
		t.Errorf("Codes() = %v, want %v", got, want)
	}
	if got := Languages(); !slices.Equal(got, []string{"en", "es"}) {
		t.Errorf("Languages() = %v, want [en es]", got)
	}
	Codes()[0], Languages()[0] = "changed", "changed"
	if Codes()[0] == "changed" || Languages()[0] == "changed" {
		t.Error("Codes or Languages returns the package's own slice")
	}
}

// TestEnglishIsPlain holds every English text, names included, to
// Flesch–Kincaid grade 8, and their mean to the grade 6 careloop aims at.
func TestEnglishIsPlain(t *testing.T) {
	d := readRaw(t)
	var sum, worst float64
	var worstAt, worstText string
	n := 0
	var over []string
	for _, key := range slices.Sorted(maps.Keys(d.langs[English])) {
		for _, f := range fields {
			s := d.langs[English][key][f]
			if s == "" {
				continue
			}
			g := readability.Grade(s)
			sum += g
			n++
			if g > worst || worstAt == "" {
				worst, worstAt, worstText = g, key+"."+f, s
			}
			if g > 8 {
				over = append(over, fmt.Sprintf("  %s: grade %.2f: %q", key+"."+f, g, s))
			}
		}
	}
	if n == 0 {
		t.Fatal("no English texts")
	}
	mean := sum / float64(n)
	t.Logf("%d English texts: mean grade %.2f, worst %.2f (%s)", n, mean, worst, worstAt)
	if len(over) > 0 || mean > 6 {
		t.Errorf("English texts must read at grade 8 or below, 6 on average: mean %.2f, worst %.2f (%s: %q); above 8:\n%s",
			mean, worst, worstAt, worstText, strings.Join(over, "\n"))
	}
}

// TestLookupFallsBack checks the choice of language, and that an unknown
// code has no explanation.
func TestLookupFallsBack(t *testing.T) {
	d := readRaw(t)
	const code = "2345-7" // glucose, serum or plasma
	key := "glucose"
	if d.langs["es"][key]["what"] == d.langs["en"][key]["what"] {
		t.Fatal("the Spanish and English texts are the same; the test cannot tell them apart")
	}
	for _, tc := range []struct{ lang, want string }{
		{"en", "en"},
		{"es", "es"},
		{"es-MX", "es"},
		{"es-419", "es"},
		{"ES", "es"},
		{"es_US", "es"},
		{" es ", "es"},
		{"en-GB", "en"},
		{"fr", "en"},
		{"fr-CA", "en"},
		{"", "en"},
		{"e", "en"},
		{"spanish", "en"},
	} {
		e, ok := Lookup(code, tc.lang)
		if !ok {
			t.Errorf("Lookup(%q, %q): no explanation", code, tc.lang)
			continue
		}
		if want := d.langs[tc.want][key]["what"]; e.Key != key || e.What != want {
			t.Errorf("Lookup(%q, %q) = %q (key %q), want the %s text %q", code, tc.lang, e.What, e.Key, tc.want, want)
		}
	}
	for _, unknown := range []string{"", "0000-0", "2345", " 2345-7", "2345-7 ", "glucose", "LP14635-4"} {
		if e, ok := Lookup(unknown, "en"); ok || e != (Explanation{}) {
			t.Errorf("Lookup(%q) = %+v, %v; want no explanation", unknown, e, ok)
		}
	}
}

// TestCheckLOINC checks the check-digit rule against the reference
// table's codes, all valid, and against codes with a wrong check digit.
func TestCheckLOINC(t *testing.T) {
	for _, code := range interpret.Default().Codes() {
		if err := checkLOINC(code); err != nil {
			t.Errorf("checkLOINC(%q): %v", code, err)
		}
		body, check, _ := strings.Cut(code, "-")
		wrong := fmt.Sprintf("%s-%c", body, '0'+(check[0]-'0'+1)%10)
		if err := checkLOINC(wrong); err == nil {
			t.Errorf("checkLOINC(%q): no error for a wrong check digit", wrong)
		}
	}
	for _, bad := range []string{"", "2345", "-7", "2345-", "2345-77", "A2345-7", "12345678-9", "2345 -7"} {
		if err := checkLOINC(bad); err == nil {
			t.Errorf("checkLOINC(%q): no error", bad)
		}
	}
}

// TestLoadRefusesMalformedData feeds the loader small data sets, each
// with one fault, and checks that it refuses each with a message naming
// the fault, and accepts the sound one.
func TestLoadRefusesMalformedData(t *testing.T) {
	const (
		tests = `{"a": ["2345-7"], "b": ["718-7", "4548-4"]}`
		en    = `{
  "a": {"name": "A", "what": "What A.", "high": "High A.", "low": "Low A.", "next": "Next A."},
  "b": {"name": "B", "what": "What B.", "high": "High B.", "low": "", "next": "Next B."}
}`
		es = `{
  "a": {"name": "A es", "what": "Qué A.", "high": "Alto A.", "low": "Bajo A.", "next": "Luego A."},
  "b": {"name": "B es", "what": "Qué B.", "high": "Alto B.", "low": "", "next": "Luego B."}
}`
	)
	sound := func() fstest.MapFS {
		return fstest.MapFS{
			"tests.json": {Data: []byte(tests)},
			"en.json":    {Data: []byte(en)},
			"es.json":    {Data: []byte(es)},
		}
	}
	with := func(name, data string) fstest.MapFS {
		m := sound()
		m[name] = &fstest.MapFile{Data: []byte(data)}
		return m
	}
	edit := func(name, old, new string) fstest.MapFS {
		m := sound()
		s := string(m[name].Data)
		if !strings.Contains(s, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		m[name] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
		return m
	}
	without := func(name string) fstest.MapFS {
		m := sound()
		delete(m, name)
		return m
	}
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string // in the error; "" for none
	}{
		{"sound", sound(), ""},
		{"syntax error", edit("tests.json", `"4548-4"]`, `"4548-4",]`), "tests.json"},
		{"not an object", with("tests.json", `["2345-7"]`), "want a JSON object"},
		{"no tests", with("tests.json", `{}`), "no tests"},
		{"key twice in tests", edit("tests.json", `"b":`, `"a": ["777-3"], "b":`), `key "a" is given twice`},
		{"code under two keys", edit("tests.json", `"4548-4"`, `"2345-7"`), `2345-7 is under both "a" and "b"`},
		{"wrong check digit", edit("tests.json", `"4548-4"`, `"4548-5"`), "check digit should be 4"},
		{"not a code", edit("tests.json", `"4548-4"`, `"HbA1c"`), "not a LOINC code"},
		{"no codes", edit("tests.json", `["2345-7"]`, `[]`), `"a": no LOINC codes`},
		{"codes not a list", edit("tests.json", `["2345-7"]`, `"2345-7"`), "want a list"},
		{"key in capitals", edit("tests.json", `"a":`, `"A":`), "lower-case"},
		{"data after the object", with("tests.json", tests+` {}`), "data after"},
		{"no tests.json", without("tests.json"), "tests.json"},
		{"no English", without("en.json"), "English is required"},
		{"language named in words", with("spanish.json", es), "base language tag"},
		{"language lacks a key", with("es.json", `{"a": {"name": "A", "what": "Qué.", "high": "Alto.", "low": "Bajo.", "next": "Luego."}}`), `es.json: no text for key "b"`},
		{"language has an extra key", edit("es.json", `"b":`, `"c": {"name": "C", "what": "W.", "high": "H.", "low": "", "next": "N."}, "b":`), `key "c" is not in tests.json`},
		{"key twice in a language", edit("en.json", `"b":`, `"a": {"name": "A", "what": "W.", "high": "H.", "low": "L.", "next": "N."}, "b":`), `key "a" is given twice`},
		{"unknown field", edit("en.json", `"next": "Next B."`, `"nxt": "Next B."`), "unknown field"},
		{"empty name", edit("es.json", `"name": "B es"`, `"name": ""`), `es.json: key "b": empty name`},
		{"empty what", edit("en.json", `"what": "What A."`, `"what": ""`), "empty what"},
		{"empty high", edit("en.json", `"high": "High B."`, `"high": ""`), "empty high"},
		{"empty next", edit("es.json", `"next": "Luego A."`, `"next": ""`), "empty next"},
		{"missing next", edit("es.json", `, "next": "Luego A."`, ``), "empty next"},
		{"low in one language only", edit("es.json", `"low": "", "next": "Luego B."`, `"low": "Bajo B.", "next": "Luego B."`), `"b": low is empty`},
		{"low missing in one language", edit("es.json", `"low": "Bajo A."`, `"low": ""`), `"a": low is empty`},
		{"stray space", edit("en.json", `"What A."`, `"What A. "`), "stray spaces"},
		{"line break", edit("en.json", `"What A."`, `"What\nA."`), "line breaks"},
		{"invalid UTF-8", edit("es.json", "Qué", "Qu\xe9"), "UTF-8"},
		{"text not an object", edit("en.json", `{"name": "A", "what": "What A.", "high": "High A.", "low": "Low A.", "next": "Next A."}`, `"A"`), `key "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(tc.fsys)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tc.want == "":
				if !slices.Equal(c.codes, []string{"2345-7", "4548-4", "718-7"}) || !slices.Equal(c.langs, []string{"en", "es"}) {
					t.Errorf("codes %v, languages %v", c.codes, c.langs)
				}
				if got := c.texts[c.language("es-MX")][c.keyOf["718-7"]].What; got != "Qué B." {
					t.Errorf("718-7 in es-MX: %q", got)
				}
			case err == nil:
				t.Fatalf("load accepted the data; want an error with %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("load: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

// TestEmbeddedDataLoads checks that the embedded files pass the loader
// as they are: the package would not start otherwise.
func TestEmbeddedDataLoads(t *testing.T) {
	sub, err := fs.Sub(files, "data")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load(sub); err != nil {
		t.Fatal(err)
	}
}
