package readability

import "testing"

// FuzzMeasure checks that any text measures without panicking and with
// consistent counts: a sentence holds at least one word, and every word
// has at least one syllable.
func FuzzMeasure(f *testing.F) {
	for _, s := range []string{
		"", "The cat sat on the mat.", "Hi {{.Name}},\n\n- one\n- two\nSee: https://x.example/1",
		"Dr. e.g. a.m. didn't nurse's follow-up SMS ’tis", "{{", "}}{{}}", "-'-", "Ça va? Sí, señora.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s := Measure(text)
		if s.Words < 0 || s.Sentences < 0 || s.Sentences > s.Words {
			t.Fatalf("Measure(%q) = %+v: sentences must be between 0 and the words", text, s)
		}
		if (s.Words > 0) != (s.Sentences > 0) {
			t.Fatalf("Measure(%q) = %+v: words without sentences or sentences without words", text, s)
		}
		if s.Syllables < s.Words {
			t.Fatalf("Measure(%q) = %+v: fewer syllables than words", text, s)
		}
	})
}
