package fhirpath

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// An evaluator is one compiled step. eval applies it to the focus
// collection and appends its output to dst, returning the extended slice.
// It must not modify focus, and must not retain focus or dst.
type evaluator interface {
	eval(c *evalCtx, focus, dst []Node) []Node
}

// evalCtx is the per-call state of an evaluation: the root resource, the
// current $this (the item a where, select, exists or all criterion is
// evaluated on, or the focus of the whole expression), the environment of
// EvalEnv and Test, and a free list of scratch collections, reused across
// calls through ctxPool.
type evalCtx struct {
	root  Node
	focus [1]Node
	this  []Node
	free  [][]Node

	env              *Env
	resource, rootRs Node
	haveRes, haveRR  bool
}

var ctxPool = sync.Pool{New: func() any { return new(evalCtx) }}

func (c *evalCtx) get() []Node {
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free = c.free[:n-1]
		return b
	}
	return make([]Node, 0, 8)
}

// put returns b to the free list, cleared so that it keeps no resource
// alive.
func (c *evalCtx) put(b []Node) {
	clear(b)
	c.free = append(c.free, b[:0])
}

// one returns a scratch collection holding only n.
func (c *evalCtx) one(n Node) []Node { return append(c.get(), n) }

func boolNode(b bool) Node { return Node{Value: b, Type: "boolean"} }

// appendValue appends the JSON value v, flattening arrays and skipping nulls.
func appendValue(dst []Node, v any, typ, path string) []Node {
	switch x := v.(type) {
	case nil:
	case []any:
		for _, e := range x {
			if e != nil {
				dst = append(dst, Node{Value: e, Type: typ, Path: path})
			}
		}
	default:
		dst = append(dst, Node{Value: v, Type: typ, Path: path})
	}
	return dst
}

// chain applies its parts in turn, each to the output of the previous one.
type chain struct {
	parts []evaluator
	// stop[i] is true when the parts after i all give nothing for an empty
	// input, so that an empty output of part i ends the evaluation.
	stop []bool
}

func (e *chain) eval(c *evalCtx, focus, dst []Node) []Node {
	cur := focus
	var owned []Node
	last := len(e.parts) - 1
	for i, p := range e.parts[:last] {
		next := p.eval(c, cur, c.get())
		if owned != nil {
			c.put(owned)
		}
		owned, cur = next, next
		if len(cur) == 0 && e.stop[i] {
			c.put(owned)
			return dst
		}
	}
	dst = e.parts[last].eval(c, cur, dst)
	if owned != nil {
		c.put(owned)
	}
	return dst
}

// seq returns an evaluator applying a then b.
func seq(a, b evaluator) evaluator {
	if a == nil {
		return b
	}
	var parts []evaluator
	if ca, ok := a.(*chain); ok {
		parts = append(parts, ca.parts...)
	} else {
		parts = append(parts, a)
	}
	if cb, ok := b.(*chain); ok {
		parts = append(parts, cb.parts...)
	} else {
		parts = append(parts, b)
	}
	stop := make([]bool, len(parts))
	preserving := true
	for i := len(parts) - 1; i >= 0; i-- {
		stop[i] = preserving
		preserving = preserving && emptyIn(parts[i])
	}
	return &chain{parts: parts, stop: stop}
}

// emptyIn reports whether e gives nothing for an empty input. Functions
// such as exists(), empty(), count() and not(), literals and operators
// do not.
func emptyIn(e evaluator) bool {
	switch x := e.(type) {
	case *member, *typeRoot, *where, *selectFn, *indexer, *skipTake, *typeFilter,
		*typeTest, resolveFn, *extensionFn, *strFn, thisEval, emptyLit, htmlFn:
		return true
	case *collFn:
		switch x.name {
		case "first", "last", "tail", "single", "distinct", "children", "descendants", "toString":
			return true
		}
	case *chain:
		for _, p := range x.parts {
			if !emptyIn(p) {
				return false
			}
		}
		return true
	}
	return false
}

// typeRoot is a leading type name such as Observation or Resource: it keeps
// the focus items that are of that type.
type typeRoot struct{ name string }

func (e *typeRoot) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		if n.Type == e.name || typeMatches(n, e.name) {
			dst = append(dst, n)
		}
	}
	return dst
}

// member navigates to a child element by name, choice elements included.
type member struct {
	name string
	path string
}

func (e *member) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		m, ok := n.Value.(map[string]any)
		if !ok {
			continue
		}
		if v, ok := m[e.name]; ok {
			dst = appendValue(dst, v, "", e.path)
			continue
		}
		dst = e.choice(m, dst)
	}
	return dst
}

// choice finds name[x]: a key made of the name and a type suffix starting
// with an upper-case letter, such as valueQuantity. Valid JSON has at most
// one; should there be several, they are taken in key order.
func (e *member) choice(m map[string]any, dst []Node) []Node {
	name := e.name
	var keys []string
	var first string
	for k := range m {
		if len(k) > len(name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' && k[:len(name)] == name {
			if _, ok := choiceTypes[k[len(name):]]; !ok {
				continue
			}
			if first == "" {
				first = k
			} else {
				keys = append(keys, k)
			}
		}
	}
	if first == "" {
		return dst
	}
	if keys == nil {
		return appendValue(dst, m[first], choiceTypes[first[len(name):]], e.path)
	}
	keys = append(keys, first)
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendValue(dst, m[k], choiceTypes[k[len(name):]], e.path)
	}
	return dst
}

type literal struct{ node Node }

func (e *literal) eval(c *evalCtx, focus, dst []Node) []Node { return append(dst, e.node) }

type emptyLit struct{}

func (emptyLit) eval(c *evalCtx, focus, dst []Node) []Node { return dst }

// thisEval is $this: the focus itself.
type thisEval struct{}

func (thisEval) eval(c *evalCtx, focus, dst []Node) []Node { return append(dst, focus...) }

// rootEval is %resource, or %rootResource when root is set: the resource
// being evaluated, from the Env when there is one.
type rootEval struct{ root bool }

func (e rootEval) eval(c *evalCtx, focus, dst []Node) []Node {
	n := c.root
	if c.env != nil {
		n = c.envResource(e.root)
	}
	if n.Value == nil {
		return dst
	}
	return append(dst, n)
}

// envResource returns %resource or %rootResource from the Env, calling its
// functions at most once per evaluation.
func (c *evalCtx) envResource(root bool) Node {
	if root && c.env.RootResource != nil {
		if !c.haveRR {
			c.rootRs, c.haveRR = c.env.RootResource(), true
		}
		return c.rootRs
	}
	if !c.haveRes {
		if c.env.Resource != nil {
			c.resource = c.env.Resource()
		}
		c.haveRes = true
	}
	return c.resource
}

// union is l | r: both, without duplicates.
type union struct{ l, r evaluator }

func (e *union) eval(c *evalCtx, focus, dst []Node) []Node {
	start := len(dst)
	dst = e.l.eval(c, focus, dst)
	dst = e.r.eval(c, focus, dst)
	return dedupe(dst, start)
}

// identity returns a comparable key for v: the map itself for objects (two
// objects are the same when they are the same JSON object), the value for
// primitives.
func identity(n Node) any {
	switch x := n.Value.(type) {
	case map[string]any:
		return reflect.ValueOf(x).UnsafePointer()
	case json.Number:
		return string(x)
	case resolvedRef:
		return n.Type
	}
	return n.Value
}

// dedupe removes from dst[start:] the items equal to an earlier one.
func dedupe(dst []Node, start int) []Node {
	items := dst[start:]
	if len(items) < 2 {
		return dst
	}
	out := start
	if len(items) <= 32 {
		for i := start; i < len(dst); i++ {
			k := identity(dst[i])
			dup := false
			for j := start; j < out; j++ {
				if identity(dst[j]) == k {
					dup = true
					break
				}
			}
			if !dup {
				dst[out] = dst[i]
				out++
			}
		}
	} else {
		seen := make(map[any]bool, len(items))
		for i := start; i < len(dst); i++ {
			k := identity(dst[i])
			if seen[k] {
				continue
			}
			seen[k] = true
			dst[out] = dst[i]
			out++
		}
	}
	clear(dst[out:])
	return dst[:out]
}

// indexer is [n]: the nth item of the collection.
type indexer struct{ n int }

func (e *indexer) eval(c *evalCtx, focus, dst []Node) []Node {
	if e.n < len(focus) {
		dst = append(dst, focus[e.n])
	}
	return dst
}

// tri converts a collection to a three-valued boolean: empty is unknown, a
// single boolean is itself, a single other item is true (FHIRPath's
// singleton evaluation), several items are unknown.
func tri(r []Node) (value, known bool) {
	if len(r) != 1 {
		return false, false
	}
	if b, ok := r[0].Value.(bool); ok {
		return b, true
	}
	return true, true
}

// where keeps the items for which crit is true.
type where struct{ crit evaluator }

func (e *where) eval(c *evalCtx, focus, dst []Node) []Node {
	outer := c.this
	for _, n := range focus {
		one := c.one(n)
		c.this = one
		r := e.crit.eval(c, one, c.get())
		v, known := tri(r)
		c.put(r)
		c.put(one)
		if v && known {
			dst = append(dst, n)
		}
	}
	c.this = outer
	return dst
}

// selectFn is select(proj): proj evaluated on each item, flattened.
type selectFn struct{ proj evaluator }

func (e *selectFn) eval(c *evalCtx, focus, dst []Node) []Node {
	outer := c.this
	for _, n := range focus {
		one := c.one(n)
		c.this = one
		dst = e.proj.eval(c, one, dst)
		c.put(one)
	}
	c.this = outer
	return dst
}

// existsFn is exists() or exists(crit); allFn is all(crit).
type existsFn struct {
	crit evaluator // nil for exists()
	all  bool
}

func (e *existsFn) eval(c *evalCtx, focus, dst []Node) []Node {
	if e.crit == nil {
		return append(dst, boolNode(len(focus) > 0))
	}
	outer := c.this
	defer func() { c.this = outer }()
	for _, n := range focus {
		one := c.one(n)
		c.this = one
		r := e.crit.eval(c, one, c.get())
		v, known := tri(r)
		c.put(r)
		c.put(one)
		ok := v && known
		if e.all && !ok {
			return append(dst, boolNode(false))
		}
		if !e.all && ok {
			return append(dst, boolNode(true))
		}
	}
	return append(dst, boolNode(e.all))
}

// collFn is a function without arguments over the whole collection.
type collFn struct{ name string }

func (e *collFn) eval(c *evalCtx, focus, dst []Node) []Node {
	switch e.name {
	case "empty":
		return append(dst, boolNode(len(focus) == 0))
	case "not":
		if v, known := tri(focus); known {
			return append(dst, boolNode(!v))
		}
	case "first":
		if len(focus) > 0 {
			return append(dst, focus[0])
		}
	case "last":
		if len(focus) > 0 {
			return append(dst, focus[len(focus)-1])
		}
	case "tail":
		if len(focus) > 1 {
			return append(dst, focus[1:]...)
		}
	case "single":
		if len(focus) == 1 {
			return append(dst, focus[0])
		}
	case "count":
		return append(dst, Node{Value: json.Number(strconv.Itoa(len(focus))), Type: "integer"})
	case "distinct":
		start := len(dst)
		return dedupe(append(dst, focus...), start)
	case "isDistinct":
		start := len(dst)
		buf := dedupe(append(dst, focus...), start)
		n := len(buf) - start
		clear(buf[start:])
		return append(buf[:start], boolNode(n == len(focus)))
	case "hasValue":
		return append(dst, boolNode(len(focus) == 1 && isPrimitive(focus[0].Value)))
	case "allTrue", "anyTrue", "allFalse", "anyFalse":
		want := e.name == "allTrue" || e.name == "anyTrue"
		all := e.name == "allTrue" || e.name == "allFalse"
		for _, n := range focus {
			b, ok := n.Value.(bool)
			match := ok && b == want
			if all && !match {
				return append(dst, boolNode(false))
			}
			if !all && match {
				return append(dst, boolNode(true))
			}
		}
		return append(dst, boolNode(all))
	case "children":
		for _, n := range focus {
			dst = children(n, dst)
		}
	case "descendants":
		start := len(dst)
		for _, n := range focus {
			dst = children(n, dst)
		}
		for i := start; i < len(dst); i++ {
			dst = children(dst[i], dst)
		}
	case "toString":
		for _, n := range focus {
			switch x := n.Value.(type) {
			case string:
				dst = append(dst, Node{Value: x, Type: "string", Path: n.Path})
			case json.Number:
				dst = append(dst, Node{Value: string(x), Type: "string", Path: n.Path})
			case bool:
				dst = append(dst, Node{Value: strconv.FormatBool(x), Type: "string", Path: n.Path})
			}
		}
	}
	return dst
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isPrimitive(v any) bool {
	switch v.(type) {
	case string, bool, json.Number, float64:
		return true
	}
	return false
}

// children appends the child elements of n in key order, leaving out
// resourceType and the _name companions of primitives.
func children(n Node, dst []Node) []Node {
	m, ok := n.Value.(map[string]any)
	if !ok {
		return dst
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "resourceType" && !strings.HasPrefix(k, "_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendValue(dst, m[k], "", n.Path+"."+k)
	}
	return dst
}

// skipTake is skip(n) or take(n).
type skipTake struct {
	n    int
	take bool
}

func (e *skipTake) eval(c *evalCtx, focus, dst []Node) []Node {
	if e.take {
		return append(dst, focus[:min(e.n, len(focus))]...)
	}
	if e.n < len(focus) {
		return append(dst, focus[e.n:]...)
	}
	return dst
}

// typeFilter is 'as T', as(T) and ofType(T): the items of type T. An item
// whose type was unknown gets T as its type.
type typeFilter struct{ typ string }

func (e *typeFilter) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		if typeMatches(n, e.typ) {
			if n.Type == "" {
				if _, isRes := resourceType(n.Value); !isRes {
					n.Type = e.typ
				}
			}
			dst = append(dst, n)
		}
	}
	return dst
}

// typeTest is 'is T' and is(T): whether the single item is of type T.
type typeTest struct{ typ string }

func (e *typeTest) eval(c *evalCtx, focus, dst []Node) []Node {
	if len(focus) != 1 {
		return dst
	}
	return append(dst, boolNode(typeMatches(focus[0], e.typ)))
}

// resolvedRef is the value of a Node returned by resolve(): the referenced
// resource is not fetched; only its type, in Node.Type, is known, which is
// what 'resolve() is Patient' needs. Navigating into it gives nothing.
type resolvedRef struct{}

// resolveFn is resolve().
type resolveFn struct{}

func (resolveFn) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		var t string
		switch x := n.Value.(type) {
		case string:
			t = referenceType(x)
		case map[string]any:
			if _, ok := x["resourceType"].(string); ok {
				dst = append(dst, n)
				continue
			}
			if ref, ok := x["reference"].(string); ok {
				t = referenceType(ref)
			}
			if t == "" {
				tt, _ := x["type"].(string)
				t = ReferenceTypeName(tt)
			}
		}
		if t != "" {
			dst = append(dst, Node{Value: resolvedRef{}, Type: t, Path: n.Path})
		}
	}
	return dst
}

// ReferenceTypeName returns the resource type that a Reference.type names,
// as a type ("Patient") or a URL ending in one; "" when it names none.
func ReferenceTypeName(t string) string {
	t = t[strings.LastIndexByte(t, '/')+1:]
	if !isTypeName(t) {
		return ""
	}
	return t
}

// referenceType returns the resource type named by a reference: "Patient"
// for "Patient/123", "Patient/123/_history/2",
// "https://example.org/fhir/Patient/123" or a canonical URL such as
// "http://example.org/fhir/Questionnaire/q1|2.0". It returns "" when the
// reference names no type: "urn:uuid:...", "#contained", "".
func referenceType(ref string) string {
	t, _ := splitReference(ref)
	return t
}

// splitReference returns the type and id at the end of ref ("Type/id",
// ".../Type/id", with an optional /_history/version or |version), or two
// empty strings.
func splitReference(ref string) (typ, id string) {
	if i := strings.IndexByte(ref, '|'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash <= 0 {
		return "", ""
	}
	id = ref[slash+1:]
	rest := ref[:slash]
	typ = rest[strings.LastIndexByte(rest, '/')+1:]
	if !isTypeName(typ) || !isID(id) {
		return "", ""
	}
	if len(rest) > len(typ) && !strings.Contains(rest, "://") {
		// A relative reference has exactly two segments.
		return "", ""
	}
	return typ, id
}

// isID reports whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - .
func isID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// extensionFn is extension(url): the extensions of each item with that url.
type extensionFn struct {
	url  string
	path string
}

func (e *extensionFn) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		m, ok := n.Value.(map[string]any)
		if !ok {
			continue
		}
		exts, _ := m["extension"].([]any)
		for _, x := range exts {
			if xm, ok := x.(map[string]any); ok {
				if u, _ := xm["url"].(string); u == e.url {
					dst = append(dst, Node{Value: xm, Type: "Extension", Path: e.path})
				}
			}
		}
	}
	return dst
}

// strFn is a string function applied to each string item.
type strFn struct {
	name          string
	arg           string
	re            *regexp.Regexp
	start, length int // of substring; length -1 for the rest
}

func (e *strFn) eval(c *evalCtx, focus, dst []Node) []Node {
	for _, n := range focus {
		s, ok := n.Value.(string)
		if !ok {
			continue
		}
		switch e.name {
		case "startsWith":
			dst = append(dst, boolNode(strings.HasPrefix(s, e.arg)))
		case "endsWith":
			dst = append(dst, boolNode(strings.HasSuffix(s, e.arg)))
		case "contains":
			dst = append(dst, boolNode(strings.Contains(s, e.arg)))
		case "matches":
			dst = append(dst, boolNode(e.re.MatchString(s)))
		case "lower":
			dst = append(dst, Node{Value: strings.ToLower(s), Type: "string", Path: n.Path})
		case "upper":
			dst = append(dst, Node{Value: strings.ToUpper(s), Type: "string", Path: n.Path})
		case "length":
			dst = append(dst, Node{Value: json.Number(strconv.Itoa(len([]rune(s)))), Type: "integer"})
		case "substring":
			r := []rune(s)
			if e.start >= len(r) {
				continue
			}
			r = r[e.start:]
			if e.length >= 0 && e.length < len(r) {
				r = r[:e.length]
			}
			dst = append(dst, Node{Value: string(r), Type: "string", Path: n.Path})
		}
	}
	return dst
}

// compare is =, !=, ~, !~, <, <=, >, >=.
type compare struct {
	op   string
	l, r evaluator
}

func (e *compare) eval(c *evalCtx, focus, dst []Node) []Node {
	l := e.l.eval(c, focus, c.get())
	r := e.r.eval(c, focus, c.get())
	res, known := e.apply(l, r)
	c.put(l)
	c.put(r)
	if !known {
		return dst
	}
	return append(dst, boolNode(res))
}

func (e *compare) apply(l, r []Node) (res, known bool) {
	switch e.op {
	case "=", "!=":
		if len(l) == 0 || len(r) == 0 {
			return false, false
		}
		eq := len(l) == len(r)
		for i := 0; eq && i < len(l); i++ {
			eq = equal(l[i].Value, r[i].Value)
		}
		return eq == (e.op == "="), true
	case "~", "!~":
		eq := len(l) == len(r)
		for i := 0; eq && i < len(l); i++ {
			found := false
			for j := range r {
				if equivalent(l[i].Value, r[j].Value) {
					found = true
					break
				}
			}
			eq = found
		}
		return eq == (e.op == "~"), true
	}
	if len(l) != 1 || len(r) != 1 {
		return false, false
	}
	cmp, ok := order(l[0].Value, r[0].Value)
	if !ok {
		return false, false
	}
	switch e.op {
	case "<":
		return cmp < 0, true
	case "<=":
		return cmp <= 0, true
	case ">":
		return cmp > 0, true
	default: // ">="
		return cmp >= 0, true
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

// equal is FHIRPath equality of two items: same kind and value; numbers
// compare by value; objects compare deeply.
func equal(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case json.Number, float64:
		fa, ok1 := number(a)
		fb, ok2 := number(b)
		return ok1 && ok2 && fa == fb
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && reflect.DeepEqual(x, y)
	}
	return false
}

// equivalent is FHIRPath equivalence: like equality, but strings compare
// ignoring case and runs of white space.
func equivalent(a, b any) bool {
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.EqualFold(strings.Join(strings.Fields(x), " "), strings.Join(strings.Fields(y), " "))
	}
	return equal(a, b)
}

// order compares two numbers, two Quantities in the same unit, two dates
// or times (strings that parse as such, compared as points in time at the
// precision they share), or two strings.
func order(a, b any) (int, bool) {
	if x, ok := a.(string); ok {
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		if len(x) >= 4 && len(y) >= 4 && isDigit(x[0]) && isDigit(y[0]) {
			if mx, ok := parseMoment(x); ok {
				if my, ok := parseMoment(y); ok {
					return compareMoments(mx, my)
				}
			}
		}
		return strings.Compare(x, y), true
	}
	if x, ok := a.(map[string]any); ok {
		if y, ok := b.(map[string]any); ok {
			return compareQuantities(x, y)
		}
		return 0, false
	}
	fa, ok1 := number(a)
	fb, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case fa < fb:
		return -1, true
	case fa > fb:
		return 1, true
	}
	return 0, true
}

// logic is and, or, xor, implies with FHIRPath's three-valued logic.
type logic struct {
	op   string
	l, r evaluator
}

func (e *logic) eval(c *evalCtx, focus, dst []Node) []Node {
	lb := e.l.eval(c, focus, c.get())
	lv, lk := tri(lb)
	c.put(lb)
	// Short cuts that do not need the right operand.
	switch {
	case e.op == "and" && lk && !lv:
		return append(dst, boolNode(false))
	case e.op == "or" && lk && lv:
		return append(dst, boolNode(true))
	case e.op == "implies" && lk && !lv:
		return append(dst, boolNode(true))
	}
	rb := e.r.eval(c, focus, c.get())
	rv, rk := tri(rb)
	c.put(rb)
	switch e.op {
	case "and":
		if rk && !rv {
			return append(dst, boolNode(false))
		}
		if lk && rk {
			return append(dst, boolNode(true))
		}
	case "or":
		if rk && rv {
			return append(dst, boolNode(true))
		}
		if lk && rk {
			return append(dst, boolNode(false))
		}
	case "xor":
		if lk && rk {
			return append(dst, boolNode(lv != rv))
		}
	case "implies":
		if rk && rv {
			return append(dst, boolNode(true))
		}
		if lk && rk {
			return append(dst, boolNode(rv))
		}
	}
	return dst
}

// membership is 'l in r' and 'l contains r'.
type membership struct {
	op   string
	l, r evaluator
}

func (e *membership) eval(c *evalCtx, focus, dst []Node) []Node {
	l := e.l.eval(c, focus, c.get())
	r := e.r.eval(c, focus, c.get())
	item, coll := l, r
	if e.op == "contains" {
		item, coll = r, l
	}
	if len(item) == 1 {
		found := false
		for _, n := range coll {
			if equal(item[0].Value, n.Value) {
				found = true
				break
			}
		}
		dst = append(dst, boolNode(found))
	}
	c.put(l)
	c.put(r)
	return dst
}

// iif is iif(criterion, then [, otherwise]).
type iif struct{ cond, then, otherwise evaluator }

func (e *iif) eval(c *evalCtx, focus, dst []Node) []Node {
	r := e.cond.eval(c, focus, c.get())
	v, known := tri(r)
	c.put(r)
	if v && known {
		return e.then.eval(c, focus, dst)
	}
	if e.otherwise != nil {
		return e.otherwise.eval(c, focus, dst)
	}
	return dst
}

// setFn is union(other), combine(other), intersect(other), exclude(other),
// subsetOf(other) and supersetOf(other). other is evaluated on $this.
type setFn struct {
	name string
	arg  evaluator
}

func (e *setFn) eval(c *evalCtx, focus, dst []Node) []Node {
	other := e.arg.eval(c, c.this, c.get())
	defer c.put(other)
	in := func(n Node, coll []Node) bool {
		for _, m := range coll {
			if equal(n.Value, m.Value) {
				return true
			}
		}
		return false
	}
	start := len(dst)
	switch e.name {
	case "union":
		return dedupe(append(append(dst, focus...), other...), start)
	case "combine":
		return append(append(dst, focus...), other...)
	case "intersect", "exclude":
		for _, n := range focus {
			if in(n, other) == (e.name == "intersect") && (e.name == "exclude" || !in(n, dst[start:])) {
				dst = append(dst, n)
			}
		}
		return dst
	case "subsetOf", "supersetOf":
		sub, super := focus, other
		if e.name == "supersetOf" {
			sub, super = other, focus
		}
		for _, n := range sub {
			if !in(n, super) {
				return append(dst, boolNode(false))
			}
		}
		return append(dst, boolNode(true))
	}
	return dst
}
