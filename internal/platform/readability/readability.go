// Package readability measures how hard English text is to read, as the
// Flesch–Kincaid grade level: roughly the US school grade a reader needs.
// careloop's patient-facing texts aim at grade 6 and must stay at or below
// grade 8; the tests of each text catalog use this package to hold them to
// it.
//
// Text is measured as written for careloop: plain text in which numbers,
// web and email addresses, paths and text/template actions ({{.Name}}) are
// not words. Sentences end at '.', '!' or '?' (not after a title such as
// "Dr."), at a blank line, after a line ending in ':' and around each
// line that is a list item ("- ", "* ", "• "). Other line breaks are
// soft: a sentence may be wrapped over several lines.
package readability

import (
	"strings"
	"unicode"
)

// Stats are the counts behind a grade.
type Stats struct {
	Words     int
	Sentences int
	Syllables int
}

// Grade returns the Flesch–Kincaid grade level of the counts:
// 0.39·words/sentences + 11.8·syllables/words − 15.59. It returns 0 when
// there are no words. Very simple text scores below 0.
func (s Stats) Grade() float64 {
	if s.Words == 0 || s.Sentences == 0 {
		return 0
	}
	w := float64(s.Words)
	return 0.39*w/float64(s.Sentences) + 11.8*float64(s.Syllables)/w - 15.59
}

// Grade returns the Flesch–Kincaid grade level of text (see Stats.Grade);
// 0 for text without words.
func Grade(text string) float64 {
	return Measure(text).Grade()
}

// Words returns the number of words in text.
func Words(text string) int {
	return Measure(text).Words
}

// Sentences returns the number of sentences in text: those that hold at
// least one word.
func Sentences(text string) int {
	return Measure(text).Sentences
}

// Measure counts the words, sentences and syllables of text.
func Measure(text string) Stats {
	var s Stats
	open := false // the current sentence has words
	end := func() {
		if open {
			s.Sentences++
			open = false
		}
	}
	lines := strings.Split(stripActions(strings.ReplaceAll(text, "\r\n", "\n")), "\n")
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		item := startsList(trimmed)
		if trimmed == "" || item {
			end()
		}
		for _, tok := range strings.FieldsFunc(line, isSeparator) {
			for _, w := range words(tok) {
				s.Words++
				s.Syllables += Syllables(w)
				open = true
			}
			if endsSentence(tok) {
				end()
			}
		}
		if item || strings.HasSuffix(trimmed, ":") {
			end()
		}
	}
	end()
	return s
}

// stripActions replaces each text/template action ({{…}}) with a space.
// An action without its closing braces runs to the end of the text.
func stripActions(text string) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		b.WriteByte(' ')
		j := strings.Index(text[i+2:], "}}")
		if j < 0 {
			return b.String()
		}
		text = text[i+2+j+2:]
	}
}

// isSeparator reports whether r separates tokens: white space and dashes
// used as punctuation.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '—' || r == '–'
}

// startsList reports whether a trimmed line begins a list item.
func startsList(line string) bool {
	for _, m := range []string{"- ", "* ", "• "} {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	return false
}

// endsSentence reports whether a token closes its sentence: it ends in
// '.', '!' or '?' (before any closing quotes or brackets) and is not a
// title or a Latin abbreviation.
func endsSentence(tok string) bool {
	t := strings.TrimRight(tok, "\"'”’)]")
	if t == "" {
		return false
	}
	switch t[len(t)-1] {
	case '!', '?':
		return true
	case '.':
		return !isAbbreviation(strings.ToLower(strings.TrimLeft(t, "\"'“‘([")))
	}
	return false
}

// isAbbreviation reports whether a lower-case token with its final period
// is an abbreviation that does not end a sentence.
func isAbbreviation(t string) bool {
	switch t {
	case "mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "jr.", "sr.", "prof.", "approx.", "dept.",
		"e.g.", "i.e.", "a.m.", "p.m.":
		return true
	}
	return false
}

// words returns the words in one token: none for numbers, times, web and
// email addresses and paths; the parts of "and/or"; the token itself
// otherwise, stripped of surrounding punctuation.
func words(tok string) []string {
	if strings.HasPrefix(tok, "/") || strings.Contains(tok, "://") || strings.Contains(tok, "@") {
		return nil
	}
	core := strings.TrimFunc(tok, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if core == "" || strings.HasPrefix(strings.ToLower(core), "www.") || strings.ContainsRune(core, '.') {
		return nil
	}
	if strings.ContainsFunc(core, unicode.IsDigit) {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(core, "/") {
		if strings.ContainsFunc(part, unicode.IsLetter) {
			out = append(out, part)
		}
	}
	return out
}
