// Package index turns the values that search parameter expressions select
// in a resource into search index entries, and parses search values from
// URLs, so that both sides of a FHIR R4 search agree on what values mean:
// the ranges dates cover, normalised strings, token systems and codes,
// references.
//
// Extract takes the nodes a fhirpath expression selects and the type of
// the search parameter; ExtractComposite does the same for the components
// of a composite parameter, node by node; the Parse functions take one
// value of a search URL (after SplitOr); MatchesDate and DateConditions
// hold the date prefix rules.
package index

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/fhir/fhirpath"
)

// Token is a token index entry. For a CodeableConcept whose text is not
// one of its codings' displays, the text is an entry of its own with System
// and Code empty, so that :text finds it; such an entry never matches a
// code search, which needs a non-empty code.
type Token struct {
	System string
	Code   string
	// Display is the text :text searches: Coding.display,
	// CodeableConcept.text, Identifier.type.text.
	Display string
}

// Reference is a reference index entry. Type and ID are set for local
// references ("Patient/123"), and for absolute URLs and canonicals that end
// in Type/id; URL is set for anything not purely local: absolute URLs
// (with any /_history/n removed), canonicals (with their |version),
// "urn:uuid:..." and "urn:oid:..." references (which a transaction must
// rewrite), and "#id" references to contained resources.
type Reference struct {
	Type, ID string
	URL      string
}

// Quantity is a quantity index entry, or the quantity of a search value.
type Quantity struct {
	Value   float64
	Decimal string // the value as written, for its precision
	// Comparator is the Quantity's comparator (<, <=, >=, >); the bounds of
	// a Range are indexed as two quantities with comparators >= (low) and
	// <= (high).
	Comparator string
	Unit       string
	System     string
	Code       string
}

// Entries are the index entries of one search parameter for one resource.
// Only the field of the parameter's type is filled. Each list is free of
// duplicates and in the order of the nodes.
type Entries struct {
	Tokens []Token
	// Strings are normalised with NormalizeString; Exact holds the same
	// strings as written (trimmed), at the same positions, for :exact.
	Strings    []string
	Exact      []string
	Dates      []DateRange
	References []Reference
	Quantities []Quantity
	Numbers    []float64
	URIs       []string
}

// Len returns the number of entries.
func (e Entries) Len() int {
	return len(e.Tokens) + len(e.Strings) + len(e.Dates) + len(e.References) +
		len(e.Quantities) + len(e.Numbers) + len(e.URIs)
}

// Extract converts the nodes an expression selected into entries for a
// search parameter of type paramType: "token", "string", "date",
// "reference", "quantity", "number" or "uri" (others, such as composite and
// special, give no entries). Values that do not fit the type, and values
// that are malformed (a date that does not parse), are skipped: indexing
// never fails. Extensions are indexed by their value[x].
//
// The type of each node is its Type when known, else guessed from its
// JSON: an object with coding is a CodeableConcept, with reference a
// Reference, with a numeric value a Quantity, with a string value an
// Identifier (a ContactPoint when it has a rank or a system such as phone
// or email), with start or end a Period, with family or given a HumanName,
// with line, city or postalCode an Address, with low or high a Range, with
// event or repeat a Timing, with system or code a Coding.
//
//   - token: Coding (system, code, display); CodeableConcept (each coding,
//     plus its text); Identifier (system, value as code, type.text as
//     display); ContactPoint (value as code, no system); boolean ("true",
//     "false"); code, string, uri, id and other primitives (code only).
//   - string: string and markdown primitives; HumanName (family, each
//     given, prefix and suffix, text); Address (each line, city, district,
//     state, postalCode, country, text); CodeableConcept text; Coding
//     display.
//   - date: date, dateTime, instant (see ParseDate); Period; Timing (one
//     range from its first event to its last, widened by repeat.boundsPeriod).
//   - reference: Reference.reference (see ParseReference; a Reference with
//     only an identifier or display gives nothing); canonical, uri and url
//     strings; a resource (Bundle.entry[0].resource) as Type/id.
//   - quantity: Quantity and its profiles (Age, Duration, ...); Money
//     (currency as code, system urn:iso:std:iso:4217); Range (see
//     Quantity.Comparator); bare numbers.
//   - number: integer and decimal primitives.
//   - uri: uri, url, canonical and other string primitives.
func Extract(paramType string, nodes []fhirpath.Node) Entries {
	var e Entries
	for _, n := range nodes {
		e.add(paramType, n, 0)
	}
	return e
}

func (e *Entries) add(paramType string, n fhirpath.Node, depth int) {
	kind := kindOf(n)
	if kind == "Extension" {
		if depth < 4 {
			for _, v := range extensionValue.EvalNode(nil, n) {
				e.add(paramType, v, depth+1)
			}
		}
		return
	}
	switch paramType {
	case "token":
		e.addToken(kind, n.Value)
	case "string":
		e.addString(kind, n.Value)
	case "date":
		e.addDate(kind, n.Value)
	case "reference":
		e.addReference(kind, n.Value)
	case "quantity":
		e.addQuantity(kind, n.Value)
	case "number":
		if f, s, ok := number(n.Value); ok && s != "" {
			e.Numbers = appendUnique(e.Numbers, f)
		}
	case "uri":
		if s, ok := n.Value.(string); ok && s != "" {
			e.URIs = appendUnique(e.URIs, s)
		}
	}
}

var extensionValue = fhirpath.MustCompile("value")

// kindOf returns the FHIR type of n, guessed from its value when n.Type is
// empty: a complex type name, "Resource", "text" for an object with only
// text, or the JSON kind of a primitive ("string", "decimal", "boolean").
func kindOf(n fhirpath.Node) string {
	if n.Type != "" {
		return n.Type
	}
	switch v := n.Value.(type) {
	case string:
		return "string"
	case json.Number, float64:
		return "decimal"
	case bool:
		return "boolean"
	case map[string]any:
		return guessComplex(v)
	}
	return ""
}

func guessComplex(m map[string]any) string {
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := m[k]; ok {
				return true
			}
		}
		return false
	}
	if has("resourceType") {
		return "Resource"
	}
	if has("coding") {
		return "CodeableConcept"
	}
	if has("reference") {
		return "Reference"
	}
	switch m["system"] {
	case "phone", "fax", "email", "pager", "url", "sms", "other":
		return "ContactPoint"
	}
	switch m["value"].(type) {
	case json.Number, float64:
		if has("currency") {
			return "Money"
		}
		return "Quantity"
	case string:
		if has("rank") {
			return "ContactPoint"
		}
		return "Identifier"
	}
	switch {
	case has("start", "end"):
		return "Period"
	case has("family", "given", "prefix", "suffix"):
		return "HumanName"
	case has("line", "city", "district", "state", "postalCode", "country"):
		return "Address"
	case has("low", "high"):
		return "Range"
	case has("event", "repeat"):
		return "Timing"
	case has("url"):
		for k := range m {
			if len(k) > 5 && strings.HasPrefix(k, "value") && k[5] >= 'A' && k[5] <= 'Z' {
				return "Extension"
			}
		}
	}
	switch {
	case has("system", "code"):
		return "Coding"
	case has("identifier") && !has("value"):
		return "Reference"
	case has("text"):
		return "text"
	case has("display"):
		return "Coding"
	}
	return ""
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func appendUnique[T comparable](list []T, v T) []T {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (e *Entries) addToken(kind string, v any) {
	switch x := v.(type) {
	case bool:
		e.Tokens = appendUnique(e.Tokens, Token{Code: strconv.FormatBool(x)})
		return
	case string:
		if x != "" {
			e.Tokens = appendUnique(e.Tokens, Token{Code: x})
		}
		return
	case json.Number:
		e.Tokens = appendUnique(e.Tokens, Token{Code: string(x)})
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	switch kind {
	case "Coding":
		e.addCoding(m)
	case "CodeableConcept":
		e.addCodeableConcept(m)
	case "Identifier":
		value, system := str(m, "value"), str(m, "system")
		if value == "" && system == "" {
			return
		}
		display := ""
		if t, ok := m["type"].(map[string]any); ok {
			display = str(t, "text")
		}
		e.Tokens = appendUnique(e.Tokens, Token{System: system, Code: value, Display: display})
	case "ContactPoint":
		if value := str(m, "value"); value != "" {
			e.Tokens = appendUnique(e.Tokens, Token{Code: value})
		}
	case "text":
		if t := str(m, "text"); t != "" {
			e.Tokens = appendUnique(e.Tokens, Token{Display: t})
		}
	}
}

func (e *Entries) addCoding(m map[string]any) {
	t := Token{System: str(m, "system"), Code: str(m, "code"), Display: str(m, "display")}
	if t != (Token{}) {
		e.Tokens = appendUnique(e.Tokens, t)
	}
}

func (e *Entries) addCodeableConcept(m map[string]any) {
	text := str(m, "text")
	codings, _ := m["coding"].([]any)
	for _, c := range codings {
		if cm, ok := c.(map[string]any); ok {
			e.addCoding(cm)
			if text != "" && strings.EqualFold(str(cm, "display"), text) {
				text = ""
			}
		}
	}
	if text != "" {
		e.Tokens = appendUnique(e.Tokens, Token{Display: text})
	}
}

func (e *Entries) addString(kind string, v any) {
	if s, ok := v.(string); ok {
		e.appendString(s)
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	switch kind {
	case "HumanName":
		e.appendString(str(m, "family"))
		e.appendStrings(m["given"])
		e.appendStrings(m["prefix"])
		e.appendStrings(m["suffix"])
		e.appendString(str(m, "text"))
	case "Address":
		e.appendStrings(m["line"])
		for _, k := range [...]string{"city", "district", "state", "postalCode", "country", "text"} {
			e.appendString(str(m, k))
		}
	case "CodeableConcept", "text":
		e.appendString(str(m, "text"))
	case "Coding":
		e.appendString(str(m, "display"))
	}
}

func (e *Entries) appendStrings(v any) {
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			e.appendString(s)
		}
	}
}

func (e *Entries) appendString(s string) {
	exact := strings.TrimSpace(s)
	if exact == "" {
		return
	}
	norm := NormalizeString(exact)
	for i := range e.Strings {
		if e.Strings[i] == norm && e.Exact[i] == exact {
			return
		}
	}
	e.Strings = append(e.Strings, norm)
	e.Exact = append(e.Exact, exact)
}

func (e *Entries) addDate(kind string, v any) {
	switch x := v.(type) {
	case string:
		if kind == "time" {
			return
		}
		if r, err := ParseDate(x); err == nil {
			e.Dates = appendUnique(e.Dates, r)
		}
		return
	case map[string]any:
		switch kind {
		case "Period":
			if r, ok := period(x); ok {
				e.Dates = appendUnique(e.Dates, r)
			}
		case "Timing":
			if r, ok := timing(x); ok {
				e.Dates = appendUnique(e.Dates, r)
			}
		}
	}
}

// period returns the range of a Period: from the start's Low to the end's
// High, open ends as MinTime and MaxTime. A Period with neither a valid
// start nor a valid end gives nothing. An end before the start (invalid
// FHIR) gives the range from the end to the start.
func period(m map[string]any) (DateRange, bool) {
	r := DateRange{Low: MinTime, High: MaxTime}
	start, errS := ParseDate(str(m, "start"))
	end, errE := ParseDate(str(m, "end"))
	if errS != nil && errE != nil {
		return DateRange{}, false
	}
	if errS == nil {
		r.Low = start.Low
	}
	if errE == nil {
		r.High = end.High
	}
	if r.High.Before(r.Low) {
		r = DateRange{Low: end.Low, High: start.High}
	}
	return r, true
}

// timing returns the outer limits of a Timing: FHIR search ignores the
// schedule and considers only its first and last events and its bounds.
func timing(m map[string]any) (DateRange, bool) {
	var r DateRange
	found := false
	widen := func(x DateRange) {
		if !found {
			r, found = x, true
			return
		}
		if x.Low.Before(r.Low) {
			r.Low = x.Low
		}
		if x.High.After(r.High) {
			r.High = x.High
		}
	}
	events, _ := m["event"].([]any)
	for _, ev := range events {
		if s, ok := ev.(string); ok {
			if d, err := ParseDate(s); err == nil {
				widen(d)
			}
		}
	}
	if rep, ok := m["repeat"].(map[string]any); ok {
		if b, ok := rep["boundsPeriod"].(map[string]any); ok {
			if d, ok := period(b); ok {
				widen(d)
			}
		}
	}
	return r, found
}

func (e *Entries) addReference(kind string, v any) {
	switch x := v.(type) {
	case string:
		if r, ok := ParseReference(x); ok {
			e.References = appendUnique(e.References, r)
		}
	case map[string]any:
		switch kind {
		case "Reference":
			if r, ok := ParseReference(str(x, "reference")); ok {
				if r.Type == "" {
					// As FHIRPath's resolve() does, so that the rows of a
					// parameter such as subject also answer its restriction
					// patient, subject.where(resolve() is Patient).
					r.Type = fhirpath.ReferenceTypeName(str(x, "type"))
				}
				e.References = appendUnique(e.References, r)
			}
		case "Resource":
			rt, id := str(x, "resourceType"), str(x, "id")
			if isTypeName(rt) && isID(id) {
				e.References = appendUnique(e.References, Reference{Type: rt, ID: id})
			}
		}
	}
}

// ParseReference parses a reference as found in Reference.reference or a
// canonical or uri element:
//
//	"Patient/123"                          Type Patient, ID 123
//	"Patient/123/_history/2"               the same: the version is dropped
//	"https://x.org/fhir/Patient/123"       Type, ID and URL (without any /_history/n)
//	"http://x.org/Questionnaire/q|2.0"     Type, ID and URL (with its |version)
//	"urn:uuid:...", "#p1", other URLs      URL only
//
// It returns false for an empty string.
func ParseReference(s string) (Reference, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Reference{}, false
	}
	ref := s
	version := ""
	if i := strings.IndexByte(ref, '|'); i >= 0 {
		ref, version = ref[:i], ref[i:]
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash > 0 {
		id := ref[slash+1:]
		rest := ref[:slash]
		typ := rest[strings.LastIndexByte(rest, '/')+1:]
		if isTypeName(typ) && isID(id) {
			if len(rest) == len(typ) {
				if version == "" {
					return Reference{Type: typ, ID: id}, true
				}
				return Reference{Type: typ, ID: id, URL: s}, true
			}
			if strings.Contains(rest, "://") {
				return Reference{Type: typ, ID: id, URL: ref + version}, true
			}
		}
	}
	return Reference{URL: s}, true
}

func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
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

// number returns a JSON number as a float and as written.
func number(v any) (float64, string, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, string(x), err == nil
	case float64:
		return x, strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return 0, "", false
}

func (e *Entries) addQuantity(kind string, v any) {
	if f, s, ok := number(v); ok {
		e.Quantities = appendUnique(e.Quantities, Quantity{Value: f, Decimal: s})
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	switch kind {
	case "Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity":
		e.addQuantityMap(m, "")
	case "Money":
		f, s, ok := number(m["value"])
		if ok {
			e.Quantities = appendUnique(e.Quantities, Quantity{Value: f, Decimal: s, System: "urn:iso:std:iso:4217", Code: str(m, "currency")})
		}
	case "Range":
		if low, ok := m["low"].(map[string]any); ok {
			e.addQuantityMap(low, ">=")
		}
		if high, ok := m["high"].(map[string]any); ok {
			e.addQuantityMap(high, "<=")
		}
	}
}

func (e *Entries) addQuantityMap(m map[string]any, comparator string) {
	f, s, ok := number(m["value"])
	if !ok {
		return
	}
	if comparator == "" {
		comparator = str(m, "comparator")
	}
	e.Quantities = appendUnique(e.Quantities, Quantity{
		Value: f, Decimal: s, Comparator: comparator,
		Unit: str(m, "unit"), System: str(m, "system"), Code: str(m, "code"),
	})
}
