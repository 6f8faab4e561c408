package readability

import (
	"strings"
	"unicode"
)

// Syllables returns the number of syllables in an English word, by rule:
// groups of vowels (y is a vowel except before a vowel or at the start; u
// after q is not), less a silent final e, a silent e before -d, -s and
// suffixes such as -ly and -ment; with a syllable kept for -le after a
// consonant and for -ed after t or d, and added where two vowels are
// spoken apart (tri-al, ra-di-o, cli-ent, go-ing). Hyphenated words add
// up their parts; contractions count as spoken (did-n't, don't); an
// initialism without vowels counts its letters (SMS: 3). A few common
// irregular words come from a short list. A word with letters has at
// least one syllable; anything else has none.
func Syllables(word string) int {
	if strings.ContainsRune(word, '-') {
		n := 0
		for part := range strings.SplitSeq(word, "-") {
			n += Syllables(part)
		}
		return n
	}
	word = strings.ReplaceAll(word, "’", "'")
	if i := strings.IndexByte(word, '\''); i >= 0 {
		return contraction(word[:i], strings.ToLower(word[i+1:]))
	}
	letters := lettersOf(word)
	if len(letters) == 0 {
		return 0
	}
	if n, ok := initialism(word, letters); ok {
		return n
	}
	return count(letters)
}

// lettersOf returns the letters of word in lower case, with accented
// vowels as their plain forms.
func lettersOf(word string) []byte {
	var out []byte
	for _, r := range strings.ToLower(word) {
		switch r {
		case 'á', 'à', 'â', 'ä':
			r = 'a'
		case 'é', 'è', 'ê', 'ë':
			r = 'e'
		case 'í', 'ì', 'î', 'ï':
			r = 'i'
		case 'ó', 'ò', 'ô', 'ö':
			r = 'o'
		case 'ú', 'ù', 'û', 'ü':
			r = 'u'
		case 'ñ':
			r = 'n'
		case 'ç':
			r = 'c'
		}
		if r < 0x80 && unicode.IsLetter(r) {
			out = append(out, byte(r))
		} else if unicode.IsLetter(r) {
			out = append(out, 'x') // a consonant stands in for other letters
		}
	}
	return out
}

// initialism counts the letters of an all-capital word spoken letter by
// letter: one without vowels (SMS, PDF; W has three syllables) or of two
// letters (ID, OK).
func initialism(word string, letters []byte) (int, bool) {
	if len(letters) < 2 || strings.ToUpper(word) != word || strings.ToLower(word) == word {
		return 0, false
	}
	if len(letters) > 2 && strings.ContainsAny(string(letters), "aeiouy") {
		return 0, false
	}
	n := 0
	for _, c := range letters {
		if c == 'w' {
			n += 3
		} else {
			n++
		}
	}
	return n, true
}

// contraction counts a word with an apostrophe: base + suffix ("didn't"
// is "did" + "n't", "nurse's" is "nurse" + "s").
func contraction(base, suffix string) int {
	n := Syllables(base)
	b := lettersOf(base)
	if len(b) == 0 {
		return Syllables(suffix)
	}
	last := b[len(b)-1]
	switch suffix {
	case "t": // n't: "did" + "n't" splits as "didn" + "'t"
		if last == 'n' && len(b) > 1 {
			stem := b[:len(b)-1]
			n = count(stem)
			end := stem[len(stem)-1]
			spoken := !isVowelByte(end) || (end == 'e' && !strings.HasSuffix(string(stem), "re"))
			if string(stem) == "ca" || string(stem) == "wo" || string(stem) == "do" {
				spoken = false
			}
			if spoken {
				n++
			}
		}
		return n
	case "s":
		s := string(b)
		for _, sib := range []string{"s", "x", "z", "ch", "sh", "ce", "ge", "se", "ze"} {
			if strings.HasSuffix(s, sib) {
				return n + 1
			}
		}
		return n
	case "ll", "re", "ve", "d", "m":
		return n
	}
	return n + Syllables(suffix)
}

func isVowelByte(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'
}

// count returns the syllables of a lower-case word of ASCII letters.
func count(w []byte) int {
	if n, ok := irregular(string(w)); ok {
		return n
	}
	if head, rest, ok := compound(w); ok {
		return count(head) + count(rest)
	}
	vowel := make([]bool, len(w))
	for i, c := range w {
		switch c {
		case 'a', 'e', 'i', 'o':
			vowel[i] = true
		case 'u':
			vowel[i] = i == 0 || w[i-1] != 'q'
		case 'y':
			vowel[i] = i > 0 && (i == len(w)-1 || !isVowelByte(w[i+1]))
		}
	}
	n := 0
	for i := range w {
		if !vowel[i] {
			continue
		}
		if i == 0 || !vowel[i-1] || splits(w, i) {
			n++
		}
	}
	n -= silentEndings(w, vowel, n)
	if n < 1 {
		n = 1
	}
	return n
}

// splits reports whether the vowel at i, after the vowel at i-1, starts a
// syllable of its own.
func splits(w []byte, i int) bool {
	prev := byte(0)
	if i >= 2 {
		prev = w[i-2]
	}
	rest := string(w[i+1:])
	pair := string(w[i-1 : i+1])
	switch pair {
	case "ia": // tri-al, me-di-a; not so-cial, A-sia
		return !strings.ContainsRune("ctsg", rune(prev))
	case "io": // ra-di-o, pe-ri-od; not na-tion, re-gion, mil-lion
		return !strings.ContainsRune("tscgxnl", rune(prev))
	case "eo": // vi-de-o, the-o-ry; not peo-ple, sur-geon, gor-geous
		return prev != 'p' && prev != 'g' && !strings.HasPrefix(rest, "u")
	case "ua": // u-su-al, ac-tu-al; not lan-guage
		return prev != 'g'
	case "iu": // cal-ci-um
		return true
	case "ie":
		switch {
		case strings.HasPrefix(rest, "t"): // qui-et, di-et, so-ci-e-ty
			return true
		case strings.HasPrefix(rest, "nt"), strings.HasPrefix(rest, "nc"): // cli-ent, au-di-ence; not pa-tient
			return prev != 't' && prev != 's'
		case rest == "r" || rest == "st": // eas-i-er, eas-i-est
			return hasVowelGroupBefore(w, i-1)
		}
	case "ea":
		if rest == "" { // i-de-a, ar-e-a; not tea
			return hasVowelGroupBefore(w, i-1)
		}
		if rest == "te" || rest == "ted" || rest == "tes" { // cre-ate
			return true
		}
	}
	// go-ing, be-ing, see-ing
	if w[i] == 'i' && (rest == "ng" || rest == "ngs") {
		return true
	}
	return false
}

// hasVowelGroupBefore reports whether w has a vowel before index i.
func hasVowelGroupBefore(w []byte, i int) bool {
	for _, c := range w[:i] {
		if isVowelByte(c) || c == 'y' {
			return true
		}
	}
	return false
}

// silentEndings returns how many of the n counted syllables are silent
// e's: a final e (make, while), an e before a final -d or -s (booked,
// times) and an e before -ly, -ful, -less, -ness or -ment (safely,
// statement). It keeps -le after a consonant (ta-ble), -ed after t or d
// (need-ed) and -es after a hissing sound (chang-es).
func silentEndings(w []byte, vowel []bool, n int) int {
	if n <= 1 {
		return 0
	}
	s := string(w)
	L := len(w)
	// ownE reports whether the e at i forms a vowel group of its own.
	ownE := func(i int) bool {
		return i >= 1 && w[i] == 'e' && !vowel[i-1]
	}
	// syllabicL reports whether an l at i, before a final e, is spoken as
	// a syllable: after a consonant other than l (ta-ble, han-dled).
	syllabicL := func(i int) bool {
		return i >= 1 && w[i] == 'l' && !vowel[i-1] && w[i-1] != 'l'
	}
	switch {
	case L >= 2 && w[L-1] == 'e' && ownE(L-1):
		if syllabicL(L - 2) {
			return 0
		}
		return 1
	case L >= 3 && strings.HasSuffix(s, "ed") && ownE(L-2):
		if w[L-3] == 't' || w[L-3] == 'd' || syllabicL(L-3) {
			return 0
		}
		return 1
	case L >= 3 && strings.HasSuffix(s, "es") && ownE(L-2):
		if syllabicL(L-3) || strings.ContainsRune("sxzgc", rune(w[L-3])) ||
			strings.HasSuffix(s, "ches") || strings.HasSuffix(s, "shes") {
			return 0
		}
		return 1
	}
	for _, suf := range []string{"ly", "ful", "fully", "less", "ness", "ment", "ments"} {
		i := L - len(suf) - 1 // the e before the suffix
		if i < 2 || !strings.HasSuffix(s, suf) || !ownE(i) {
			continue
		}
		c, v := w[i-1], w[i-2]
		switch {
		case c == 'g' || c == 'c': // strange-ly, ar-range-ment, en-force-ment
			return 1
		case syllabicL(i - 1):
			return 0
		case vowel[i-2] && (v != 'e' || !strings.HasPrefix(suf, "ment")): // safe-ly, state-ment; not el-e-ment
			return 1
		}
		return 0
	}
	return 0
}

// compound splits a word that starts with a common word ending in a
// silent e (some-one, care-giver, time-line), when the rest has a vowel.
func compound(w []byte) (head, rest []byte, ok bool) {
	for _, h := range []string{"some", "any", "every", "where", "there", "home", "care", "time", "life", "base", "note", "whole", "safe"} {
		if len(w) < len(h)+2 || string(w[:len(h)]) != h {
			continue
		}
		r := w[len(h):]
		if strings.ContainsAny(string(r), "aeiouy") {
			return w[:len(h)], r, true
		}
	}
	return nil, nil, false
}

// irregular returns the syllables of common words the rules miscount.
func irregular(w string) (int, bool) {
	switch w {
	case "maybe", "every", "business", "evening":
		return 2, true
	case "recipe":
		return 3, true
	case "diabetes":
		return 4, true
	}
	return 0, false
}
