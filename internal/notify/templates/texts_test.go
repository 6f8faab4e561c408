package templates

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/careloop/careloop/internal/platform/readability"
)

// TestEveryKindHasEveryText checks that careloop's texts cover every
// kind, channel and language at the kind's levels, and nothing else.
func TestEveryKindHasEveryText(t *testing.T) {
	have := map[Key]bool{}
	for _, tm := range Default().Templates() {
		have[tm.Key] = true
	}
	want := 0
	for _, info := range Kinds() {
		for _, ch := range Channels() {
			for _, lang := range Languages() {
				for _, level := range Levels(info.Kind) {
					k := Key{info.Kind, ch, lang, level}
					want++
					if !have[k] {
						t.Errorf("no text for %s", k)
					}
				}
			}
		}
	}
	if len(have) != want {
		t.Errorf("%d texts, want %d (texts outside the kinds' levels?)", len(have), want)
	}
}

// TestDefaultsPassCheck holds careloop's texts to the rules of an
// organisation's.
func TestDefaultsPassCheck(t *testing.T) {
	for _, tm := range Default().Templates() {
		if err := Check(tm); err != nil {
			t.Errorf("%s: %v", tm.Key, err)
		}
	}
}

// variants returns data for rendering in lang: with and without each of
// Name, Org and Detail, with the other fields set.
func variants(lang string) []Data {
	full := samples(lang)[len(samples(lang))-1]
	var out []Data
	for mask := range 8 {
		d := full
		if mask&1 == 0 {
			d.Name = ""
		}
		if mask&2 == 0 {
			d.Org = ""
		}
		if mask&4 == 0 {
			d.Detail = ""
		}
		out = append(out, d)
	}
	return out
}

// artefacts are signs of a text that reads badly when a field is empty.
var artefacts = regexp.MustCompile(`<no value>|  | [.,:;!?]|\( | \)|\b(from|at|with|de|en|con|para|del|el|your|su) [.,:]|^[,.:]`)

func TestDefaultsReadWell(t *testing.T) {
	c := Default()
	for _, tm := range c.Templates() {
		for _, d := range variants(tm.Lang) {
			r, err := c.Render(tm.Key, d)
			if err != nil {
				t.Fatalf("%s: %v", tm.Key, err)
			}
			if r.Key != tm.Key {
				t.Errorf("%s rendered as %s", tm.Key, r.Key)
			}
			where := fmt.Sprintf("%s with %s", tm.Key, describe(d))
			for _, line := range append(strings.Split(r.Body, "\n"), r.Subject) {
				if m := artefacts.FindString(line); m != "" {
					t.Errorf("%s: %q reads badly (%q)", where, line, m)
				}
			}
			if tm.Channel != SMS && r.Subject == "" {
				t.Errorf("%s: empty subject", where)
			}
			if tm.Channel != InApp && !strings.Contains(r.Body, d.Link) {
				t.Errorf("%s: no link in %q", where, r.Body)
			}
			if tm.Channel == Email {
				if !strings.Contains(r.Body, d.Prefs) {
					t.Errorf("%s: the footer does not name the preferences page", where)
				}
				if !strings.HasSuffix(r.Body, "\n") {
					t.Errorf("%s: the email body does not end with a line break", where)
				}
				if d.Name != "" && !strings.Contains(r.Body, d.Name) {
					t.Errorf("%s: the greeting does not use the name", where)
				}
			}
			if d.Detail != "" && (tm.Kind == ResultReady || tm.Kind == ResultUnviewed) &&
				!strings.Contains(r.Subject+r.Body, d.Detail) {
				t.Errorf("%s: the detail the patient asked for is missing", where)
			}
		}
	}
}

// healthWords are words that would tell something of a person's health.
var healthWords = regexp.MustCompile(`(?i)\b(abnormal|normal|critical|positive|negative|high|low|elevated|cholesterol|glucose|blood|cancer|tumou?r|biopsy|hiv|pregnan\w*|diagnos\w*|infection|urgent|mg/dl|mmol|anormal|cr[ií]tico|positivo|negativo|alto|bajo|elevado|colesterol|glucosa|sangre|c[aá]ncer|biopsia|embaraz\w*|diagn[oó]stico|infecci[oó]n|urgente)\b`)

func TestPatientTextsCarryNoHealthInformation(t *testing.T) {
	c := Default()
	for _, tm := range c.Templates() {
		if info, _ := Lookup(tm.Kind); info.Audience != Patient {
			continue
		}
		for _, d := range variants(tm.Lang) {
			if d.Detail != "" {
				continue
			}
			r, err := c.Render(tm.Key, d)
			if err != nil {
				t.Fatalf("%s: %v", tm.Key, err)
			}
			if m := healthWords.FindString(r.Subject + "\n" + r.Body); m != "" {
				t.Errorf("%s with %s says %q without the patient's consent", tm.Key, describe(d), m)
			}
		}
	}
	// The detector finds the detail a patient chose to receive.
	d := variants(English)[7]
	r, err := c.Render(Key{ResultReady, Email, English, Simple}, d)
	if err != nil {
		t.Fatal(err)
	}
	if !healthWords.MatchString(r.Body) {
		t.Errorf("the list of health words misses %q", d.Detail)
	}
}

// TestEnglishPatientTextsArePlain holds every English patient-facing
// body to Flesch–Kincaid grade 8, and their mean to grade 6, as read with
// typical data.
func TestEnglishPatientTextsArePlain(t *testing.T) {
	c := Default()
	d := Data{Name: "Alex", Org: "Riverside Clinic", Link: sampleLink(), Prefs: "https://clinic.example/account/notifications",
		When: "Tuesday, March 3 at 9:30 AM", Count: 3, Items: []string{"You have a new test result", "Please book your follow-up visit", "Your appointment is booked"}}
	withDetail := d
	withDetail.Detail = "cholesterol test"
	var sum float64
	n := 0
	for _, tm := range c.Templates() {
		if info, _ := Lookup(tm.Kind); info.Audience != Patient || tm.Lang != English {
			continue
		}
		r, err := c.Render(tm.Key, d)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := c.Render(tm.Key, withDetail)
		if err != nil {
			t.Fatal(err)
		}
		g, gd := readability.Grade(r.Body), readability.Grade(rd.Body)
		t.Logf("%-42s grade %5.2f, with detail %5.2f", tm.Key, g, gd)
		if g > 8 || gd > 8 {
			t.Errorf("%s: grade %.2f (with detail %.2f), want at most 8:\n%s", tm.Key, g, gd, r.Body)
		}
		sum += g
		n++
	}
	mean := sum / float64(n)
	t.Logf("mean grade of %d English patient texts: %.2f", n, mean)
	if mean > 6 {
		t.Errorf("mean grade %.2f, want at most 6", mean)
	}
}

// The GSM 03.38 alphabet: the basic set (one septet each) and the
// extension set (two septets each).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// gsmSeptets returns the septets s takes in the GSM 7-bit alphabet, and
// whether every character of s is in it.
func gsmSeptets(s string) (int, bool) {
	n := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtension, r):
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// segments returns how many SMS segments s needs: 160 septets alone or
// 153 per segment in GSM 7-bit; else 70 UTF-16 units alone or 67 per
// segment in UCS-2.
func segments(s string) (n int, gsm bool) {
	if septets, ok := gsmSeptets(s); ok {
		if septets <= 160 {
			return 1, true
		}
		return (septets + 152) / 153, true
	}
	units := len(utf16.Encode([]rune(s)))
	if units <= 70 {
		return 1, false
	}
	return (units + 66) / 67, false
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		gsm  bool
	}{
		{"empty", "", 1, true},
		{"160 septets", strings.Repeat("a", 160), 1, true},
		{"161 septets", strings.Repeat("a", 161), 2, true},
		{"306 septets", strings.Repeat("a", 306), 2, true},
		{"307 septets", strings.Repeat("a", 307), 3, true},
		{"extension counts two", strings.Repeat("€", 80), 1, true},
		{"extension over the limit", strings.Repeat("€", 81), 2, true},
		{"Spanish in GSM", "¿Señor? ¡Sé! ñ ü", 1, true},
		{"í leaves GSM", "Sí", 1, false},
		{"UCS-2 alone", strings.Repeat("á", 70), 1, false},
		{"UCS-2 two", strings.Repeat("á", 134), 2, false},
		{"UCS-2 three", strings.Repeat("á", 135), 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, gsm := segments(tt.s); n != tt.n || gsm != tt.gsm {
				t.Errorf("segments = %d (GSM %v), want %d (GSM %v)", n, gsm, tt.n, tt.gsm)
			}
		})
	}
}

// TestSMSAreShort checks every SMS, rendered with a 60-character link and
// each sample of Check: English ones use the GSM alphabet only and fit
// two segments; Spanish patient texts use it too, so that only a date
// such as "sábado" switches a message to UCS-2; every Spanish one fits
// two segments in its encoding, except that an appointment on a Saturday
// may take three.
func TestSMSAreShort(t *testing.T) {
	c := Default()
	for _, tm := range c.Templates() {
		if tm.Channel != SMS {
			continue
		}
		info, _ := Lookup(tm.Kind)
		if tm.Lang == Spanish && info.Audience == Patient {
			if _, ok := gsmSeptets(stripActionsForTest(tm.Body)); !ok {
				t.Errorf("%s: the text leaves the GSM alphabet: %q", tm.Key, tm.Body)
			}
		}
		longest, gsmAll := 0, true
		for _, d := range samples(tm.Lang) {
			whens := []string{d.When}
			if tm.Lang == Spanish && d.When != "" {
				whens = append(whens, "sábado 30 de septiembre a las 12:30")
			}
			for _, when := range whens {
				d.When = when
				r, err := c.Render(tm.Key, d)
				if err != nil {
					t.Fatal(err)
				}
				n, gsm := segments(r.Body)
				gsmAll = gsmAll && gsm
				longest = max(longest, n)
				limit := 2
				if !gsm && strings.Contains(when, "sábado") {
					limit = 3
				}
				if tm.Lang == English && !gsm {
					t.Errorf("%s: English SMS outside the GSM alphabet: %q", tm.Key, r.Body)
				}
				if n > limit {
					t.Errorf("%s: %d segments (GSM %v), want at most %d: %q", tm.Key, n, gsm, limit, r.Body)
				}
			}
		}
		t.Logf("%-42s at most %d segments (GSM alphabet throughout: %v)", tm.Key, longest, gsmAll)
	}
}

// stripActionsForTest returns src without its {{actions}}.
func stripActionsForTest(src string) string {
	var b strings.Builder
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			return b.String() + src
		}
		b.WriteString(src[:i])
		j := strings.Index(src[i:], "}}")
		if j < 0 {
			return b.String()
		}
		src = src[i+j+2:]
	}
}
