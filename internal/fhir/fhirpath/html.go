package fhirpath

import "strings"

// htmlElements are the XHTML elements a FHIR narrative may use (the basic
// formatting elements of HTML 4.0 the R4 specification allows).
var htmlElements = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range strings.Fields(`a abbr acronym b big blockquote br caption cite code col colgroup dd dfn
		div dl dt em h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody td
		tfoot th thead tr tt ul var`) {
		m[e] = true
	}
	return m
}()

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// htmlChecks is the FHIR function of the narrative invariants txt-1 and
// txt-2: the text is one well-formed XHTML div (in the XHTML namespace)
// whose elements are all allowed ones, without event handler attributes,
// and which has some non-whitespace content (text or an image). It reads
// the text in one pass, without allocating, as it runs on every narrative.
func htmlChecks(s string) bool {
	var stackBuf [32]string
	stack := stackBuf[:0]
	content, done := false, false
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '<' && strings.HasPrefix(s[i:], "<!--"):
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				return false
			}
			i += 4 + end + 3
		case c == '<' && strings.HasPrefix(s[i:], "<?"):
			if len(stack) > 0 || done {
				return false
			}
			end := strings.Index(s[i+2:], "?>")
			if end < 0 {
				return false
			}
			i += 2 + end + 2
		case c == '<' && strings.HasPrefix(s[i:], "</"):
			name, n := htmlName(s[i+2:])
			i += 2 + n
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i >= len(s) || s[i] != '>' || len(stack) == 0 || stack[len(stack)-1] != name {
				return false
			}
			i++
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
		case c == '<':
			name, n := htmlName(s[i+1:])
			if done || !htmlElements[name] || (len(stack) == 0 && name != "div") {
				return false
			}
			i += 1 + n
			closed, ok, rootNS := false, false, false
			i, closed, ok, rootNS = htmlAttributes(s, i)
			if !ok || (len(stack) == 0 && !rootNS) {
				return false
			}
			if name == "img" {
				content = true
			}
			if closed {
				done = len(stack) == 0
			} else {
				stack = append(stack, name)
			}
		case c == '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 2 || len(stack) == 0 || !isEntity(s[i+1:i+end]) {
				return false
			}
			content = true
			i += end + 1
		case isSpace(c):
			i++
		default:
			if len(stack) == 0 {
				return false
			}
			content = true
			i++
		}
	}
	return done && content
}

// htmlName reads an element name (no namespace prefix) and returns it with
// its length.
func htmlName(s string) (string, int) {
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], n
}

// htmlAttributes reads the attributes of a start tag from s[i:] up to and
// including its '>', and reports whether the tag closes itself, whether it
// is acceptable, and whether it declares the XHTML namespace.
func htmlAttributes(s string, i int) (next int, closed, ok, xhtml bool) {
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return i, false, false, false
		}
		switch s[i] {
		case '>':
			return i + 1, closed, true, xhtml
		case '/':
			if i+1 < len(s) && s[i+1] == '>' {
				return i + 2, true, true, xhtml
			}
			return i, false, false, false
		}
		start := i
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("-_:.", s[i]) >= 0) {
			i++
		}
		name := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if name == "" || i >= len(s) || s[i] != '=' {
			return i, false, false, false
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || (s[i] != '"' && s[i] != '\'') {
			return i, false, false, false
		}
		q := s[i]
		end := strings.IndexByte(s[i+1:], q)
		if end < 0 {
			return i, false, false, false
		}
		value := s[i+1 : i+1+end]
		i += end + 2
		if strings.IndexByte(value, '<') >= 0 || len(name) > 1 && strings.EqualFold(name[:2], "on") {
			return i, false, false, false
		}
		if name == "xmlns" {
			if value != xhtmlNS {
				return i, false, false, false
			}
			xhtml = true
		}
	}
}

// isEntity reports whether the text between & and ; is a character
// reference or an entity name.
func isEntity(e string) bool {
	if e[0] == '#' {
		digits := e[1:]
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			digits = digits[1:]
		}
		return len(digits) > 0 && strings.Trim(digits, "0123456789abcdefABCDEF") == ""
	}
	for i := 0; i < len(e); i++ {
		if !(e[i] >= 'a' && e[i] <= 'z' || e[i] >= 'A' && e[i] <= 'Z' || i > 0 && e[i] >= '0' && e[i] <= '9') {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// htmlFn is htmlChecks() on each string item.
type htmlFn struct{}

func (htmlFn) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		if s, ok := n.Value.(string); ok {
			dst = append(dst, boolNode(htmlChecks(s)))
		}
	}
	return dst
}
