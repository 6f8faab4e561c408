package sms

import (
	"strings"
	"unicode"
)

// Keyword is what a reply asks of careloop, when the whole reply is one
// of the words carriers and people use for it.
type Keyword int

// The keywords of a reply.
const (
	None  Keyword = iota // any other text
	Stop                 // stop sending me messages
	Start                // send me messages again
	Help                 // who is this, how do I stop
)

// String returns the keyword's name in capitals ("STOP"), or "" for None.
func (k Keyword) String() string {
	switch k {
	case Stop:
		return "STOP"
	case Start:
		return "START"
	case Help:
		return "HELP"
	}
	return ""
}

// KeywordOf returns the keyword a reply is: the whole reply, ignoring
// case, spaces and punctuation at its ends ("stop", " Stop. ", "OPT OUT",
// "¡Basta!"), must be one of STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
// QUIT, REVOKE, OPTOUT, PARAR, BASTA, ALTO (Stop); START, UNSTOP, YES,
// SI, SÍ (Start); HELP, INFO, AYUDA (Help). Any other reply, such as
// "please stop", is None.
func KeywordOf(body string) Keyword {
	word := make([]rune, 0, 16)
	for _, r := range body {
		switch {
		case len(word) > maxKeyword:
			return None // longer than any keyword with its punctuation
		case unicode.IsSpace(r):
		case r == '\u0301' && len(word) > 0 && word[len(word)-1] == 'I':
			word[len(word)-1] = 'Í' // I and a combining acute accent
		default:
			word = append(word, unicode.ToUpper(r))
		}
	}
	return keywordOf(strings.Trim(string(word), ".!?¡¿"))
}

// maxKeyword is more characters than any keyword has, with the
// punctuation KeywordOf drops.
const maxKeyword = 24

// keywordOf returns the keyword of an upper-case word without spaces.
func keywordOf(word string) Keyword {
	switch word {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "PARAR", "BASTA", "ALTO":
		return Stop
	case "START", "UNSTOP", "YES", "SI", "SÍ":
		return Start
	case "HELP", "INFO", "AYUDA":
		return Help
	}
	return None
}
