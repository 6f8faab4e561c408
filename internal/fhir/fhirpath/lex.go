package fhirpath

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // identifier or keyword: and, or, is, as, true, ...
	tQIdent         // `delimited identifier`
	tString         // 'string literal', text holds the unescaped value
	tNumber         // 12 or 1.5
	tDate           // @2024-01-01, only to report it as unsupported
	tVar            // $this, $index, $total: text holds the name without $
	tEnv            // %resource, %`vs-x`, %'x': text holds the name without %
	tOp             // punctuation and symbolic operators: text holds it
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the expression
}

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errAt(src, i, "unterminated comment")
			}
			i += end + 4
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		case c == '`':
			s, n, err := lexQuoted(src, i, '`')
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tQIdent, s, i})
			i += n
		case c == '\'':
			s, n, err := lexQuoted(src, i, '\'')
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, i})
			i += n
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j += 2
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case c == '@':
			j := i + 1
			for j < len(src) && (isIdentPart(src[j]) || strings.IndexByte("-:.+", src[j]) >= 0) {
				j++
			}
			toks = append(toks, token{tDate, src[i:j], i})
			i = j
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, errAt(src, i, "'$' must be followed by a name such as $this")
			}
			toks = append(toks, token{tVar, src[i+1 : j], i})
			i = j
		case c == '%':
			if i+1 < len(src) && (src[i+1] == '`' || src[i+1] == '\'') {
				s, n, err := lexQuoted(src, i+1, src[i+1])
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{tEnv, s, i})
				i += 1 + n
				continue
			}
			j := i + 1
			for j < len(src) && (isIdentPart(src[j]) || src[j] == '-') {
				j++
			}
			if j == i+1 {
				return nil, errAt(src, i, "'%' must be followed by a name such as %resource")
			}
			toks = append(toks, token{tEnv, src[i+1 : j], i})
			i = j
		default:
			if i+1 < len(src) {
				switch src[i : i+2] {
				case "!=", "!~", "<=", ">=":
					toks = append(toks, token{tOp, src[i : i+2], i})
					i += 2
					continue
				}
			}
			if strings.IndexByte(".()[]{},|=~<>+-*/&", c) >= 0 {
				toks = append(toks, token{tOp, src[i : i+1], i})
				i++
				continue
			}
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, errAt(src, i, "unexpected character "+strconv.QuoteRune(r))
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

// lexQuoted reads a literal delimited by q starting at src[start] and
// returns its unescaped text and its length in bytes, delimiters included.
func lexQuoted(src string, start int, q byte) (string, int, error) {
	var b strings.Builder
	i := start + 1
	plain := true // no escape seen: the text is a substring of src
	for i < len(src) {
		c := src[i]
		switch {
		case c == q:
			if plain {
				return src[start+1 : i], i + 1 - start, nil
			}
			return b.String(), i + 1 - start, nil
		case c == '\\':
			if plain {
				b.WriteString(src[start+1 : i])
				plain = false
			}
			if i+1 >= len(src) {
				return "", 0, errAt(src, i, "unterminated escape")
			}
			e := src[i+1]
			switch e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+6 > len(src) {
					return "", 0, errAt(src, i, "incomplete \\u escape")
				}
				v, err := strconv.ParseUint(src[i+2:i+6], 16, 32)
				if err != nil {
					return "", 0, errAt(src, i, "bad \\u escape")
				}
				b.WriteRune(rune(v))
				i += 6
				continue
			default:
				return "", 0, errAt(src, i, "unknown escape \\"+string(rune(e)))
			}
			i += 2
		default:
			if !plain {
				b.WriteByte(c)
			}
			i++
		}
	}
	return "", 0, errAt(src, start, "unterminated "+string(rune(q))+"-quoted text")
}
