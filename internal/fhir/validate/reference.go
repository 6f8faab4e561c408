package validate

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
	"github.com/careloop/careloop/internal/fhir/spec"
)

// Reference targets. An element typed Reference(Patient|Group) accepts only
// references to those types (spec.Element.Targets). The type of a
// reference is known from:
//
//   - a relative reference, Type/id or Type/id/_history/v;
//   - an absolute URL ending in Type/id (with an optional _history);
//   - a conditional reference, Type?search;
//   - a reference to a contained resource, #id (# alone is the containing
//     resource), once the resource's contained resources are known;
//   - urn:uuid: and urn:oid: references inside a Bundle, from the entry
//     whose fullUrl it is, once the Bundle has been walked; elsewhere they
//     are resolved later (a transaction replaces them) and not checked;
//   - Reference.type, which must be a target too, and agree with the
//     reference.
//
// Other references (logical ones with only an identifier, URLs that do not
// end in Type/id) are not checked.

// frame is a resource being walked.
type frame struct {
	start     int // offset of its '{'
	rt        string
	contained bool
	// Of a resource that is not contained: its contained resources and
	// the #id references to them, resolved when it ends.
	ids   []containedID
	local []pendingRef
	// Of a Bundle: the types of its entries by fullUrl, and the urn:
	// references to them, resolved when it ends.
	entries map[string]string
	urns    []pendingRef
	// decoded caches the resource decoded for invariants.
	decoded []decodedResource
}

type containedID struct {
	off int // of the contained resource's id value
	rt  string
}

type decodedResource struct {
	shape *fhirpath.Shape
	node  fhirpath.Node
}

// pendingRef is a reference whose type is known only at the end of a
// resource or Bundle.
type pendingRef struct {
	off     int    // of the reference string
	path    [2]int // of the Reference's path in v.arena
	element *spec.Element
	start   int // of the Reference object, to sort the issue
}

func (v *validator) pushFrame(start int, rt string, contained bool) {
	if len(v.frames) < cap(v.frames) {
		v.frames = v.frames[:len(v.frames)+1]
		f := &v.frames[len(v.frames)-1]
		*f = frame{ids: f.ids[:0], local: f.local[:0], urns: f.urns[:0], decoded: f.decoded[:0]}
	} else {
		v.frames = append(v.frames, frame{})
	}
	f := &v.frames[len(v.frames)-1]
	f.start, f.rt, f.contained = start, rt, contained
}

// popFrame resolves the references waiting for the end of the resource.
func (v *validator) popFrame() {
	f := &v.frames[len(v.frames)-1]
	for _, p := range f.local {
		id := v.stringAt(p.off)[1:]
		found := false
		for _, c := range f.ids {
			if string(v.bytesAt(c.off)) == id {
				found = true
				if p.element.Targets != nil {
					v.checkPending(p, c.rt)
				}
				break
			}
		}
		if !found {
			path := string(v.arena[p.path[0]:p.path[1]])
			v.addAt(p.start, CodeInvariant, path, fmt.Sprintf("%s: SHALL have a contained resource if a local reference is provided (ref-1): no contained resource has the id '%s'", path, clip(id)))
		}
	}
	for _, p := range f.urns {
		if rt, ok := f.entries[string(v.bytesAt(p.off))]; ok {
			v.checkPending(p, rt)
		}
	}
	clear(f.decoded)
	f.entries = nil
	v.frames = v.frames[:len(v.frames)-1]
}

// stringAt returns the text of the JSON string at off (walked already).
func (v *validator) stringAt(off int) string {
	d := decoder{data: v.data}
	s, _ := d.str(off)
	return s
}

// bytesAt returns the text of the JSON string at off (walked already),
// valid until the scanner reads the next string.
func (v *validator) bytesAt(off int) []byte {
	save := v.pos
	v.pos = off
	b := v.str(false)
	v.pos = save
	return b
}

// rootFrame returns the innermost resource that is not contained.
func (v *validator) rootFrame() *frame {
	for i := len(v.frames) - 1; i >= 0; i-- {
		if !v.frames[i].contained {
			return &v.frames[i]
		}
	}
	return nil
}

// bundleFrame returns the innermost Bundle, nil if none.
func (v *validator) bundleFrame() *frame {
	for i := len(v.frames) - 1; i >= 0; i-- {
		if v.frames[i].rt == "Bundle" {
			return &v.frames[i]
		}
	}
	return nil
}

// noteContained records a contained resource of type rt starting at start.
func (v *validator) noteContained(start int, rt string) {
	f := v.rootFrame()
	if f == nil {
		return
	}
	if off, ok := v.memberAt(start, "id"); ok && off < len(v.data) && v.data[off] == '"' {
		f.ids = append(f.ids, containedID{off, rt})
	}
}

// noteEntry records the fullUrl and resource type of the Bundle entry that
// starts at start.
func (v *validator) noteEntry(start int) {
	f := v.bundleFrame()
	if f == nil {
		return
	}
	urlOff, ok := v.memberAt(start, "fullUrl")
	if !ok || v.data[urlOff] != '"' {
		return
	}
	resOff, ok := v.memberAt(start, "resource")
	if !ok || v.data[resOff] != '{' {
		return
	}
	url := v.bytesAt(urlOff)
	if !bytes.HasPrefix(url, []byte("urn:")) {
		return // references use the URL itself, whose type they name
	}
	save := v.pos
	v.pos = resOff
	rt, _, _ := v.findResourceType()
	v.pos = save
	if rt == "" {
		return
	}
	if f.entries == nil {
		f.entries = map[string]string{}
	}
	f.entries[string(v.bytesAt(urlOff))] = rt
}

// memberAt returns the offset of the value of property name of the object
// at start, which the walk has checked.
func (v *validator) memberAt(start int, name string) (int, bool) {
	off, _ := v.membersAt(start, name, "")
	return off, off >= 0
}

// membersAt returns the offsets of the values of properties a and b (""
// for none) of the object at start, which the walk has checked; -1 for a
// property that is not there. It jumps over the objects and arrays the walk
// recorded.
func (v *validator) membersAt(start int, a, b string) (offA, offB int) {
	save, depth := v.pos, v.depth
	defer func() { v.pos, v.depth = save, depth }()
	offA, offB = -1, -1
	v.pos = start + 1
	if v.peek() == '}' {
		return
	}
	d := decoder{data: v.data, spans: v.spans}
	for {
		v.ws()
		key := v.key()
		v.colon()
		v.ws()
		switch string(key) {
		case a:
			offA = v.pos
		case b:
			offB = v.pos
		}
		if offA >= 0 && (b == "" || offB >= 0) {
			return
		}
		if end, ok := d.spanEnd(v.pos); ok {
			v.pos = end
		} else {
			v.skipValue()
		}
		if !v.next('}') {
			return
		}
	}
}

// checkReference checks the Reference object that starts at start and has
// been walked, a value of element e: its target type when e names targets,
// and that a #id reference has a contained resource (ref-1).
func (v *validator) checkReference(e *spec.Element, start int) {
	refOff, typeOff := v.membersAt(start, "reference", "type")
	hasRef, hasType := refOff >= 0, typeOff >= 0
	if e.Targets == nil {
		if hasRef && v.data[refOff] == '"' {
			if ref := v.bytesAt(refOff); len(ref) > 1 && ref[0] == '#' {
				if root := v.rootFrame(); root != nil {
					root.local = append(root.local, v.pending(refOff, start, e))
				}
			}
		}
		return
	}
	declared := ""
	if hasType && v.data[typeOff] == '"' {
		t := v.bytesAt(typeOff)
		t = bytes.TrimPrefix(t, []byte("http://hl7.org/fhir/StructureDefinition/"))
		if rt := typeNames()[string(t)]; rt != "" {
			declared = rt
			if !slices.Contains(e.Targets, rt) {
				v.addAt(start, CodeInvalid, string(v.path)+".type", fmt.Sprintf("%s.type: '%s' is not a type %s may refer to (%s)",
					v.path, rt, v.path, targetList(e.Targets)))
			}
		}
	}
	if !hasRef || v.data[refOff] != '"' {
		return
	}
	ref := v.bytesAt(refOff)
	switch {
	case len(ref) > 0 && ref[0] == '#':
		root := v.rootFrame()
		if root == nil {
			return
		}
		if len(ref) == 1 {
			v.checkTarget(e, start, refOff, v.path, root.rt)
			return
		}
		root.local = append(root.local, v.pending(refOff, start, e))
	case bytes.HasPrefix(ref, []byte("urn:uuid:")) || bytes.HasPrefix(ref, []byte("urn:oid:")):
		if b := v.bundleFrame(); b != nil {
			b.urns = append(b.urns, v.pending(refOff, start, e))
		}
	default:
		t, relative := referenceType(ref)
		if t == nil {
			return
		}
		rt := typeNames()[string(t)]
		if rt == "" {
			if relative {
				v.addAt(start, CodeInvalid, string(v.path)+".reference", fmt.Sprintf("%s.reference: '%s' does not name an R4 resource type", v.path, clip(string(ref))))
			}
			return
		}
		if declared != "" && declared != rt {
			v.addAt(start, CodeInvalid, string(v.path)+".reference", fmt.Sprintf("%s.reference: '%s' refers to %s, but %s.type says %s", v.path, clip(string(ref)), article(rt), v.path, declared))
			return
		}
		v.checkTarget(e, start, refOff, v.path, rt)
	}
}

// pending records a reference to check at the end of a resource or Bundle;
// its path is kept in the arena so that it costs no allocation.
func (v *validator) pending(refOff, start int, e *spec.Element) pendingRef {
	from := len(v.arena)
	v.arena = append(v.arena, v.path...)
	return pendingRef{off: refOff, path: [2]int{from, len(v.arena)}, element: e, start: start}
}

func (v *validator) checkPending(p pendingRef, rt string) {
	v.checkTarget(p.element, p.start, p.off, v.arena[p.path[0]:p.path[1]], rt)
}

// checkTarget reports the reference at refOff, in the Reference at start
// and path, when it refers to a resource of type rt that element e does
// not allow.
func (v *validator) checkTarget(e *spec.Element, start, refOff int, path []byte, rt string) {
	if slices.Contains(e.Targets, rt) {
		return
	}
	p := string(path)
	v.addAt(start, CodeInvalid, p+".reference", fmt.Sprintf("%s.reference: '%s' refers to %s, but %s may refer only to %s",
		p, clip(v.stringAt(refOff)), article(rt), p, targetList(e.Targets)))
}

// article returns a resource type name with its indefinite article.
func article(rt string) string {
	if strings.IndexByte("AEIOU", rt[0]) >= 0 {
		return "an " + rt
	}
	return "a " + rt
}

func targetList(targets []string) string {
	switch len(targets) {
	case 1:
		return targets[0]
	case 2:
		return targets[0] + " or " + targets[1]
	}
	return strings.Join(targets[:len(targets)-1], ", ") + " or " + targets[len(targets)-1]
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// referenceType returns the resource type a literal reference names: from
// Type/id[/_history/v] (relative), an absolute URL ending so, or
// Type?search (relative). It returns nil when the reference names no type.
func referenceType(ref []byte) (rt []byte, relative bool) {
	if i := bytes.IndexByte(ref, '?'); i >= 0 {
		if t := ref[:i]; isTypeName(t) {
			return t, true
		}
		return nil, false
	}
	if i := bytes.Index(ref, []byte("/_history/")); i >= 0 {
		ref = ref[:i]
	}
	slash := bytes.LastIndexByte(ref, '/')
	if slash <= 0 || slash == len(ref)-1 {
		return nil, false
	}
	rest := ref[:slash]
	t := rest[bytes.LastIndexByte(rest, '/')+1:]
	if !isTypeName(t) {
		return nil, false
	}
	abs := bytes.Contains(rest, []byte("://"))
	if !abs && len(t) != len(rest) {
		return nil, false // a relative reference has two segments
	}
	return t, !abs
}

// isTypeName reports whether s looks like a resource type name.
func isTypeName(s []byte) bool {
	if len(s) == 0 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s[1:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
