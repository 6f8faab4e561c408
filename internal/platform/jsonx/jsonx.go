// Package jsonx decodes JSON documents into generic values, for the paths
// that decode every resource of an import: it produces exactly what
// encoding/json produces for an `any` with UseNumber (map[string]any, []any,
// string, json.Number, bool and nil), in less than half the time and with
// two thirds of the memory (BenchmarkDecode).
//
// The speed comes from decoding in one pass without reflection, and from
// copying the document once into a string: keys, numbers and strings
// without escapes are slices of that copy rather than allocations of their
// own. A decoded value therefore keeps the whole document's bytes alive for
// as long as any of its strings is in use.
//
// The grammar is RFC 8259's, checked as strictly as encoding/json checks
// it, including its nesting limit of 10,000; strings are unquoted as
// encoding/json unquotes them (invalid UTF-8 and unpaired surrogates become
// U+FFFD). A fuzz test holds the two to the same answers.
package jsonx

import (
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// A SyntaxError describes malformed JSON and the byte offset at which the
// problem was found.
type SyntaxError struct {
	Offset int64 // bytes read before the error
	msg    string
}

func (e *SyntaxError) Error() string { return e.msg }

// A Span is a byte range [Start, End) of a document.
type Span struct{ Start, End int }

// A Member is one member of a JSON object: its unquoted name and its value
// exactly as it appears in the document.
type Member struct {
	Key   string
	Value []byte
}

// Decode decodes data, which must hold exactly one JSON value (surrounded
// by white space at most), as encoding/json decodes into an `any` with
// UseNumber. Malformed input returns a *SyntaxError.
func Decode(data []byte) (any, error) {
	d := decoder{data: data, s: string(data), build: true}
	return d.document()
}

// DecodeCompact does what Decode does, and also returns the document
// compacted as json.Compact compacts it (insignificant white space removed,
// every other byte kept), and the spans, in the compacted bytes, of the
// string values of object members named key, quotes included. The spans
// let a caller replace those strings without encoding the document again.
func DecodeCompact(data []byte, key string) (v any, compact []byte, spans []Span, err error) {
	d := decoder{data: data, s: string(data), build: true, emit: true, out: make([]byte, 0, len(data)), key: key}
	v, err = d.document()
	if err != nil {
		return nil, nil, nil, err
	}
	return v, d.out, d.spans, nil
}

// Members checks that data is one well-formed JSON object and returns its
// members in the order they appear, values as they appear (white space
// inside them kept). A name that appears twice is returned twice.
func Members(data []byte) ([]Member, error) {
	r := NewReader(data)
	if c := r.Peek(); c != '{' {
		if c == 0 {
			return nil, r.d.eof()
		}
		return nil, r.mismatch("a JSON object")
	}
	var members []Member
	err := r.Object(func(key string) error {
		v, err := r.Raw()
		members = append(members, Member{key, v})
		return err
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, err
	}
	return members, nil
}

// AppendString appends s to dst as a JSON string, escaped as encoding/json
// escapes with HTML escaping off: quotes, backslashes and control
// characters, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, &plain) }

// AppendHTMLSafeString is AppendString that also escapes <, > and &, as
// encoding/json.Marshal does by default.
func AppendHTMLSafeString(dst []byte, s string) []byte { return appendString(dst, s, &plainHTML) }

// plain marks the ASCII bytes a JSON string holds as they are; plainHTML
// leaves out <, > and & as well.
var plain, plainHTML = func() (p, h [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
		h[c] = p[c] && c != '<' && c != '>' && c != '&'
	}
	return p, h
}()

func appendString(dst []byte, s string, safe *[256]bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decoder is one pass over a document. With build off it only checks the
// grammar; with emit on it also writes the compacted document to out.
type decoder struct {
	data  []byte
	s     string // data as a string, sliced for keys, numbers and plain strings
	i     int    // the next byte to read
	depth int
	build bool // make values (otherwise only check)
	emit  bool // write the compacted document to out
	out   []byte
	key   string // with emit: record the spans of string values of members so named
	spans []Span
	items []any    // a stack of array elements being collected
	pairs []member // a stack of object members being collected
}

type member struct {
	key string
	v   any
}

func (d *decoder) document() (any, error) {
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return v, d.end()
}

// end checks that only white space follows the value.
func (d *decoder) end() error {
	d.ws()
	if d.i < len(d.data) {
		return d.errorf("invalid character " + quoteChar(d.data[d.i]) + " after top-level value")
	}
	return nil
}

func (d *decoder) ws() {
	for d.i < len(d.data) && d.data[d.i] <= ' ' && space[d.data[d.i]] {
		d.i++
	}
}

// space marks JSON's four white-space bytes.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (d *decoder) errorf(msg string) error { return &SyntaxError{int64(d.i), msg} }

func (d *decoder) eof() error {
	return &SyntaxError{int64(len(d.data)), "unexpected end of JSON input"}
}

func (d *decoder) put(c byte) {
	if d.emit {
		d.out = append(d.out, c)
	}
}

func (d *decoder) value() (any, error) {
	d.ws()
	if d.i >= len(d.data) {
		return nil, d.eof()
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.errorf("invalid character " + quoteChar(c) + " looking for beginning of value")
	}
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.errorf("exceeded max depth")
	}
	d.put(d.data[d.i])
	d.i++
	return nil
}

// next reads what follows a member or an element: a comma (more follows)
// or the closing byte.
func (d *decoder) next(closing byte, after string) (more bool, err error) {
	d.ws()
	if d.i >= len(d.data) {
		return false, d.eof()
	}
	switch c := d.data[d.i]; c {
	case ',':
		d.put(c)
		d.i++
		return true, nil
	case closing:
		d.put(c)
		d.i++
		return false, nil
	default:
		return false, d.errorf("invalid character " + quoteChar(c) + " after " + after)
	}
}

// memberKey reads a member's name and the colon after it.
func (d *decoder) memberKey() (string, error) {
	d.ws()
	if d.i >= len(d.data) {
		return "", d.eof()
	}
	if d.data[d.i] != '"' {
		return "", d.errorf("invalid character " + quoteChar(d.data[d.i]) + " looking for beginning of object key string")
	}
	build := d.build
	d.build = true // the names are needed even when only checking
	k, err := d.str()
	d.build = build
	if err != nil {
		return "", err
	}
	d.ws()
	if d.i >= len(d.data) {
		return "", d.eof()
	}
	if d.data[d.i] != ':' {
		return "", d.errorf("invalid character " + quoteChar(d.data[d.i]) + " after object key")
	}
	d.put(':')
	d.i++
	return k.(string), nil
}

// elements reads the object or array that starts at d.i, calling each for
// every member (each reads its name and value) or element (each reads it).
func (d *decoder) elements(closing byte, after string, each func() error) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == closing {
		d.put(closing)
		d.i++
		d.depth--
		return nil
	}
	for {
		if err := each(); err != nil {
			return err
		}
		more, err := d.next(closing, after)
		if err != nil {
			return err
		}
		if !more {
			d.depth--
			return nil
		}
	}
}

func (d *decoder) object() (any, error) {
	base := len(d.pairs)
	err := d.elements('}', "object key:value pair", func() error {
		k, err := d.memberKey()
		if err != nil {
			return err
		}
		var v any
		if d.emit && d.key != "" && k == d.key {
			d.ws()
			start := len(d.out)
			v, err = d.value()
			if _, ok := v.(string); ok && err == nil {
				d.spans = append(d.spans, Span{start, len(d.out)})
			}
		} else {
			v, err = d.value()
		}
		if d.build {
			d.pairs = append(d.pairs, member{k, v})
		}
		return err
	})
	if err != nil || !d.build {
		return nil, err
	}
	m := make(map[string]any, len(d.pairs)-base)
	for _, p := range d.pairs[base:] {
		m[p.key] = p.v
	}
	clear(d.pairs[base:])
	d.pairs = d.pairs[:base]
	return m, nil
}

func (d *decoder) array() (any, error) {
	base := len(d.items)
	err := d.elements(']', "array element", func() error {
		v, err := d.value()
		if d.build {
			d.items = append(d.items, v)
		}
		return err
	})
	if err != nil || !d.build {
		return nil, err
	}
	a := make([]any, len(d.items)-base)
	copy(a, d.items[base:])
	clear(d.items[base:])
	d.items = d.items[:base]
	return a, nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// str reads a string literal; d.data[d.i] is its opening quote.
func (d *decoder) str() (any, error) {
	start := d.i
	j := d.i + 1
	escaped, ascii := false, true
	for {
		if j >= len(d.data) {
			return nil, d.eof()
		}
		c := d.data[j]
		switch {
		case c == '"':
			goto closed
		case c == '\\':
			escaped = true
			j++
			if j >= len(d.data) {
				return nil, d.eof()
			}
			switch d.data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				for k := 1; k <= 4; k++ {
					if j+k >= len(d.data) {
						return nil, d.eof()
					}
					if !isHex(d.data[j+k]) {
						d.i = j + k
						return nil, d.errorf("invalid character " + quoteChar(d.data[j+k]) + " in \\u hexadecimal character escape")
					}
				}
				j += 5
			default:
				d.i = j
				return nil, d.errorf("invalid character " + quoteChar(d.data[j]) + " in string escape code")
			}
		case c < 0x20:
			d.i = j
			return nil, d.errorf("invalid character " + quoteChar(c) + " in string literal")
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			j++
		}
	}
closed:
	d.i = j + 1
	if d.emit {
		d.out = append(d.out, d.data[start:d.i]...)
	}
	if !d.build {
		return nil, nil
	}
	body := d.data[start+1 : j]
	if !escaped && (ascii || utf8.Valid(body)) {
		if d.s == "" { // Members keeps no copy of the document
			return string(body), nil
		}
		return d.s[start+1 : j], nil
	}
	return unquote(body), nil
}

// unquote decodes a string literal's body whose escapes are well formed,
// as encoding/json does.
func unquote(body []byte) string {
	b := make([]byte, 0, len(body)+2*utf8.UTFMax)
	for r := 0; r < len(body); {
		c := body[r]
		switch {
		case c == '\\':
			switch e := body[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(body[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(body) && body[r] == '\\' && body[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(body[r+2:r+6])); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(body[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return string(b)
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func (d *decoder) number() (any, error) {
	start := d.i
	digits := func() {
		for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
			d.i++
		}
	}
	// need reads one digit that must be there.
	need := func() error {
		if d.i >= len(d.data) {
			return d.eof()
		}
		if c := d.data[d.i]; c < '0' || c > '9' {
			return d.errorf("invalid character " + quoteChar(c) + " in numeric literal")
		}
		d.i++
		return nil
	}
	if d.data[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.data) && d.data[d.i] == '0' {
		d.i++
	} else {
		if err := need(); err != nil {
			return nil, err
		}
		digits()
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if err := need(); err != nil {
			return nil, err
		}
		digits()
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if err := need(); err != nil {
			return nil, err
		}
		digits()
	}
	if d.emit {
		d.out = append(d.out, d.data[start:d.i]...)
	}
	if !d.build {
		return nil, nil
	}
	return json.Number(d.s[start:d.i]), nil
}

func (d *decoder) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if d.i+k >= len(d.data) {
			return d.eof()
		}
		if c := d.data[d.i+k]; c != word[k] {
			d.i += k
			return d.errorf("invalid character " + quoteChar(c) + " in literal " + word + " (expecting " + quoteChar(word[k]) + ")")
		}
	}
	d.i += len(word)
	if d.emit {
		d.out = append(d.out, word...)
	}
	return nil
}

// quoteChar formats c for an error message: 'x', or an escape such as
// '\n' or '\x00' for bytes that do not print.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		q = strconv.Quote(string([]byte{c}))
	}
	return "'" + q[1:len(q)-1] + "'"
}
