package validate

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// The decoder turns a part of the validated JSON into the values package
// fhirpath evaluates (map[string]any, []any, string, json.Number, bool),
// decoding only what a fhirpath.Shape says an expression may read. It never
// fails: it may run ahead of the walk (for %resource) over bytes the walk
// has not checked yet, and it stops at the first malformed byte with what
// it has; the walk reports the error and the result is discarded then.
//
// To cost (almost) no allocation, the strings it returns share the bytes of
// the document (text), and the maps and slices come from a valuePool
// when it has one. The values must therefore not outlive the call to
// Resource, and pooled ones not the release of their pool: they are only
// given to fhirpath's Test, which keeps nothing.

type decoder struct {
	data  []byte
	depth int
	bad   bool
	pool  *valuePool // nil: allocate
	spans []span     // where the objects and arrays walked end
	hint  int        // index in spans where the last search ended
}

// span is where an object or array the walk has gone through starts and
// ends, so that the decoder can skip it without reading it again.
type span struct{ start, end int32 }

// openSpan records the start of the object or array at v.pos and returns
// its index in v.spans, which stays sorted by start.
func (v *validator) openSpan() int {
	v.spans = append(v.spans, span{int32(v.pos), -1})
	return len(v.spans) - 1
}

// closeSpan records the end of span i, at v.pos.
func (v *validator) closeSpan(i int) { v.spans[i].end = int32(v.pos) }

// spanEnd returns the end of the object or array starting at i, if the walk
// went through all of it.
func (d *decoder) spanEnd(i int) (int, bool) {
	sp := d.spans
	// The decoder mostly moves forward: search from where it was last,
	// widening the range step by step, before halving it.
	lo, hi := 0, len(sp)
	if h := d.hint; h < len(sp) && int(sp[h].start) <= i {
		lo = h
		for step := 1; lo+step < len(sp); step *= 2 {
			if int(sp[lo+step].start) >= i {
				hi = lo + step + 1
				break
			}
			lo += step
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int(sp[m].start) < i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	d.hint = lo
	if lo < len(sp) && int(sp[lo].start) == i && sp[lo].end >= 0 {
		return int(sp[lo].end), true
	}
	return 0, false
}

// valuePool recycles the maps and slices of decoded values.
type valuePool struct {
	maps, usedMaps   []map[string]any
	lists, usedLists [][]any
}

func (p *valuePool) getMap() map[string]any {
	if n := len(p.maps); n > 0 {
		m := p.maps[n-1]
		p.maps = p.maps[:n-1]
		p.usedMaps = append(p.usedMaps, m)
		return m
	}
	m := make(map[string]any, 8)
	p.usedMaps = append(p.usedMaps, m)
	return m
}

func (p *valuePool) getList() []any {
	if n := len(p.lists); n > 0 {
		l := p.lists[n-1]
		p.lists = p.lists[:n-1]
		return l
	}
	return make([]any, 0, 4)
}

// release makes every value handed out since the last release reusable.
func (p *valuePool) release() {
	for _, m := range p.usedMaps {
		clear(m)
		if len(p.maps) < 1024 {
			p.maps = append(p.maps, m)
		}
	}
	clear(p.usedMaps)
	p.usedMaps = p.usedMaps[:0]
	for _, l := range p.usedLists {
		clear(l[:cap(l)])
		if len(p.lists) < 256 && cap(l) <= 1024 {
			p.lists = append(p.lists, l[:0])
		}
	}
	clear(p.usedLists)
	p.usedLists = p.usedLists[:0]
}

// present stands for a primitive that an expression only tests for
// presence (see fhirpath.Shape); it is boxed once.
var present any = "present"

// text returns b as a string. It copies: a string sharing the request's
// bytes would save an allocation but stay correct only while nothing keeps
// it, a promise too easy to break later for what it saves.
func text(b []byte) string {
	return string(b)
}

func (d *decoder) ws(i int) int {
	for i < len(d.data) {
		switch d.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value decodes the value at i following s (nil: all of it) and returns it
// with the offset after it.
func (d *decoder) value(i int, s *fhirpath.Shape) (any, int) {
	i = d.ws(i)
	if d.bad || i >= len(d.data) {
		d.bad = true
		return nil, len(d.data)
	}
	if s != nil && !s.All && s.Fields == nil && !s.Type {
		// Tested for presence only.
		switch d.data[i] {
		case '[':
		case '{':
			if end, ok := d.spanEnd(i); ok {
				if d.pool != nil {
					return d.pool.getMap(), end
				}
				return map[string]any{}, end
			}
		default:
			return present, d.skip(i)
		}
	}
	switch c := d.data[i]; {
	case c == '{':
		return d.object(i, s)
	case c == '[':
		d.depth++
		defer func() { d.depth-- }()
		if d.depth > maxDepth {
			d.bad = true
			return nil, len(d.data)
		}
		var out []any
		if d.pool != nil {
			out = d.pool.getList()
			defer func() { d.pool.usedLists = append(d.pool.usedLists, out) }()
		}
		i = d.ws(i + 1)
		if i < len(d.data) && d.data[i] == ']' {
			return out, i + 1
		}
		for !d.bad {
			var x any
			x, i = d.value(i, s)
			if x != nil {
				out = append(out, x)
			}
			i = d.ws(i)
			if i < len(d.data) && d.data[i] == ',' {
				i++
				continue
			}
			if i < len(d.data) && d.data[i] == ']' {
				return out, i + 1
			}
			d.bad = true
		}
		return out, len(d.data)
	case c == '"':
		s, end := d.str(i)
		return s, end
	case c == 't' && bytes.HasPrefix(d.data[i:], []byte("true")):
		return true, i + 4
	case c == 'f' && bytes.HasPrefix(d.data[i:], []byte("false")):
		return false, i + 5
	case c == 'n':
		return nil, min(i+4, len(d.data))
	default:
		j := i
		for j < len(d.data) && strings.IndexByte("+-.0123456789eE", d.data[j]) >= 0 {
			j++
		}
		if j == i {
			d.bad = true
			return nil, len(d.data)
		}
		return json.Number(text(d.data[i:j])), j
	}
}

// str decodes the string at i.
func (d *decoder) str(i int) (string, int) {
	raw, end, escaped := d.rawString(i)
	if d.bad {
		return "", end
	}
	if !escaped {
		return text(raw), end
	}
	return string(unescape(nil, raw)), end
}

// rawString returns the content of the string at i, the offset after it,
// and whether it has escapes, which are checked so that unescape can read
// them.
func (d *decoder) rawString(i int) ([]byte, int, bool) {
	start := i + 1
	// Most strings have no escape: find the closing quote fast.
	if q := bytes.IndexByte(d.data[start:], '"'); q >= 0 && bytes.IndexByte(d.data[start:start+q], '\\') < 0 {
		return d.data[start : start+q], start + q + 1, false
	}
	escaped := false
	for j := start; j < len(d.data); j++ {
		switch d.data[j] {
		case '"':
			return d.data[start:j], j + 1, escaped
		case '\\':
			escaped = true
			j++
			if j >= len(d.data) {
				break
			}
			if d.data[j] == 'u' {
				if j+4 >= len(d.data) {
					j = len(d.data)
					break
				}
				for k := 1; k <= 4; k++ {
					if !isHex(d.data[j+k]) {
						d.bad = true
						return nil, len(d.data), false
					}
				}
			}
		}
	}
	d.bad = true
	return nil, len(d.data), false
}

// key reads a property name at i and returns it (in buf when escaped) with
// the offset after the colon.
func (d *decoder) key(i int, buf *[]byte) ([]byte, int, bool) {
	i = d.ws(i)
	if i >= len(d.data) || d.data[i] != '"' {
		d.bad = true
		return nil, len(d.data), false
	}
	k, end, escaped := d.rawString(i)
	if d.bad {
		return nil, end, false
	}
	if escaped {
		*buf = unescape((*buf)[:0], k)
		k = *buf
	}
	i = d.ws(end)
	if i >= len(d.data) || d.data[i] != ':' {
		d.bad = true
		return nil, len(d.data), false
	}
	return k, i + 1, escaped
}

func (d *decoder) object(i int, s *fhirpath.Shape) (any, int) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.bad = true
		return nil, len(d.data)
	}
	start := i
	partial := s != nil && !s.All
	var m map[string]any
	if d.pool != nil {
		m = d.pool.getMap()
	} else {
		m = map[string]any{}
	}
	i = d.ws(i + 1)
	if i < len(d.data) && d.data[i] == '}' {
		return m, i + 1
	}
	var kb []byte
	for !d.bad {
		var k []byte
		var escaped bool
		k, i, escaped = d.key(i, &kb)
		if d.bad {
			break
		}
		var fs *fhirpath.Shape
		want := true
		if partial {
			fs, want = shapeField(s, k)
			if string(k) == "resourceType" {
				want = true
			}
		}
		var x any
		if want {
			if fs != nil && fs.All {
				fs = nil
			}
			x, i = d.value(i, fs)
			if x != nil {
				if escaped {
					m[string(k)] = x
				} else {
					m[text(k)] = x
				}
			}
		} else {
			i = d.skip(i)
		}
		i = d.ws(i)
		if i < len(d.data) && d.data[i] == ',' {
			i++
			continue
		}
		if i < len(d.data) && d.data[i] == '}' {
			i++
			break
		}
		d.bad = true
	}
	if partial && s.Type && !d.bad {
		if _, isResource := m["resourceType"]; !isResource {
			// The type of a datatype is told from its fields.
			return d.object(start, nil)
		}
	}
	return m, i
}

// shapeField returns the Shape of property k of an object read by s: the
// field of that name, or of the choice element k is a variant of
// (valueQuantity of value).
func shapeField(s *fhirpath.Shape, k []byte) (*fhirpath.Shape, bool) {
	if f, ok := s.Fields[string(k)]; ok {
		return f, true
	}
	for p := 1; p < len(k); p++ {
		if 'A' <= k[p] && k[p] <= 'Z' {
			if f, ok := s.Fields[string(k[:p])]; ok {
				return f, true
			}
		}
	}
	return nil, false
}

// skip returns the offset after the value at i.
func (d *decoder) skip(i int) int {
	i = d.ws(i)
	if i >= len(d.data) {
		d.bad = true
		return i
	}
	if end, ok := d.spanEnd(i); ok {
		return end
	}
	if c := d.data[i]; c != '{' && c != '[' {
		if c == '"' {
			_, end, _ := d.rawString(i)
			return end
		}
		for i < len(d.data) && strings.IndexByte(",}] \t\n\r", d.data[i]) < 0 {
			i++
		}
		return i
	}
	depth := 0
	data := d.data
	for i < len(data) {
		switch data[i] {
		case '"':
			// The walk has checked the strings up to the end of the
			// object being decoded; past it (%resource), a string without
			// its closing quote ends the data.
			j := i + 1
			for {
				q := bytes.IndexByte(data[j:], '"')
				if q < 0 {
					d.bad = true
					return len(data)
				}
				j += q
				n := 0
				for k := j - 1; k > i && data[k] == '\\'; k-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			i = j + 1
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	d.bad = true
	return len(data)
}
