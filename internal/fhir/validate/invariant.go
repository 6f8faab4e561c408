package validate

import (
	"fmt"
	"strings"
	"sync"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
	"github.com/careloop/careloop/internal/fhir/spec"
)

// Invariants are the constraints of severity error of the element
// definitions (spec.Element.Constraints). Each is compiled once; those the
// FHIRPath subset of package fhirpath cannot evaluate are skipped, and
// those the walk checks itself (ele-1, ext-1, dom-2) are not evaluated
// again.
//
// An invariant is evaluated on each value of its element, with the value
// as focus. To stay cheap, the value is not decoded whole: fhirpath's Reads
// tells which of its elements the expression may read, and only those are
// decoded, from the byte offsets the walk recorded. An invariant that reads
// none of the elements present gives the same answer for every such value,
// computed once.

// structuralKeys are the invariants the walk checks without FHIRPath.
var structuralKeys = map[string]bool{
	"ele-1": true, // an element has a value or children (object)
	"ext-1": true, // an extension has a value or extensions (checkExtension)
	"dom-2": true, // no contained resources in contained resources (member)
	"ref-1": true, // a #id reference has a contained resource (popFrame)
}

// invariant is one compiled constraint of an element.
type invariant struct {
	key, human string
	expr       *fhirpath.Expr
	// fields are the indexes, among the children of the node the value is
	// walked with, of the elements the expression may read; the invariant
	// is evaluated only when one of them is present, unless always.
	fields []int
	always bool
	// emptyOK is the verdict on a value with none of the fields.
	emptyOK bool
	// resource is what it reads of %resource and %rootResource, nil if
	// nothing; resourceInFocus reports that, for a resource's own
	// invariants, the decoded focus holds all of it.
	resource        *fhirpath.Shape
	resourceInFocus bool
}

// invariantSet is the invariants evaluated on the values of one element,
// walked with the children of node.
type invariantSet struct {
	list []*invariant
	// typ is the FHIR type given to the focus: the datatype or resource
	// type, "" for a backbone element.
	typ string
	// shape is what the invariants read of the focus together.
	shape *fhirpath.Shape
	// fields maps the elements shape reads to node's children.
	fields []fieldShape
}

// elementInvariants is the invariants of an element whose values are
// walked with the children of node.
type elementInvariants struct {
	node *spec.Element
	set  *invariantSet
}

type fieldShape struct {
	child *spec.Element
	shape *fhirpath.Shape
	keys  map[string]string // JSON names of a choice element's variants by type
}

// skippedInvariant is a constraint that is not evaluated, and why.
type skippedInvariant struct {
	path, key, expr, reason string
}

type invariantTable struct {
	// byNode holds, by Seq of node, the invariants of the values walked
	// with node's children whose element is node itself: a type's root, a
	// backbone element, an element defined by a content reference.
	byNode []*invariantSet
	// byElement holds, by Seq of the element, the invariants of elements
	// of a datatype, whose values are walked with the datatype's root
	// (Organization.telecom, a ContactPoint), or of a primitive type
	// (node nil).
	byElement [][]elementInvariants

	evaluated, structural int
	skipped               []skippedInvariant
}

var invariants = sync.OnceValue(buildInvariants)

func buildInvariants() *invariantTable {
	tab := &invariantTable{
		byNode:    make([]*invariantSet, spec.ElementCount()),
		byElement: make([][]elementInvariants, spec.ElementCount()),
	}
	compiled := map[string]*fhirpath.Expr{}
	failed := map[string]string{}
	compile := func(c spec.Constraint) (*fhirpath.Expr, string) {
		if e, ok := compiled[c.Expression]; ok {
			return e, ""
		}
		if msg, ok := failed[c.Expression]; ok {
			return nil, msg
		}
		e, err := fhirpath.Compile(c.Expression)
		if err != nil {
			failed[c.Expression] = err.Error()
			return nil, err.Error()
		}
		compiled[c.Expression] = e
		return e, ""
	}
	for _, name := range spec.Types() {
		t := spec.LookupType(name)
		for _, e := range sortedElements(t) {
			cs := e.Constraints()
			if len(cs) == 0 || (e.ContentRef != "" && e.Children() == nil) {
				continue
			}
			var list []spec.Constraint
			for _, c := range cs {
				if structuralKeys[c.Key] {
					if e.ContentRef == "" {
						tab.structural++
					}
					continue
				}
				if _, msg := compile(c); msg != "" {
					if e.ContentRef == "" {
						tab.skipped = append(tab.skipped, skippedInvariant{e.Path, c.Key, c.Expression, msg})
					}
					continue
				}
				if e.ContentRef == "" {
					tab.evaluated++
				}
				list = append(list, c)
			}
			if len(list) == 0 {
				continue
			}
			switch {
			case e.Parent == nil || len(e.Children()) > 0:
				typ := ""
				if e.Parent == nil {
					typ = name
				}
				tab.byNode[e.Seq] = newInvariantSet(list, compiled, e, typ, e.Parent == nil && t.Kind == "resource")
			default:
				for _, ty := range e.Types {
					var node *spec.Element
					if dt := spec.LookupType(ty); dt != nil {
						node = dt.Root
					}
					tab.byElement[e.Seq] = append(tab.byElement[e.Seq], elementInvariants{node, newInvariantSet(list, compiled, node, ty, false)})
				}
			}
		}
	}
	return tab
}

// sortedElements returns the elements of a type in definition order.
func sortedElements(t *spec.Type) []*spec.Element {
	var out []*spec.Element
	var walk func(e *spec.Element)
	walk = func(e *spec.Element) {
		out = append(out, e)
		if e.ContentRef != "" {
			return
		}
		for _, c := range e.Children() {
			walk(c)
		}
	}
	walk(t.Root)
	return out
}

// newInvariantSet prepares invariants evaluated on values walked with the
// children of node (nil for a primitive) and given the type typ. For a
// resource's own invariants (isResource), %resource is the focus itself.
func newInvariantSet(cs []spec.Constraint, compiled map[string]*fhirpath.Expr, node *spec.Element, typ string, isResource bool) *invariantSet {
	set := &invariantSet{typ: typ, shape: &fhirpath.Shape{}}
	if typ == "BackboneElement" || typ == "Element" {
		set.typ = ""
	}
	children := map[string]*spec.Element{}
	if node != nil {
		for _, c := range node.Children() {
			children[c.Name] = c
		}
	}
	for _, c := range cs {
		expr := compiled[c.Expression]
		focus, res := expr.Reads()
		inv := &invariant{key: c.Key, human: strings.TrimSuffix(strings.TrimSpace(c.Human), "."), expr: expr, resource: res}
		mergeShape(set.shape, focus)
		inv.always = focus.All || focus.Type || node == nil
		for name := range focus.Fields {
			if ch := children[name]; ch != nil {
				inv.fields = append(inv.fields, ch.Index)
			}
		}
		if !inv.always {
			// The verdict on a value without any of the fields, unless
			// it depends on the resource.
			touched := false
			env := &fhirpath.Env{Resource: func() fhirpath.Node {
				touched = true
				return fhirpath.Node{}
			}}
			empty := map[string]any{}
			if isResource {
				empty["resourceType"] = typ
			}
			ok, known := expr.Test(env, fhirpath.Node{Value: empty, Type: set.typ})
			inv.emptyOK = ok || !known
			inv.always = touched
		}
		set.list = append(set.list, inv)
	}
	for name, s := range set.shape.Fields {
		if ch := children[name]; ch != nil {
			f := fieldShape{child: ch, shape: s}
			if ch.Choice {
				f.keys = map[string]string{}
				for _, t := range ch.Types {
					f.keys[t] = ch.Name + upperFirst(t)
				}
			}
			set.fields = append(set.fields, f)
		}
	}
	if isResource {
		for _, inv := range set.list {
			inv.resourceInFocus = inv.resource != nil && covers(set.shape, inv.resource)
		}
	}
	return set
}

// covers reports whether a value decoded following a holds all that b
// reads.
func covers(a, b *fhirpath.Shape) bool {
	if a.All {
		return true
	}
	if b.All || (b.Type && !a.Type) {
		return false
	}
	for name, f := range b.Fields {
		g := a.Fields[name]
		if g == nil || !covers(g, f) {
			return false
		}
	}
	return true
}

// mergeShape adds what src reads to dst.
func mergeShape(dst, src *fhirpath.Shape) {
	if dst.All {
		return
	}
	if src.All {
		dst.All, dst.Fields = true, nil
		return
	}
	dst.Type = dst.Type || src.Type
	for name, s := range src.Fields {
		d := dst.Fields[name]
		if d == nil {
			if dst.Fields == nil {
				dst.Fields = map[string]*fhirpath.Shape{}
			}
			d = &fhirpath.Shape{}
			dst.Fields[name] = d
		}
		mergeShape(d, s)
	}
}

// lookupInvariants returns the invariants of an object walked with node's
// children, whose element is owner (nil when it is node itself).
func lookupInvariants(node, owner *spec.Element) (own, elem *invariantSet) {
	tab := invariants()
	if node != nil {
		own = tab.byNode[node.Seq]
	}
	if owner != nil {
		for _, ei := range tab.byElement[owner.Seq] {
			if ei.node == node {
				elem = ei.set
			}
		}
	}
	return own, elem
}

// checkInvariants evaluates the invariants of the object that starts at
// start and has just been walked with node's children (counted from base);
// rt is its resource type when it is a resource.
func (v *validator) checkInvariants(set *invariantSet, node *spec.Element, start, base int, rt string) {
	var proj map[string]any
	for _, inv := range set.list {
		run := inv.always
		for _, i := range inv.fields {
			if v.counts[base+i].n > 0 {
				run = true
				break
			}
		}
		if !run {
			if !inv.emptyOK {
				v.invariantFailed(start, inv)
			}
			continue
		}
		if proj == nil {
			proj = v.project(set, node, start, base, rt)
		}
		focus := fhirpath.Node{Value: proj, Type: set.typ, Path: set.typ}
		ok, known := v.test(inv, focus, rt != "")
		if known && !ok {
			v.invariantFailed(start, inv)
		}
		if verifyProjection {
			v.verify(inv, set, start, rt, ok, known)
		}
	}
	if proj != nil {
		v.values.release()
	}
}

// checkPrimitiveInvariants evaluates the invariants of a string value,
// which starts at start, has been walked and has the text s (JSON strings
// are the only primitives with invariants: Narrative.div).
func (v *validator) checkPrimitiveInvariants(set *invariantSet, start int, s []byte) {
	for _, inv := range set.list {
		if ok, known := v.test(inv, fhirpath.Node{Value: text(s), Type: set.typ}, false); known && !ok {
			v.invariantFailed(start, inv)
		}
	}
}

func (v *validator) invariantFailed(start int, inv *invariant) {
	v.add(start, CodeInvariant, fmt.Sprintf("%s: %s (%s)", v.path, inv.human, inv.key))
}

// project decodes what set reads of the object at start, from the offsets
// of its properties recorded in the counts.
func (v *validator) project(set *invariantSet, node *spec.Element, start, base int, rt string) map[string]any {
	d := decoder{data: v.data, pool: &v.values, spans: v.spans}
	if set.shape.All {
		m, _ := d.value(start, nil)
		proj, _ := m.(map[string]any)
		if proj == nil {
			proj = v.values.getMap()
		}
		return proj
	}
	proj := v.values.getMap()
	if rt != "" {
		proj["resourceType"] = rt
	}
	for _, f := range set.fields {
		s := v.counts[base+f.child.Index]
		if s.n == 0 {
			continue
		}
		key := f.child.Name
		if f.keys != nil {
			key = f.keys[s.typ]
		}
		sh := f.shape
		if sh.All {
			sh = nil
		}
		if val, _ := d.value(int(s.off), sh); val != nil {
			proj[key] = val
		}
	}
	return proj
}

// verifyProjection makes tests check every verdict on the decoded parts of
// a value against the verdict on the whole value and whole resources.
var verifyProjection bool

// wholeShape decodes everything.
var wholeShape = &fhirpath.Shape{All: true}

func (v *validator) verify(inv *invariant, set *invariantSet, start int, rt string, ok, known bool) {
	d := decoder{data: v.data}
	m, _ := d.value(start, nil)
	focus := fhirpath.Node{Value: m, Type: set.typ, Path: set.typ}
	v.envInv, v.envFocus, v.envIsRes, v.envWhole = inv, focus, rt != "", true
	ok2, known2 := inv.expr.Test(v.env, focus)
	v.envInv, v.envFocus, v.envWhole = nil, fhirpath.Node{}, false
	if ok != ok2 || known != known2 {
		panic(fmt.Sprintf("%s %s at %s: %v %v on the decoded parts, %v %v on the whole value", inv.key, inv.expr, v.path, ok, known, ok2, known2))
	}
}

// test evaluates one invariant; isResource reports that the focus is a
// resource.
func (v *validator) test(inv *invariant, focus fhirpath.Node, isResource bool) (bool, bool) {
	v.envInv, v.envFocus, v.envIsRes = inv, focus, isResource
	ok, known := inv.expr.Test(v.env, focus)
	v.envInv, v.envFocus = nil, fhirpath.Node{}
	return ok, known
}

// envResource gives %resource to the invariant being evaluated.
func (v *validator) envResource() fhirpath.Node {
	if v.envIsRes && (v.envInv.resourceInFocus || v.envWhole) {
		return v.envFocus
	}
	if len(v.frames) == 0 {
		return fhirpath.Node{}
	}
	return v.decodeResource(len(v.frames) - 1)
}

// envRootResource gives %rootResource: the resource that contains the
// current one when it is contained.
func (v *validator) envRootResource() fhirpath.Node {
	i := len(v.frames) - 1
	for i > 0 && v.frames[i].contained {
		i--
	}
	if i < 0 {
		return fhirpath.Node{}
	}
	if i == len(v.frames)-1 && v.envIsRes && (v.envInv.resourceInFocus || v.envWhole) {
		return v.envFocus
	}
	return v.decodeResource(i)
}

// decodeResource decodes what the current invariant reads of the resource
// of frame i, once per frame and shape.
func (v *validator) decodeResource(i int) fhirpath.Node {
	f := &v.frames[i]
	shape := v.envInv.resource
	if shape == nil || v.envWhole {
		shape = wholeShape
	}
	for _, c := range f.decoded {
		if c.shape == shape {
			return c.node
		}
	}
	d := decoder{data: v.data, spans: v.spans}
	sh := shape
	if sh.All {
		sh = nil
	}
	m, _ := d.value(f.start, sh)
	n := fhirpath.Node{Value: m, Type: f.rt, Path: f.rt}
	if m == nil {
		n = fhirpath.Node{}
	}
	f.decoded = append(f.decoded, decodedResource{shape, n})
	return n
}
