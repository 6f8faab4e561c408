package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

const loinc = "http://loinc.org"

// fixtureObs is what the composite searches see of a Synthea Observation:
// for the Observation itself and for each component, its codes and its
// value.
type fixtureObs struct {
	nodes []obsNode // the Observation first, then its components
}

type obsNode struct {
	codes   []string // system|code
	qty     *float64
	unit    string // the quantity's UCUM code
	concept []string
	str     string
}

func nodeOf(m map[string]any) obsNode {
	var n obsNode
	if cc, ok := m["code"].(map[string]any); ok {
		for _, c := range cc["coding"].([]any) {
			c := c.(map[string]any)
			n.codes = append(n.codes, fmt.Sprint(c["system"])+"|"+fmt.Sprint(c["code"]))
		}
	}
	if vq, ok := m["valueQuantity"].(map[string]any); ok {
		f, err := strconv.ParseFloat(fmt.Sprint(vq["value"]), 64) // a json.Number or a float64
		if err == nil {
			n.qty = &f
			n.unit, _ = vq["code"].(string)
		}
	}
	if vc, ok := m["valueCodeableConcept"].(map[string]any); ok {
		for _, c := range vc["coding"].([]any) {
			c := c.(map[string]any)
			n.concept = append(n.concept, fmt.Sprint(c["system"])+"|"+fmt.Sprint(c["code"]))
		}
	}
	n.str, _ = m["valueString"].(string)
	return n
}

func fixtureObservations(t *testing.T) []fixtureObs {
	var out []fixtureObs
	for _, r := range fhirtest.OfType(fhirtest.SyntheaResources(t), "Observation") {
		o := fixtureObs{nodes: []obsNode{nodeOf(r)}}
		cs, _ := r["component"].([]any)
		for _, c := range cs {
			o.nodes = append(o.nodes, nodeOf(c.(map[string]any)))
		}
		out = append(out, o)
	}
	return out
}

// countObs counts the fixture Observations some node of which (among those
// pick selects) satisfies match.
func countObs(obs []fixtureObs, pick func(fixtureObs) []obsNode, match func(obsNode) bool) int {
	n := 0
	for _, o := range obs {
		if slices.ContainsFunc(pick(o), match) {
			n++
		}
	}
	return n
}

func top(o fixtureObs) []obsNode        { return o.nodes[:1] }
func components(o fixtureObs) []obsNode { return o.nodes[1:] }
func combo(o fixtureObs) []obsNode      { return o.nodes }

func qtyWith(code string, cmp func(float64) bool) func(obsNode) bool {
	return func(n obsNode) bool { return slices.Contains(n.codes, code) && n.qty != nil && cmp(*n.qty) }
}

func gt(x float64) func(float64) bool { return func(v float64) bool { return v > x } }
func le(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }

// median returns the middle quantity value of the fixture nodes with code.
func median(obs []fixtureObs, pick func(fixtureObs) []obsNode, code string) float64 {
	var vs []float64
	for _, o := range obs {
		for _, n := range pick(o) {
			if slices.Contains(n.codes, code) && n.qty != nil {
				vs = append(vs, *n.qty)
			}
		}
	}
	sort.Float64s(vs)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)/2]
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestSyntheaCompositeAndIterate(t *testing.T) {
	obs := fixtureObservations(t)
	weight, height := loinc+"|29463-7", loinc+"|8302-2"
	systolic, diastolic := loinc+"|8480-6", loinc+"|8462-4"
	wMid, hMid := median(obs, top, weight), median(obs, top, height)
	type check struct {
		query string
		want  int
	}
	checks := []check{
		{"code-value-quantity=" + weight + "$gt" + num(wMid), countObs(obs, top, qtyWith(weight, gt(wMid)))},
		{"code-value-quantity=" + weight + "$le" + num(wMid), countObs(obs, top, qtyWith(weight, le(wMid)))},
		{"code-value-quantity=29463-7$gt" + num(wMid) + "|http://unitsofmeasure.org|kg", countObs(obs, top, func(n obsNode) bool {
			return qtyWith(weight, gt(wMid))(n) && n.unit == "kg"
		})},
		{"code-value-quantity=29463-7$gt" + num(wMid) + "|http://unitsofmeasure.org|g", 0},
		{"code-value-quantity=" + weight + "$gt" + num(wMid) + "," + height + "$lt" + num(hMid), countObs(obs, top, func(n obsNode) bool {
			return qtyWith(weight, gt(wMid))(n) || qtyWith(height, func(v float64) bool { return v < hMid })(n)
		})},
		{"code-value-quantity:missing=false", countObs(obs, top, func(n obsNode) bool { return len(n.codes) > 0 && n.qty != nil })},
		{"code-value-quantity=" + systolic + "$gt130", countObs(obs, top, qtyWith(systolic, gt(130)))},
		{"component-code-value-quantity=" + systolic + "$gt130", countObs(obs, components, qtyWith(systolic, gt(130)))},
		{"combo-code-value-quantity=" + systolic + "$gt130", countObs(obs, combo, qtyWith(systolic, gt(130)))},
		{"component-code-value-quantity=" + diastolic + "$gt90", countObs(obs, components, qtyWith(diastolic, gt(90)))},
		{"component-code-value-quantity=" + systolic + "$ge140&component-code-value-quantity=" + diastolic + "$ge90", func() int {
			n := 0
			for _, o := range obs {
				if slices.ContainsFunc(components(o), qtyWith(systolic, func(v float64) bool { return v >= 140 })) &&
					slices.ContainsFunc(components(o), qtyWith(diastolic, func(v float64) bool { return v >= 90 })) {
					n++
				}
			}
			return n
		}()},
		{"code-value-concept=" + loinc + "|72166-2$http://snomed.info/sct|8517006", countObs(obs, top, func(n obsNode) bool {
			return slices.Contains(n.codes, loinc+"|72166-2") && slices.Contains(n.concept, "http://snomed.info/sct|8517006")
		})},
		{"combo-code-value-concept=72166-2$266919005", countObs(obs, combo, func(n obsNode) bool {
			return slices.Contains(n.codes, loinc+"|72166-2") && slices.Contains(n.concept, "http://snomed.info/sct|266919005")
		})},
		{"code-value-string=" + loinc + "|76690-7$Hetero", countObs(obs, top, func(n obsNode) bool {
			return slices.Contains(n.codes, loinc+"|76690-7") && strings.HasPrefix(strings.ToLower(n.str), "hetero")
		})},
	}
	// The checks must tell a right implementation from a wrong one.
	for _, c := range checks[:3] {
		if c.want == 0 {
			t.Fatalf("the fixtures have no match for %s", c.query)
		}
	}
	paired := countObs(obs, components, qtyWith(diastolic, gt(90)))
	// Observations with a diastolic component and some component above 90.
	unpaired := 0
	for _, o := range obs {
		var codes []string
		hasValue := false
		for _, n := range components(o) {
			codes = append(codes, n.codes...)
			hasValue = hasValue || n.qty != nil && *n.qty > 90
		}
		if slices.Contains(codes, diastolic) && hasValue {
			unpaired++
		}
	}
	if paired == 0 || paired >= unpaired {
		t.Fatalf("diastolic above 90: %d paired, %d unpaired; the fixtures cannot show that components are paired", paired, unpaired)
	}
	if n := countObs(obs, components, qtyWith(systolic, gt(130))); n == 0 {
		t.Fatal("no systolic pressure above 130 in the fixtures")
	}

	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			files, _ := fixtureBundles(t)
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				if r := s.do("POST", "/fhir", raw, "Prefer", "return=minimal"); r.status != 200 {
					t.Fatalf("%s: %d %.500s", filepath.Base(f), r.status, r.body)
				}
			}
			for _, c := range checks {
				path := "/fhir/Observation?_summary=count&" + escapeQuery(c.query)
				if got := total(t, s.do("GET", path, nil)); got != c.want {
					t.Errorf("Observation?%s: %d, want %d", c.query, got, c.want)
				}
			}
			// The matches really have the value in the component.
			r := s.do("GET", "/fhir/Observation?_count=1000&"+escapeQuery("component-code-value-quantity="+systolic+"$gt130"), nil)
			for _, en := range entries(t, r) {
				found := false
				for _, c := range en["resource"].(map[string]any)["component"].([]any) {
					n := nodeOf(c.(map[string]any))
					found = found || qtyWith(systolic, gt(130))(n)
				}
				if !found {
					t.Errorf("%v matched without a systolic pressure above 130", en["resource"].(map[string]any)["id"])
				}
			}
			for _, bad := range []string{"code-value-quantity=8480-6", "code-value-quantity=8480-6$gt130$x", "code-value-quantity=8480-6$zz130",
				"component-code-value-quantity:text=8480-6$130", "code-value-date=8480-6$2024-99"} {
				r := s.do("GET", "/fhir/Observation?"+escapeQuery(bad), nil)
				if r.status != 400 || r.json(t)["resourceType"] != "OperationOutcome" || strings.Contains(string(r.body), "SQL") {
					t.Errorf("Observation?%s: %d %.300s, want a 400 OperationOutcome", bad, r.status, r.body)
				}
			}
			iterate(t, s, files)
		})
	}
}

// escapeQuery escapes the values of a query string written plainly.
func escapeQuery(q string) string {
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, k+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}

// iterate checks _include:iterate and _revinclude:iterate on the patient
// with the most MedicationRequests, against that patient's bundle.
func iterate(t *testing.T, s *server, files []string) {
	type entry struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
	}
	var best []entry
	mrs := -1
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var b struct{ Entry []entry }
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range b.Entry {
			if en.Resource["resourceType"] == "MedicationRequest" {
				n++
			}
		}
		if n > mrs {
			best, mrs = b.Entry, n
		}
	}
	if mrs <= 0 {
		t.Fatal("no MedicationRequest in the fixtures")
	}
	byURL := map[string]map[string]any{}
	var patient map[string]any
	for _, en := range best {
		byURL[en.FullURL] = en.Resource
		if en.Resource["resourceType"] == "Patient" {
			patient = en.Resource
		}
	}
	ref := func(r map[string]any, key string) string {
		m, _ := r[key].(map[string]any)
		s, _ := m["reference"].(string)
		return s
	}
	// MedicationRequest -> Encounter -> Organization (serviceProvider).
	encs, orgs := map[string]bool{}, map[string]bool{}
	for _, en := range best {
		if en.Resource["resourceType"] == "MedicationRequest" {
			if u := ref(en.Resource, "encounter"); u != "" {
				encs[u] = true
				if o := ref(byURL[u], "serviceProvider"); o != "" {
					orgs[o] = true
				}
			}
		}
	}
	// Patient <- Encounter <- Observation.
	var patientEncs int
	encOfPatient := map[string]bool{}
	for _, en := range best {
		if en.Resource["resourceType"] == "Encounter" {
			patientEncs++
			encOfPatient[en.FullURL] = true
		}
	}
	obsOfEncs := 0
	for _, en := range best {
		if en.Resource["resourceType"] == "Observation" && encOfPatient[ref(en.Resource, "encounter")] {
			obsOfEncs++
		}
	}
	if len(encs) == 0 || len(orgs) == 0 || obsOfEncs == 0 {
		t.Fatalf("fixture patient: %d encounters of MedicationRequests, %d organisations, %d Observations of encounters", len(encs), len(orgs), obsOfEncs)
	}
	ident := patient["identifier"].([]any)[0].(map[string]any)
	pats := entries(t, s.do("GET", "/fhir/Patient?identifier="+url.QueryEscape(fmt.Sprint(ident["system"])+"|"+fmt.Sprint(ident["value"])), nil))
	if len(pats) != 1 {
		t.Fatalf("%d patients with identifier %v", len(pats), ident)
	}
	pid := pats[0]["resource"].(map[string]any)["id"].(string)

	modes := func(path string) (matches int, included map[string]int) {
		t.Helper()
		r := s.do("GET", path, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %.300s", path, r.status, r.body)
		}
		included = map[string]int{}
		for _, en := range entries(t, r) {
			switch en["search"].(map[string]any)["mode"] {
			case "match":
				matches++
			case "include":
				included[en["resource"].(map[string]any)["resourceType"].(string)]++
			default:
				t.Errorf("%s: entry without a search mode", path)
			}
		}
		return matches, included
	}
	base := "/fhir/MedicationRequest?_count=1000&patient=" + pid + "&_include=MedicationRequest:encounter"
	m, inc := modes(base + "&_include:iterate=Encounter:service-provider")
	if m != mrs || inc["Encounter"] != len(encs) || inc["Organization"] != len(orgs) || len(inc) != 2 {
		t.Errorf("MedicationRequest _include:iterate: %d matches, included %v; want %d, %d Encounter, %d Organization", m, inc, mrs, len(encs), len(orgs))
	}
	if _, inc := modes(base + "&_include=Encounter:service-provider"); inc["Organization"] != 0 || inc["Encounter"] != len(encs) {
		t.Errorf("a plain _include of Encounter followed included Encounters: %v", inc)
	}
	m, inc = modes("/fhir/Patient?_id=" + pid + "&_revinclude=Encounter:patient&_revinclude:iterate=Observation:encounter")
	if m != 1 || inc["Encounter"] != patientEncs || inc["Observation"] != obsOfEncs || len(inc) != 2 {
		t.Errorf("Patient _revinclude:iterate: %d matches, included %v; want 1, %d Encounter, %d Observation", m, inc, patientEncs, obsOfEncs)
	}
}
