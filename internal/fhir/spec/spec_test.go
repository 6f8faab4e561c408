package spec

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestResourceTypes(t *testing.T) {
	types := ResourceTypes()
	if len(types) < 140 || len(types) > 150 {
		t.Errorf("ResourceTypes() has %d types, want about 146", len(types))
	}
	if !slices.IsSorted(types) {
		t.Error("ResourceTypes() is not sorted")
	}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Patient", true},
		{"Observation", true},
		{"Bundle", true},
		{"Patients", false},
		{"patient", false},
		{"Resource", false},
		{"DomainResource", false},
		{"HumanName", false},
		{"", false},
	} {
		if got := IsResourceType(tc.name); got != tc.want {
			t.Errorf("IsResourceType(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	types[0] = "changed"
	if ResourceTypes()[0] == "changed" {
		t.Error("ResourceTypes() returns the shared slice")
	}
	if IsDomainResource("Bundle") || !IsDomainResource("Patient") || IsDomainResource("Nope") {
		t.Error("IsDomainResource is wrong for Bundle, Patient or Nope")
	}
}

func TestSearchParams(t *testing.T) {
	obs := SearchParams("Observation")
	if obs == nil {
		t.Fatal(`SearchParams("Observation") is nil`)
	}
	if got := obs["code"].Type; got != ParamToken {
		t.Errorf("Observation code type = %q, want token", got)
	}
	if got := obs["subject"]; got == nil || !slices.Contains(got.Targets, "Patient") || !slices.IsSorted(got.Targets) {
		t.Errorf("Observation subject = %+v, want sorted targets including Patient", got)
	}
	if got, want := obs["patient"].Expression, "Observation.subject.where(resolve() is Patient)"; got != want {
		t.Errorf("Observation patient expression = %q, want %q", got, want)
	}
	if got, want := obs["value-quantity"].Expression, "(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))"; got != want {
		t.Errorf("Observation value-quantity expression = %q, want %q", got, want)
	}
	cvq := obs["code-value-quantity"]
	if cvq == nil || cvq.Type != ParamComposite || len(cvq.Components) != 2 ||
		cvq.Components[0].Code != "code" || cvq.Components[1].Code != "value-quantity" || cvq.Expression != "Observation" {
		t.Errorf("Observation code-value-quantity = %+v", cvq)
	}
	if got, want := SearchParams("Patient")["_id"], "Patient.id"; got == nil || got.Expression != want {
		t.Errorf("Patient _id = %+v, want expression %q", got, want)
	}
	if got, want := SearchParams("Patient")["_lastUpdated"].Expression, "Patient.meta.lastUpdated"; got != want {
		t.Errorf("Patient _lastUpdated expression = %q, want %q", got, want)
	}
	if got, want := SearchParams("Patient")["name"].Expression, "Patient.name"; got != want {
		t.Errorf("Patient name expression = %q, want %q", got, want)
	}
	if got, want := SearchParams("InsurancePlan")["name"].Expression, "InsurancePlan.name | InsurancePlan.alias"; got != want {
		t.Errorf("InsurancePlan name expression = %q, want %q", got, want)
	}
	if p, ok := LookupSearchParam("Encounter", "patient"); !ok || p.Type != ParamReference || p.URL == "" {
		t.Errorf(`LookupSearchParam("Encounter", "patient") = %+v, %v`, p, ok)
	}
	if _, ok := LookupSearchParam("Encounter", "nope"); ok {
		t.Error(`LookupSearchParam("Encounter", "nope") found a parameter`)
	}
	if SearchParams("Patients") != nil {
		t.Error(`SearchParams("Patients") is not nil`)
	}
	if _, ok := SearchParams("Bundle")["_text"]; ok {
		t.Error("Bundle has _text, which is defined on DomainResource only")
	}
	for _, rt := range ResourceTypes() {
		ps := SearchParams(rt)
		for _, code := range []string{"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} {
			if ps[code] == nil {
				t.Errorf("%s has no %s", rt, code)
			}
		}
		for code, p := range ps {
			if p.Code != code {
				t.Errorf("%s %s has code %q", rt, code, p.Code)
			}
			if p.Expression == "" && code != "_text" && code != "_content" && code != "_query" {
				t.Errorf("%s %s has no expression", rt, code)
			}
			for _, part := range strings.Split(p.Expression, " | ") {
				if p.Expression != "" && !strings.HasPrefix(strings.TrimLeft(part, "("), rt) {
					t.Errorf("%s %s expression %q has a part on another type", rt, code, p.Expression)
				}
			}
		}
	}
	for _, rt := range FirstClass {
		if len(SearchParams(rt)) < 8 {
			t.Errorf("%s has only %d search parameters", rt, len(SearchParams(rt)))
		}
	}
}

func TestStructure(t *testing.T) {
	for _, rt := range append(slices.Clone(FirstClass), "Bundle") {
		if !IsResourceType(rt) {
			t.Errorf("first-class type %s is not an R4 resource type", rt)
		}
		typ := LookupType(rt)
		if typ == nil || typ.Kind != "resource" || typ.Root.Path != rt {
			t.Errorf("LookupType(%q) = %+v", rt, typ)
			continue
		}
		if Elements(rt)["id"].Types[0] != "id" {
			t.Errorf("%s.id is not of type id", rt)
		}
	}
	if LookupType("Claim") != nil || Elements("Claim") != nil {
		t.Error("Claim has structure tables, but it is not first class")
	}

	obs := Elements("Observation")
	status := obs["status"]
	if status.Min != 1 || status.Max != 1 || status.IsArray() || !slices.Contains(status.Binding, "final") ||
		!status.AllowsCode("final") || status.AllowsCode("finall") || status.Binding[0] != "registered" {
		t.Errorf("Observation.status = %+v", status)
	}
	if c, ok := obs[""].Lookup("valueQuantity"); !ok || c.Element != obs["value[x]"] || c.Type != "Quantity" || c.Node != LookupType("Quantity").Root {
		t.Errorf("Observation valueQuantity = %+v, %v", c, ok)
	}
	if c, ok := obs[""].Lookup("valueString"); !ok || c.Primitive == nil || c.Primitive.Name != "string" {
		t.Errorf("Observation valueString = %+v, %v", c, ok)
	}
	if _, ok := obs[""].Lookup("value"); ok {
		t.Error(`Observation has a property "value"`)
	}
	if c, ok := obs[""].Lookup("referenceRange"); !ok || c.Node != obs["referenceRange"] || !c.Element.IsArray() {
		t.Errorf("Observation referenceRange = %+v, %v", c, ok)
	}
	if low := obs["referenceRange.low"]; low == nil || low.Types[0] != "Quantity" || low.Parent != obs["referenceRange"] {
		t.Errorf("Observation.referenceRange.low = %+v", low)
	}
	if got := Elements("Patient")["gender"].Binding; !slices.Equal(got, []string{"male", "female", "other", "unknown"}) {
		t.Errorf("Patient.gender binding = %v", got)
	}
	if got := Elements("Bundle")["type"].Binding; len(got) != 9 || !slices.Contains(got, "transaction") {
		t.Errorf("Bundle.type binding = %v", got)
	}
	if e := Elements("Attachment")["contentType"]; e.BindingURL == "" || e.Binding != nil || !e.AllowsCode("anything") {
		t.Errorf("Attachment.contentType = %+v: mime types must not be checked", e)
	}
	cs := Elements("Condition")["clinicalStatus"]
	if !slices.Contains(cs.Binding, "active") || !slices.Contains(cs.BindingSystems, "http://terminology.hl7.org/CodeSystem/condition-clinical") {
		t.Errorf("Condition.clinicalStatus = %+v", cs)
	}

	q := Elements("Questionnaire")
	nested := q["item.item"]
	if nested.ContentRef != "#Questionnaire.item" || len(nested.Children()) == 0 || nested.Children()[0].Parent != q["item"] {
		t.Errorf("Questionnaire.item.item = %+v", nested)
	}
	if c, ok := nested.Lookup("linkId"); !ok || c.Element != q["item.linkId"] {
		t.Errorf("Questionnaire.item.item linkId = %+v, %v", c, ok)
	}
	if c, ok := q["item"].Lookup("item"); !ok || c.Node != nested {
		t.Errorf("Questionnaire.item item = %+v, %v", c, ok)
	}
	if c, ok := LookupType("Element").Root.Lookup("extension"); !ok || c.Node != LookupType("Extension").Root {
		t.Errorf("Element extension = %+v, %v", c, ok)
	}
	if url := Elements("Extension")["url"]; url.Min != 1 || url.Types[0] != "uri" {
		t.Errorf("Extension.url = %+v", url)
	}

	// Every type an element names must be known, and every required child
	// listed.
	for name := range structures().types {
		for path, e := range Elements(name) {
			for _, typ := range e.Types {
				if LookupPrimitive(typ) == nil && LookupType(typ) == nil && typ != "Resource" && !IsResourceType(typ) && len(e.Children()) == 0 {
					t.Errorf("%s: type %q is unknown", e.Path, typ)
				}
			}
			if path != "" && len(e.Types) == 0 && e.ContentRef == "" {
				t.Errorf("%s has no type", e.Path)
			}
			if e.Parent != nil && e.Parent.Children()[e.Index] != e {
				t.Errorf("%s: index %d is wrong", e.Path, e.Index)
			}
			if e.Parent != nil && e.Min > 0 && !slices.Contains(e.Parent.Required(), e) {
				t.Errorf("%s is required but not listed", e.Path)
			}
		}
	}
}

func TestTargetsAndConstraints(t *testing.T) {
	if got := Elements("Observation")["subject"].Targets; !slices.Equal(got, []string{"Patient", "Group", "Device", "Location"}) {
		t.Errorf("Observation.subject targets = %v", got)
	}
	if got := Elements("Observation")["focus"].Targets; got != nil {
		t.Errorf("Observation.focus targets = %v, want nil (any resource)", got)
	}
	if got := Elements("Observation")["status"].Targets; got != nil {
		t.Errorf("Observation.status targets = %v", got)
	}
	keys := func(e *Element) []string {
		var out []string
		for _, c := range e.Constraints() {
			if c.Element != e && e.ContentRef == "" {
				t.Errorf("%s: constraint %s names element %s", e.Path, c.Key, c.Element.Path)
			}
			if c.Human == "" || c.Expression == "" {
				t.Errorf("%s: constraint %+v is incomplete", e.Path, c)
			}
			out = append(out, c.Key)
		}
		return out
	}
	for path, want := range map[string][]string{
		"Observation":             {"dom-2", "dom-3", "dom-4", "dom-5", "obs-6", "obs-7"},
		"Observation.status":      nil, // ele-1 comes with its type, not the element
		"Patient.contact":         {"pat-1"},
		"Organization.telecom":    {"org-3"},
		"Period":                  {"ele-1", "per-1"},
		"Age":                     {"age-1", "ele-1", "qty-3"},
		"Questionnaire.item":      {"que-1", "que-10", "que-11", "que-12", "que-13", "que-3", "que-4", "que-5", "que-6", "que-8", "que-9"},
		"Extension":               {"ele-1", "ext-1"},
		"Extension.extension":     nil,
		"Reference":               {"ele-1", "ref-1"},
		"Questionnaire.item.item": {"que-1", "que-10", "que-11", "que-12", "que-13", "que-3", "que-4", "que-5", "que-6", "que-8", "que-9"},
	} {
		typ, rel, _ := strings.Cut(path, ".")
		e := Elements(typ)[rel]
		got := keys(e)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s constraints = %v, want %v", path, got, want)
		}
	}
	types := Types()
	if !slices.IsSorted(types) || !slices.Contains(types, "Patient") || !slices.Contains(types, "Period") || slices.Contains(types, "Claim") {
		t.Errorf("Types() = %v", types)
	}
}

func TestPrimitives(t *testing.T) {
	cases := map[string]struct{ ok, bad []string }{
		"id":           {[]string{"a", "abc-1.2", strings.Repeat("a", 64)}, []string{"", "a b", "a_b", strings.Repeat("a", 65)}},
		"date":         {[]string{"2020", "2020-02", "2020-02-29"}, []string{"2020-13", "20-01-01", "2020-1-1", "2020-02-29T10:00:00Z"}},
		"dateTime":     {[]string{"2020", "2011-05-27T09:51:38+00:00", "2011-05-27T09:51:38.447Z"}, []string{"2011-05-27T09:51", "2011-05-27T09:51:38", "2011-05-27 09:51:38Z"}},
		"instant":      {[]string{"2011-05-27T09:51:38.447+00:00"}, []string{"2011-05-27", "2011-05-27T09:51:38"}},
		"time":         {[]string{"09:51:38", "23:59:60.5"}, []string{"9:51", "24:00:00"}},
		"decimal":      {[]string{"0", "-1.50", "1e10", "171.43529167345355"}, []string{"01", "1.", ".5", "+1"}},
		"integer":      {[]string{"0", "-12", "42"}, []string{"1.0", "01", "1e3"}},
		"positiveInt":  {[]string{"1", "99"}, []string{"0", "-1"}},
		"unsignedInt":  {[]string{"0", "7"}, []string{"-1", "07"}},
		"boolean":      {[]string{"true", "false"}, []string{"True", "1"}},
		"code":         {[]string{"final", "a b"}, []string{" final", "a  b", ""}},
		"string":       {[]string{"x", " leading"}, []string{""}},
		"uri":          {[]string{"http://loinc.org", "urn:uuid:x"}, []string{"a b"}},
		"oid":          {[]string{"urn:oid:1.2.3"}, []string{"urn:oid:1.02"}},
		"uuid":         {[]string{"urn:uuid:c14b4d95-67b1-427a-9dfc-cd5311cd82fe"}, []string{"c14b4d95-67b1-427a-9dfc-cd5311cd82fe"}},
		"base64Binary": {[]string{"aGVsbG8=", "aGVs bG8="}, []string{"a", "!!!!"}},
	}
	for name, tc := range cases {
		p := LookupPrimitive(name)
		if p == nil || p.Regex == "" || PrimitiveRegex(name) != p.Regex {
			t.Errorf("primitive %s = %+v", name, p)
			continue
		}
		re := regexp.MustCompile("^(?:" + p.Regex + ")$")
		for _, s := range tc.ok {
			if !re.MatchString(s) {
				t.Errorf("%s: %q does not match %s", name, s, p.Regex)
			}
		}
		for _, s := range tc.bad {
			if re.MatchString(s) {
				t.Errorf("%s: %q matches %s", name, s, p.Regex)
			}
		}
	}
	for name, want := range map[string]string{"boolean": "boolean", "integer": "number", "decimal": "number",
		"positiveInt": "number", "unsignedInt": "number", "string": "string", "date": "string", "xhtml": "string"} {
		if got := LookupPrimitive(name).JSON; got != want {
			t.Errorf("%s is written as JSON %s, want %s", name, got, want)
		}
	}
	for _, name := range []string{"canonical", "url", "markdown", "uri"} {
		if PrimitiveRegex(name) == "" {
			t.Errorf("%s has no regex", name)
		}
	}
	if PrimitiveRegex("Quantity") != "" || LookupPrimitive("Quantity") != nil {
		t.Error("Quantity is reported as primitive")
	}
}
