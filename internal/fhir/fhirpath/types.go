package fhirpath

import (
	"encoding/json"
	"strings"
)

func jsonNumber(s string) json.Number { return json.Number(s) }

// choiceTypes maps the suffix of a choice element's JSON name (valueQuantity
// -> "Quantity") to the FHIR type it stands for. Primitive types start with
// a lower-case letter, as in FHIR; complex types keep their name. These are
// the R4 types allowed in choice elements (open types included), plus the
// Quantity profiles.
var choiceTypes = func() map[string]string {
	primitives := []string{
		"base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal",
		"id", "instant", "integer", "markdown", "oid", "positiveInt", "string", "time",
		"unsignedInt", "uri", "url", "uuid",
	}
	complexTypes := []string{
		"Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding",
		"ContactPoint", "Count", "Distance", "Duration", "HumanName", "Identifier",
		"Money", "MoneyQuantity", "Period", "Quantity", "Range", "Ratio", "Reference",
		"SampledData", "Signature", "SimpleQuantity", "Timing", "ContactDetail",
		"Contributor", "DataRequirement", "Expression", "ParameterDefinition",
		"RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage", "Meta",
	}
	m := make(map[string]string, len(primitives)+len(complexTypes))
	for _, p := range primitives {
		m[strings.ToUpper(p[:1])+p[1:]] = p
	}
	for _, c := range complexTypes {
		m[c] = c
	}
	return m
}()

// isA reports whether a value of FHIR type t is also of type want: the same
// type, a specialisation in FHIR (code is a string, Age is a Quantity, ...),
// or anything for the abstract types Base and Element.
func isA(t, want string) bool {
	if t == want {
		return true
	}
	switch want {
	case "Quantity":
		switch t {
		case "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity":
			return true
		}
	case "string":
		switch t {
		case "code", "id", "markdown":
			return true
		}
	case "uri":
		switch t {
		case "url", "canonical", "oid", "uuid":
			return true
		}
	case "integer":
		switch t {
		case "positiveInt", "unsignedInt":
			return true
		}
	case "Base", "Element":
		return t != ""
	}
	return false
}

// isTypeName reports whether name looks like a resource or complex type
// name: an upper-case ASCII letter, then letters and digits.
func isTypeName(name string) bool {
	if name == "" || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// typeMatches reports whether n is of type want, judging by n.Type when
// known, else by the resourceType of a resource, else by the shape of the
// value (see shapeIs).
func typeMatches(n Node, want string) bool {
	if n.Type != "" {
		if isA(n.Type, want) {
			return true
		}
		if want == "Resource" || want == "DomainResource" {
			_, resolved := n.Value.(resolvedRef)
			if resolved {
				return true
			}
			_, isRes := resourceType(n.Value)
			return isRes
		}
		return false
	}
	if rt, ok := resourceType(n.Value); ok {
		return rt == want || want == "Resource" || want == "DomainResource" || want == "Base"
	}
	return shapeIs(n.Value, want)
}

func resourceType(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	rt, ok := m["resourceType"].(string)
	return rt, ok
}

// shapeIs guesses whether a value whose FHIR type is unknown (an element
// reached by its plain JSON name, not through a choice suffix) is a want,
// from the JSON kind of the value and, for objects, the names of their
// fields. Search expressions apply 'as' and 'ofType' to choice elements,
// whose type is known, so this only matters for unusual expressions.
func shapeIs(v any, want string) bool {
	switch x := v.(type) {
	case string:
		switch want {
		case "string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary":
			return true
		case "date":
			return len(x) >= 4 && !strings.Contains(x, "T") && isDigits(x[:4])
		case "dateTime", "instant":
			return len(x) >= 4 && isDigits(x[:4])
		case "time":
			return len(x) >= 5 && x[2] == ':'
		}
	case json.Number, float64:
		switch want {
		case "decimal":
			return true
		case "integer", "positiveInt", "unsignedInt":
			var s string
			if n, ok := x.(json.Number); ok {
				s = string(n)
			}
			return s != "" && !strings.ContainsAny(s, ".eE")
		}
	case bool:
		return want == "boolean"
	case map[string]any:
		has := func(keys ...string) bool {
			for _, k := range keys {
				if _, ok := x[k]; ok {
					return true
				}
			}
			return false
		}
		switch want {
		case "Base", "Element", "BackboneElement":
			return true
		case "CodeableConcept":
			return has("coding") || (has("text") && len(x) == 1)
		case "Coding":
			return has("code", "system") && !has("value", "coding")
		case "Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity":
			_, isNum := x["value"].(json.Number)
			_, isFloat := x["value"].(float64)
			return (isNum || isFloat) && !has("currency")
		case "Money":
			return has("currency")
		case "Reference":
			return has("reference") || (has("identifier", "display", "type") && !has("value", "coding", "system"))
		case "Identifier":
			_, isStr := x["value"].(string)
			return isStr || has("assigner")
		case "ContactPoint":
			_, isStr := x["value"].(string)
			return isStr && has("system", "use", "rank")
		case "Period":
			return has("start", "end")
		case "Range":
			return has("low", "high")
		case "Ratio":
			return has("numerator", "denominator")
		case "HumanName":
			return has("family", "given", "prefix", "suffix")
		case "Address":
			return has("line", "city", "district", "state", "postalCode", "country")
		case "Timing":
			return has("event", "repeat")
		case "Attachment":
			return has("contentType", "data", "url", "title") && !has("system")
		case "Annotation":
			return has("text") && has("authorString", "authorReference", "time")
		case "Extension":
			return has("url")
		}
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
