package validate

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The JSON scanner. The walk reads the JSON bytes directly; every function
// below fails with a syntaxError (a panic caught by run) on malformed input.

func (v *validator) enter() {
	v.depth++
	if v.depth > maxDepth {
		v.fail(fmt.Sprintf("JSON nested deeper than %d levels", maxDepth))
	}
}

func (v *validator) ws() {
	for v.pos < len(v.data) {
		switch v.data[v.pos] {
		case ' ', '\t', '\n', '\r':
			v.pos++
		default:
			return
		}
	}
}

// peek returns the byte at v.pos after white space, or 0 at the end.
func (v *validator) peek() byte {
	v.ws()
	if v.pos < len(v.data) {
		return v.data[v.pos]
	}
	return 0
}

// next consumes ',' (returning true) or the closing byte (returning false).
func (v *validator) next(closing byte) bool {
	switch v.peek() {
	case ',':
		v.pos++
		return true
	case closing:
		v.pos++
		return false
	case 0:
		v.fail("unexpected end of JSON input")
	}
	v.fail(fmt.Sprintf("invalid character %s after %s", quoteByte(v.data[v.pos]), map[byte]string{'}': "object key:value pair", ']': "array element"}[closing]))
	return false
}

func (v *validator) colon() {
	if v.peek() != ':' {
		if v.pos >= len(v.data) {
			v.fail("unexpected end of JSON input")
		}
		v.fail(fmt.Sprintf("invalid character %s after object key", quoteByte(v.data[v.pos])))
	}
	v.pos++
}

// key reads a property name. The result is valid until the next key.
func (v *validator) key() []byte {
	if v.peek() != '"' {
		if v.pos >= len(v.data) {
			v.fail("unexpected end of JSON input")
		}
		v.fail(fmt.Sprintf("invalid character %s looking for beginning of object key string", quoteByte(v.data[v.pos])))
	}
	raw, escaped := v.scanString()
	if !escaped {
		return raw
	}
	v.keyBuf = unescape(v.keyBuf[:0], raw)
	return v.keyBuf
}

// str reads a string value and returns its text, valid until the next
// call. With check, invalid UTF-8 is reported.
func (v *validator) str(check bool) []byte {
	start := v.pos
	raw, escaped := v.scanString()
	if check && !utf8.Valid(raw) {
		v.add(start, CodeValue, string(v.path)+" is not valid UTF-8")
	}
	if !escaped {
		return raw
	}
	v.buf = unescape(v.buf[:0], raw)
	return v.buf
}

// scanString consumes the string at v.pos and returns its raw content and
// whether it has escapes.
func (v *validator) scanString() ([]byte, bool) {
	v.pos++ // opening quote
	start := v.pos
	escaped := false
	d := v.data
	for i := v.pos; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			v.pos = i + 1
			return d[start:i], escaped
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				v.pos = i
				v.fail("unexpected end of JSON input")
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(d) {
						v.pos = len(d)
						v.fail("unexpected end of JSON input")
					}
					if !isHex(d[i+k]) {
						v.pos = i + k
						v.fail(fmt.Sprintf("invalid character %s in \\u hexadecimal character escape", quoteByte(d[i+k])))
					}
				}
				i += 4
			default:
				v.pos = i
				v.fail(fmt.Sprintf("invalid character %s in string escape code", quoteByte(d[i])))
			}
		case c < 0x20:
			v.pos = i
			v.fail(fmt.Sprintf("invalid character %s in string literal", quoteByte(c)))
		}
	}
	v.pos = len(d)
	v.fail("unexpected end of JSON input")
	return nil, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unescape appends the text of a checked raw string with escapes to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[i+1 : i+5]))
			i += 4
			if 0xD800 <= r && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo := rune(hex4(raw[i+3 : i+7])); 0xDC00 <= lo && lo < 0xE000 {
					r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c <= '9':
			n |= int(c - '0')
		case c >= 'a':
			n |= int(c-'a') + 10
		default:
			n |= int(c-'A') + 10
		}
	}
	return n
}

// number consumes a JSON number and returns its text.
func (v *validator) number() []byte {
	d := v.data
	start := v.pos
	i := v.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		v.pos = i
		if i >= len(d) {
			v.fail("unexpected end of JSON input")
		}
		if i == start {
			v.fail(fmt.Sprintf("invalid character %s looking for beginning of value", quoteByte(d[i])))
		}
		v.fail(fmt.Sprintf("invalid character %s in numeric literal", quoteByte(d[i])))
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			v.pos = i
			v.failNumber()
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			v.pos = i
			v.failNumber()
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	v.pos = i
	return d[start:i]
}

func (v *validator) failNumber() {
	if v.pos >= len(v.data) {
		v.fail("unexpected end of JSON input")
	}
	v.fail(fmt.Sprintf("invalid character %s in numeric literal", quoteByte(v.data[v.pos])))
}

func (v *validator) literal(word string) {
	for i := 0; i < len(word); i++ {
		if v.pos >= len(v.data) {
			v.fail("unexpected end of JSON input")
		}
		if v.data[v.pos] != word[i] {
			v.fail(fmt.Sprintf("invalid character %s in literal %s (expecting %s)", quoteByte(v.data[v.pos]), word, quoteByte(word[i])))
		}
		v.pos++
	}
}

// skipValue consumes any JSON value, checking its syntax.
func (v *validator) skipValue() {
	switch b := v.peek(); b {
	case '{':
		v.enter()
		v.pos++
		if v.peek() == '}' {
			v.pos++
		} else {
			for {
				v.key()
				v.colon()
				v.skipValue()
				if !v.next('}') {
					break
				}
			}
		}
		v.depth--
	case '[':
		v.enter()
		v.pos++
		if v.peek() == ']' {
			v.pos++
		} else {
			for {
				v.skipValue()
				if !v.next(']') {
					break
				}
			}
		}
		v.depth--
	case '"':
		v.scanString()
	case 't':
		v.literal("true")
	case 'f':
		v.literal("false")
	case 'n':
		v.literal("null")
	case 0:
		v.fail("unexpected end of JSON input")
	default:
		v.number()
	}
}

func quoteByte(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
