// Package validate checks the JSON of FHIR R4 resources against the
// structure of the specification, as package spec describes it.
//
// Resources of the first-class types (spec.FirstClass) and Bundles are
// checked element by element: JSON syntax, unknown elements, the JSON type
// and the text of every value (primitives against their regex), cardinality,
// required value-set bindings, choice elements, extensions, and contained
// and bundled resources, recursively, the target types of references, and
// the invariants of the element definitions (FHIRPath constraints such as
// obs-6 or pat-1) that package fhirpath can evaluate. Other R4 resource
// types get minimal checks: syntax, resourceType and id.
//
// The validator walks the bytes once with its own JSON scanner, without
// decoding into Go values, so numbers keep their exact text and the issues
// carry the byte position they are sorted by. For invariants it decodes only
// the elements their expressions read (see invariant.go).
package validate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
	"github.com/careloop/careloop/internal/fhir/spec"
)

// Issue is one problem found in a resource, in the terms of a FHIR
// OperationOutcome issue.
type Issue struct {
	// Severity is "error" or "warning".
	Severity string
	// Code is the OperationOutcome issue type: "structure", "required",
	// "value", "code-invalid", "invalid", "invariant" or "not-supported".
	Code string
	// Expression is the FHIRPath location of the element at fault, such as
	// "Patient.name[0].given[1]" or "Observation.valueQuantity.value";
	// "resourceType" for a problem with the resource type; empty for a JSON
	// syntax error, whose Message gives the 0-based byte offset of the
	// offending byte ("invalid JSON at byte offset 38: ...").
	Expression string
	// Message is a sentence a person can act on.
	Message string
}

// Issue type codes used by the validator.
const (
	CodeStructure    = "structure"
	CodeRequired     = "required"
	CodeValue        = "value"
	CodeInvalidCode  = "code-invalid"
	CodeInvalid      = "invalid"
	CodeInvariant    = "invariant"
	CodeNotSupported = "not-supported"
)

// MaxIssues is the largest number of issues Resource reports.
const MaxIssues = 100

// maxDepth bounds the nesting of JSON arrays and objects.
const maxDepth = 256

// HasErrors reports whether any issue has severity "error".
func HasErrors(issues []Issue) bool {
	for _, is := range issues {
		if is.Severity == "error" {
			return true
		}
	}
	return false
}

// Resource validates the JSON of one resource. resourceType is the type the
// request names (the URL's type); "" takes the type from the JSON. It
// returns every issue found, at most MaxIssues, sorted by their position in
// raw, or nil when the resource is valid. A JSON syntax error is reported
// alone, with its byte offset. Resource is safe for concurrent use.
func Resource(resourceType string, raw []byte) []Issue {
	v := pool.Get().(*validator)
	defer pool.Put(v)
	v.reset(raw)
	if err := v.run(resourceType); err != nil {
		return []Issue{syntaxIssue(err)}
	}
	if len(v.issues) == 0 {
		return nil
	}
	slices.SortStableFunc(v.issues, func(a, b located) int { return cmp.Compare(a.off, b.off) })
	n := min(len(v.issues), MaxIssues)
	out := make([]Issue, n)
	for i := range out {
		out[i] = v.issues[i].Issue
	}
	return out
}

// syntaxError stops the walk at malformed JSON.
type syntaxError struct {
	off int // of the offending byte, or the length of the input
	msg string
}

func syntaxIssue(err *syntaxError) Issue {
	return Issue{
		Severity: "error",
		Code:     CodeStructure,
		Message:  fmt.Sprintf("invalid JSON at byte offset %d: %s", err.off, err.msg),
	}
}

type located struct {
	off int
	Issue
}

// slot counts the properties an object has for one child element.
type slot struct {
	n, ext int32
	off    int32  // offset of the first value
	typ    string // type of the first value, to tell choice variants apart
}

type validator struct {
	data      []byte
	pos       int
	depth     int
	contained int // nesting of contained resources
	path      []byte
	counts    []slot
	issues    []located
	buf       []byte // unescaped string values
	keyBuf    []byte // unescaped property names

	frames []frame   // resources being walked, innermost last
	arena  []byte    // paths of pending references
	values valuePool // of the values decoded for invariants
	spans  []span    // of the objects and arrays walked, by start

	// The environment of the invariant being evaluated.
	env      *fhirpath.Env
	envInv   *invariant
	envFocus fhirpath.Node
	envIsRes bool
	envWhole bool // verifying: %resource is decoded whole
}

var pool = sync.Pool{New: func() any {
	v := new(validator)
	v.env = &fhirpath.Env{Resource: v.envResource, RootResource: v.envRootResource}
	return v
}}

func (v *validator) reset(raw []byte) {
	v.data, v.pos, v.depth, v.contained = raw, 0, 0, 0
	v.path, v.counts, v.issues = v.path[:0], v.counts[:0], v.issues[:0]
	for i := range v.frames {
		clear(v.frames[i].decoded)
		v.frames[i].entries = nil
	}
	v.frames, v.arena, v.spans = v.frames[:0], v.arena[:0], v.spans[:0]
	if cap(v.spans) > 1<<20 {
		v.spans = nil
	}
	if cap(v.arena) > 64<<10 {
		v.arena = nil
	}
	// Do not keep the buffers of an unusual document in the pool.
	if cap(v.issues) > 4*MaxIssues {
		v.issues = nil
	}
	if cap(v.buf) > 64<<10 {
		v.buf = nil
	}
}

func (v *validator) run(resourceType string) (err *syntaxError) {
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*syntaxError)
			if !ok {
				panic(r)
			}
			err = se
		}
	}()
	v.top(resourceType)
	return nil
}

func (v *validator) fail(msg string) {
	panic(&syntaxError{off: v.pos, msg: msg})
}

// add records an issue at byte offset off about the current path.
func (v *validator) add(off int, code, msg string) {
	v.addAt(off, code, string(v.path), msg)
}

func (v *validator) addAt(off int, code, expr, msg string) {
	if len(v.issues) >= 10*MaxIssues {
		return
	}
	v.issues = append(v.issues, located{off, Issue{Severity: "error", Code: code, Expression: expr, Message: msg}})
}

// pushName appends ".name" to the path and returns the length to restore.
func (v *validator) pushName(name []byte) int {
	n := len(v.path)
	v.path = append(v.path, '.')
	v.path = append(v.path, name...)
	return n
}

func (v *validator) pushIndex(i int) int {
	n := len(v.path)
	v.path = append(v.path, '[')
	v.path = strconv.AppendInt(v.path, int64(i), 10)
	v.path = append(v.path, ']')
	return n
}

// Types resolved once.
var (
	elementRoot   = sync.OnceValue(func() *spec.Element { return spec.LookupType("Element").Root })
	extensionRoot = sync.OnceValue(func() *spec.Element { return spec.LookupType("Extension").Root })
	typeNames     = sync.OnceValue(func() map[string]string {
		m := map[string]string{}
		for _, t := range spec.ResourceTypes() {
			m[t] = t
		}
		return m
	})
	idPrimitive        = sync.OnceValue(func() *spec.Primitive { return spec.LookupPrimitive("id") })
	bundleEntryElement = sync.OnceValue(func() *spec.Element { return spec.Elements("Bundle")["entry"] })
)

func (v *validator) top(want string) {
	v.ws()
	if v.pos >= len(v.data) {
		v.fail("unexpected end of JSON input")
	}
	if v.data[v.pos] != '{' {
		v.skipValue()
		v.end()
		v.addAt(0, CodeStructure, "", "a resource must be a JSON object")
		return
	}
	if want != "" && typeNames()[want] == "" {
		v.skipValue()
		v.end()
		v.addAt(0, CodeNotSupported, "resourceType", fmt.Sprintf("%q is not an R4 resource type", want))
		return
	}
	rt, found, rtOff := v.findResourceType()
	switch {
	case !found && want == "":
		v.skipValue()
		v.end()
		v.addAt(0, CodeRequired, "resourceType", "resourceType is required")
		return
	case !found:
		v.addAt(v.pos, CodeRequired, "resourceType", "resourceType is required")
		rt = want
	case rt == "":
		v.skipValue()
		v.end()
		v.addAt(rtOff, CodeNotSupported, "resourceType", fmt.Sprintf("resourceType %s is not an R4 resource type", v.quoteValueAt(rtOff)))
		return
	case want != "" && rt != want:
		v.addAt(rtOff, CodeInvalid, "resourceType", fmt.Sprintf("resourceType %q does not match the type %q of the request", rt, want))
	}
	v.path = append(v.path[:0], rt...)
	v.resourceBody(rt, false)
	v.end()
}

// end checks that only white space follows the top-level value.
func (v *validator) end() {
	v.ws()
	if v.pos < len(v.data) {
		v.fail(fmt.Sprintf("invalid character %s after top-level value", quoteByte(v.data[v.pos])))
	}
}

// resourceBody walks the object at v.pos as a resource of type rt, whose
// resourceType has been checked.
func (v *validator) resourceBody(rt string, contained bool) {
	if t := spec.LookupType(rt); t != nil {
		v.pushFrame(v.pos, rt, contained)
		v.object(t.Root, rt, nil)
		v.popFrame()
		return
	}
	v.minimal(rt)
}

// minimal checks a resource of a type without structure tables: its id.
func (v *validator) minimal(rt string) {
	sp := v.openSpan()
	defer v.closeSpan(sp)
	v.enter()
	v.pos++ // '{'
	v.ws()
	if v.peek() == '}' {
		v.pos++
		v.depth--
		return
	}
	for {
		v.ws()
		key := v.key()
		v.colon()
		if string(key) == "id" {
			mark := v.pushName(key)
			v.primitive(spec.Child{Primitive: idPrimitive()}, nil)
			v.path = v.path[:mark]
		} else if b := v.peek(); b == '{' || b == '[' {
			// Record where the value ends, for the invariants of a Bundle
			// that holds the resource.
			vs := v.openSpan()
			v.skipValue()
			v.closeSpan(vs)
		} else {
			v.skipValue()
		}
		if !v.next('}') {
			break
		}
	}
	v.depth--
}

// resourceValue walks the object at v.pos as a resource in an element of
// type typ ("Resource" for any type), such as contained or entry.resource.
func (v *validator) resourceValue(typ string, isContained bool) {
	start := v.pos
	rt, found, rtOff := v.findResourceType()
	switch {
	case !found:
		v.add(start, CodeRequired, string(v.path)+".resourceType is required")
		v.skipValue()
		return
	case rt == "":
		v.add(rtOff, CodeNotSupported, fmt.Sprintf("resourceType %s is not an R4 resource type", v.quoteValueAt(rtOff)))
		v.skipValue()
		return
	case typ != "Resource" && rt != typ:
		v.add(rtOff, CodeInvalid, fmt.Sprintf("%s must be a resource of type %s, not %s", v.path, typ, rt))
	}
	if isContained {
		v.noteContained(start, rt)
		v.contained++
		defer func() { v.contained-- }()
	}
	v.resourceBody(rt, isContained)
}

// findResourceType returns the resourceType of the object at v.pos without
// moving: the canonical type name ("" if the value is not a known type),
// whether the property is present, and the offset of its value.
func (v *validator) findResourceType() (string, bool, int) {
	save, depth := v.pos, v.depth
	defer func() { v.pos, v.depth = save, depth }()
	v.pos++
	v.ws()
	if v.peek() == '}' {
		return "", false, 0
	}
	for {
		v.ws()
		key := v.key()
		v.colon()
		if string(key) == "resourceType" {
			v.ws()
			off := v.pos
			if v.peek() != '"' {
				v.skipValue()
				return "", true, off
			}
			s := v.str(false)
			return typeNames()[string(s)], true, off
		}
		v.skipValue()
		if !v.next('}') {
			return "", false, 0
		}
	}
}

// quoteValueAt renders the JSON value at off for a message.
func (v *validator) quoteValueAt(off int) string {
	save, depth := v.pos, v.depth
	defer func() { v.pos, v.depth = save, depth }()
	v.pos = off
	v.skipValue()
	s := string(v.data[off:v.pos])
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// object walks the object at v.pos, whose properties node describes; rt is
// the resource type when the object is a resource. owner is the element of
// the value when node is the root of its datatype, nil otherwise.
func (v *validator) object(node *spec.Element, rt string, owner *spec.Element) {
	start := v.pos
	sp := v.openSpan()
	v.enter()
	v.pos++ // '{'
	children := node.Children()
	base := len(v.counts)
	v.counts = slices.Grow(v.counts, len(children))[:base+len(children)]
	clear(v.counts[base:])
	members, ids := 0, 0
	v.ws()
	if v.peek() == '}' {
		v.pos++
	} else {
		for {
			v.ws()
			keyOff := v.pos
			key := v.key()
			v.colon()
			members++
			switch {
			case rt != "" && string(key) == "resourceType":
				v.skipValue() // checked by findResourceType
			case string(key) == "id":
				ids++
				fallthrough
			default:
				v.member(node, key, keyOff, base)
			}
			if !v.next('}') {
				break
			}
		}
	}
	v.depth--
	v.closeSpan(sp)

	if rt == "" && members == ids {
		if members == 0 {
			v.add(start, CodeInvariant, string(v.path)+" must not be an empty object (ele-1)")
		} else if node != elementRoot() { // the id of a primitive with a value is fine
			v.add(start, CodeInvariant, string(v.path)+" must have a value or children other than id (ele-1)")
		}
	}
	for _, r := range node.Required() {
		if s := v.counts[base+r.Index]; s.n == 0 && s.ext == 0 {
			name := r.Name
			if r.Choice {
				name += "[x]"
			}
			expr := string(v.path) + "." + name
			v.addAt(start, CodeRequired, expr, expr+" is required")
		}
	}
	if node == extensionRoot() {
		v.checkExtension(start, children, base)
	}
	if own, elem := lookupInvariants(node, owner); own != nil || elem != nil {
		if own != nil {
			v.checkInvariants(own, node, start, base, rt)
		}
		if elem != nil {
			v.checkInvariants(elem, node, start, base, "")
		}
	}
	v.counts = v.counts[:base]
}

// checkExtension applies ext-1: an extension has a value or extensions,
// not both.
func (v *validator) checkExtension(start int, children []*spec.Element, base int) {
	var hasValue, hasExt bool
	for _, c := range children {
		s := v.counts[base+c.Index]
		if s.n == 0 && s.ext == 0 {
			continue
		}
		switch {
		case c.Choice:
			hasValue = true
		case c.Name == "extension":
			hasExt = true
		}
	}
	if hasValue == hasExt {
		v.add(start, CodeInvariant, string(v.path)+" must have either extensions or a value[x], not both (ext-1)")
	}
}

// member walks the value of property key (at keyOff) of an object whose
// properties node describes.
func (v *validator) member(node *spec.Element, key []byte, keyOff, base int) {
	name, ext := key, false
	if len(key) > 1 && key[0] == '_' {
		name, ext = key[1:], true
	}
	c, ok := node.Lookup(string(name))
	if !ok || (ext && c.Primitive == nil) {
		v.addAt(keyOff, CodeStructure, string(v.path)+"."+string(key), fmt.Sprintf("unknown element '%s' at %s", key, v.path))
		v.skipValue()
		return
	}
	mark := v.pushName(name)
	defer func() { v.path = v.path[:mark] }()
	s := &v.counts[base+c.Element.Index]
	if ext {
		s.ext++
		if s.ext > 1 {
			v.add(keyOff, CodeStructure, fmt.Sprintf("property '%s' appears more than once at %s", key, v.path[:mark]))
		}
	} else {
		s.n++
		switch {
		case s.n == 1:
			s.typ = c.Type
		case s.typ == c.Type:
			v.add(keyOff, CodeStructure, fmt.Sprintf("property '%s' appears more than once at %s", key, v.path[:mark]))
		default:
			v.add(keyOff, CodeStructure, fmt.Sprintf("%s.%s[x] has more than one value: %s%s and %s", v.path[:mark], c.Element.Name, c.Element.Name, upperFirst(s.typ), key))
		}
	}
	if c.Element.Name == "contained" && v.contained > 0 && !ext {
		v.add(keyOff, CodeInvariant, string(v.path)+": a contained resource must not contain resources (dom-2)")
	}
	e := c.Element
	b := v.peek()
	if !ext && s.n == 1 {
		s.off = int32(v.pos)
	}
	switch {
	case b == '[':
		if !e.IsArray() {
			v.add(v.pos, CodeStructure, fmt.Sprintf("%s must not be an array (max cardinality 1)", v.path))
		}
		v.array(c, ext)
	case e.IsArray() && b != 'n':
		v.add(v.pos, CodeStructure, fmt.Sprintf("%s must be an array (max cardinality %s)", v.path, maxString(e.Max)))
		v.item(c, ext, false)
	default:
		v.item(c, ext, false)
	}
}

func maxString(m int) string {
	if m < 0 {
		return "*"
	}
	return strconv.Itoa(m)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// array walks the array at v.pos as the values of an element.
func (v *validator) array(c spec.Child, ext bool) {
	start := v.pos
	sp := v.openSpan()
	defer v.closeSpan(sp)
	v.enter()
	v.pos++
	v.ws()
	if v.peek() == ']' {
		v.pos++
		v.depth--
		v.add(start, CodeStructure, string(v.path)+" must not be an empty array")
		return
	}
	n := 0
	for {
		v.ws()
		mark := v.pushIndex(n)
		v.item(c, ext, true)
		v.path = v.path[:mark]
		n++
		if !v.next(']') {
			break
		}
	}
	v.depth--
	if m := c.Element.Max; m > 1 && n > m {
		v.add(start, CodeStructure, fmt.Sprintf("%s has %d values, at most %d are allowed", v.path, n, m))
	}
}

// item walks one value of an element.
func (v *validator) item(c spec.Child, ext, inArray bool) {
	start := v.pos
	b := v.peek()
	if b == 'n' {
		v.literal("null")
		if !inArray || (!ext && c.Primitive == nil) {
			v.add(start, CodeStructure, string(v.path)+" must not be null")
		}
		return
	}
	if ext {
		if b != '{' {
			v.add(start, CodeStructure, fmt.Sprintf("%s: the '_' property of a primitive must be an object with id and extension, not %s", v.path, jsonKind(b)))
			v.skipValue()
			return
		}
		v.object(elementRoot(), "", nil)
		return
	}
	switch {
	case c.Primitive != nil:
		text := v.primitive(c, c.Element)
		if text != nil && len(c.Element.Constraints()) > 0 {
			if _, set := lookupInvariants(nil, c.Element); set != nil {
				v.checkPrimitiveInvariants(set, start, text)
			}
		}
	case c.Node != nil:
		if b != '{' {
			v.add(start, CodeStructure, fmt.Sprintf("%s must be a JSON object (%s), not %s", v.path, typeLabel(c.Type), jsonKind(b)))
			v.skipValue()
			return
		}
		var owner *spec.Element
		if c.Node != c.Element {
			owner = c.Element
		}
		v.object(c.Node, "", owner)
		e := c.Element
		if e.Binding != nil && (c.Type == "CodeableConcept" || c.Type == "Coding") {
			v.checkConceptBinding(e, c.Type, start)
		}
		if c.Type == "Reference" {
			v.checkReference(e, start)
		}
		if e == bundleEntryElement() {
			v.noteEntry(start)
		}
	default: // a resource
		if b != '{' {
			v.add(start, CodeStructure, fmt.Sprintf("%s must be a resource (JSON object), not %s", v.path, jsonKind(b)))
			v.skipValue()
			return
		}
		v.resourceValue(c.Type, c.Element.Name == "contained")
	}
}

func typeLabel(t string) string {
	if t == "" || t == "BackboneElement" || t == "Element" {
		return "an element"
	}
	return t
}

func jsonKind(b byte) string {
	switch b {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// checkConceptBinding checks a CodeableConcept or Coding value, which starts
// at start and ends at v.pos, against the required binding of e.
func (v *validator) checkConceptBinding(e *spec.Element, typ string, start int) {
	type coding struct{ System, Code string }
	var codings []coding
	if typ == "Coding" {
		var c coding
		if json.Unmarshal(v.data[start:v.pos], &c) != nil {
			return // wrong types, reported by the walk
		}
		codings = []coding{c}
	} else {
		var cc struct{ Coding []coding }
		if json.Unmarshal(v.data[start:v.pos], &cc) != nil {
			return
		}
		codings = cc.Coding
	}
	found, reported := false, false
	for i, c := range codings {
		if !slices.Contains(e.BindingSystems, c.System) {
			continue
		}
		if e.AllowsCode(c.Code) {
			found = true
			continue
		}
		expr := string(v.path) + ".code"
		if typ == "CodeableConcept" {
			expr = fmt.Sprintf("%s.coding[%d].code", v.path, i)
		}
		v.addAt(start, CodeInvalidCode, expr, fmt.Sprintf("'%s' is not a valid code for %s (required binding): expected one of %s", c.Code, v.path, codeList(e.Binding)))
		reported = true
	}
	if !found && !reported {
		v.add(start, CodeInvalidCode, fmt.Sprintf("%s has no coding from the value set %s (required binding): expected a code of %s, one of %s",
			v.path, e.BindingURL, strings.Join(e.BindingSystems, " or "), codeList(e.Binding)))
	}
}

func codeList(codes []string) string {
	const show = 12
	if len(codes) <= show {
		return strings.Join(codes, ", ")
	}
	return strings.Join(codes[:show], ", ") + fmt.Sprintf(", ... (%d codes)", len(codes))
}

// primitive walks a primitive value. e, when not nil, is the element whose
// required binding applies. It returns the text of a valid JSON string,
// valid until the next string is read, and nil otherwise.
func (v *validator) primitive(c spec.Child, e *spec.Element) []byte {
	p := c.Primitive
	start := v.pos
	var text []byte
	switch b := v.peek(); b {
	case '"':
		text = v.str(true)
		if p.JSON != "string" {
			v.add(start, CodeStructure, fmt.Sprintf("%s must be a JSON %s (%s), not a string", v.path, p.JSON, p.Name))
			return nil
		}
	case 't', 'f':
		if b == 't' {
			v.literal("true")
		} else {
			v.literal("false")
		}
		if p.JSON != "boolean" {
			v.add(start, CodeStructure, fmt.Sprintf("%s must be a JSON %s (%s), not a boolean", v.path, p.JSON, p.Name))
		}
		return nil
	case '{', '[':
		v.skipValue()
		v.add(start, CodeStructure, fmt.Sprintf("%s must be a JSON %s (%s), not %s", v.path, p.JSON, p.Name, jsonKind(b)))
		return nil
	default:
		text = v.number()
		if p.JSON != "number" {
			v.add(start, CodeStructure, fmt.Sprintf("%s must be a JSON %s (%s), not a number", v.path, p.JSON, p.Name))
			return nil
		}
	}
	if len(text) == 0 {
		v.add(start, CodeValue, fmt.Sprintf("%s must not be an empty string", v.path))
		return nil
	}
	if msg := checkPrimitive(p, text); msg != "" {
		v.add(start, CodeValue, fmt.Sprintf("%s: %s", v.path, msg))
		return nil
	}
	if e != nil && e.Binding != nil && !e.AllowsCode(string(text)) {
		v.add(start, CodeInvalidCode, fmt.Sprintf("'%s' is not a valid code for %s (required binding): expected one of %s", text, v.path, codeList(e.Binding)))
		return nil
	}
	if p.JSON != "string" {
		return nil
	}
	return text
}
