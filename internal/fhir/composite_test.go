package fhir_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// searchEnv is a store with the R4 search index and a searcher on one
// organisation.
type searchEnv struct {
	t      *testing.T
	d      *db.DB
	org    string
	store  *fhir.Store
	search *fhir.Searcher
}

func newSearchEnv(t *testing.T, d *db.DB) *searchEnv {
	t.Helper()
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &searchEnv{t: t, d: d, org: org(t, d, "clinic-a"), store: fhir.NewStore(d, q, fhir.NewSpecIndexer()), search: fhir.NewSearcher(d, fhir.LookupParam)}
}

// put stores resources given as JSON, each with its resourceType and id.
func (e *searchEnv) put(docs ...string) {
	e.t.Helper()
	var rs []fhir.Resource
	for _, doc := range docs {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(doc), &head); err != nil {
			e.t.Fatalf("%v: %s", err, doc)
		}
		rs = append(rs, fhir.Resource{Type: head.ResourceType, ID: head.ID, JSON: []byte(doc)})
	}
	err := e.d.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := e.store.PutTx(context.Background(), tx, e.org, rs)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *searchEnv) delete(typ, id string) {
	e.t.Helper()
	err := e.d.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := e.store.DeleteTx(context.Background(), tx, e.org, typ, id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *searchEnv) run(ctx context.Context, typ, query string) (*fhir.SearchResult, error) {
	e.t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		e.t.Fatalf("%s?%s: %v", typ, query, err)
	}
	return e.search.Search(ctx, e.org, typ, params, false)
}

// refs returns the matches and the included resources of a search, each
// as sorted Type/id.
func (e *searchEnv) refs(ctx context.Context, typ, query string) (matches, included []string) {
	e.t.Helper()
	res, err := e.run(ctx, typ, query)
	if err != nil {
		e.t.Fatalf("%s?%s: %v", typ, query, err)
	}
	for _, m := range res.Matches {
		matches = append(matches, m.Ref())
	}
	for _, m := range res.Included {
		included = append(included, m.Ref())
	}
	sort.Strings(matches)
	sort.Strings(included)
	return matches, included
}

// expect checks the matches of typ?query against want (ids of typ).
func (e *searchEnv) expect(typ, query string, want ...string) {
	e.t.Helper()
	got, _ := e.refs(context.Background(), typ, query)
	for i := range want {
		want[i] = typ + "/" + want[i]
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("%s?%s = %q, want %q", typ, query, got, want)
	}
}

// invalid checks that typ?query is refused as invalid input naming what.
func (e *searchEnv) invalid(typ, query, what string) {
	e.t.Helper()
	_, err := e.run(context.Background(), typ, query)
	if err == nil || errs.CodeOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), what) {
		e.t.Errorf("%s?%s: %v, want an invalid-input error mentioning %q", typ, query, err, what)
	}
}

const ucumKg = `"system": "http://unitsofmeasure.org", "code": "kg", "unit": "kg"`

func TestCompositeSearch(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newSearchEnv(t, d)
		e.put(
			`{"resourceType": "Patient", "id": "p1"}`, `{"resourceType": "Patient", "id": "p2"}`,
			`{"resourceType": "Observation", "id": "w82", "status": "final", "subject": {"reference": "Patient/p1"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "valueQuantity": {"value": 82, `+ucumKg+`}}`,
			`{"resourceType": "Observation", "id": "w70", "status": "final", "subject": {"reference": "Patient/p2"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "valueQuantity": {"value": 70, `+ucumKg+`}}`,
			// Systolic high, diastolic normal.
			`{"resourceType": "Observation", "id": "bp1", "status": "final", "subject": {"reference": "Patient/p1"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
			  "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 142, "code": "mm[Hg]"}},
			                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 88, "code": "mm[Hg]"}}]}`,
			// Systolic normal, diastolic above 130: a value above 130 and
			// a systolic code, but not in the same component.
			`{"resourceType": "Observation", "id": "bp2", "status": "final", "subject": {"reference": "Patient/p2"},
			  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
			  "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 118, "code": "mm[Hg]"}},
			                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 135, "code": "mm[Hg]"}}]}`,
			`{"resourceType": "Observation", "id": "smoker", "status": "final",
			  "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
			  "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}], "text": "Ex-smoker"}}`,
			`{"resourceType": "Observation", "id": "note", "status": "final",
			  "code": {"coding": [{"system": "http://example.org/codes", "code": "a$b"}]}, "valueString": "Fish, chips"}`,
			`{"resourceType": "Observation", "id": "d2024", "status": "final",
			  "code": {"coding": [{"system": "http://loinc.org", "code": "21112-8"}]}, "valueDateTime": "2024-03-05T10:00:00Z"}`,
			`{"resourceType": "Observation", "id": "d2023", "status": "final",
			  "code": {"coding": [{"system": "http://loinc.org", "code": "21112-8"}]}, "valuePeriod": {"start": "2023-01-01", "end": "2023-12-31"}}`,
			`{"resourceType": "Questionnaire", "id": "q1", "status": "active",
			  "useContext": [{"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "focus"},
			                  "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "73211009"}]}},
			                 {"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "age"},
			                  "valueQuantity": {"value": 18, "system": "http://unitsofmeasure.org", "code": "a"}}]}`,
		)
		// Token first component with system, code only and |code.
		e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$gt80", "w82")
		e.expect("Observation", "code-value-quantity=29463-7$le80", "w70")
		e.expect("Observation", "code-value-quantity=|29463-7$70")
		e.expect("Observation", "code-value-quantity=http://loinc.org|29463-7$ge70", "w70", "w82")
		// Quantity with system and code, or a code matching the unit.
		e.expect("Observation", "code-value-quantity=29463-7$gt60|http://unitsofmeasure.org|kg", "w70", "w82")
		e.expect("Observation", "code-value-quantity=29463-7$gt60||kg", "w70", "w82")
		e.expect("Observation", "code-value-quantity=29463-7$gt60|http://unitsofmeasure.org|g")
		// Component codes pair with their own values.
		e.expect("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt130", "bp1")
		e.expect("Observation", "component-code-value-quantity=http://loinc.org|8462-4$gt130", "bp2")
		e.expect("Observation", "component-code-value-quantity=8480-6$gt150")
		e.expect("Observation", "code-value-quantity=8480-6$gt130")
		e.expect("Observation", "combo-code-value-quantity=8480-6$gt130", "bp1")
		e.expect("Observation", "combo-code-value-quantity=29463-7$gt80", "w82")
		// Comma is OR, repetition is AND.
		e.expect("Observation", "combo-code-value-quantity=8480-6$gt130,29463-7$lt75", "bp1", "w70")
		e.expect("Observation", "component-code-value-quantity=8480-6$gt100&component-code-value-quantity=8462-4$lt100", "bp1")
		e.expect("Observation", "component-code-value-quantity=8480-6$gt100&component-code-value-quantity=8462-4$lt80")
		// Other second components: concept, string (prefix, escapes), date.
		e.expect("Observation", "code-value-concept=72166-2$http://snomed.info/sct|8517006", "smoker")
		e.expect("Observation", "code-value-concept=72166-2$266919005")
		e.expect("Observation", "combo-code-value-concept=http://loinc.org|72166-2$8517006", "smoker")
		e.expect("Observation", `code-value-string=http://example.org/codes|a\$b$fish\,`, "note")
		e.expect("Observation", `code-value-string=a\$b$FISH`, "note")
		e.expect("Observation", `code-value-string=a\$b$chips`)
		e.expect("Observation", "code-value-date=21112-8$2024-03-05", "d2024")
		e.expect("Observation", "code-value-date=21112-8$ge2024", "d2024")
		e.expect("Observation", "code-value-date=21112-8$lt2024", "d2023")
		e.expect("Observation", "code-value-date=21112-8$2023", "d2023")
		// :missing: no node has both parts.
		e.expect("Observation", "code-value-quantity:missing=false", "w70", "w82")
		e.expect("Observation", "code-value-quantity:missing=true", "bp1", "bp2", "smoker", "note", "d2024", "d2023")
		// With other parameters, in chains and reverse chains.
		e.expect("Observation", "subject=Patient/p2&combo-code-value-quantity=8480-6$gt100,29463-7$gt60", "bp2", "w70")
		e.expect("Patient", "_has:Observation:subject:component-code-value-quantity=8480-6$gt130", "p1")
		// First-class Questionnaire: context-type-value and context-type-quantity.
		e.expect("Questionnaire", "context-type-value=http://terminology.hl7.org/CodeSystem/usage-context-type|focus$http://snomed.info/sct|73211009", "q1")
		e.expect("Questionnaire", "context-type-value=age$73211009")
		e.expect("Questionnaire", "context-type-quantity=age$ge18", "q1")
		e.expect("Questionnaire", "context-type-quantity=focus$ge18")
		// Three parts, one from %resource: the start and the end of the
		// same variant.
		e.put(`{"resourceType": "MolecularSequence", "id": "seq", "coordinateSystem": 0,
		  "referenceSeq": {"chromosome": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/chromosome-human", "code": "1"}]}},
		  "variant": [{"start": 10, "end": 20}, {"start": 30, "end": 40}]}`)
		e.expect("MolecularSequence", "chromosome-variant-coordinate=1$ge30$le40", "seq")
		e.expect("MolecularSequence", "chromosome-variant-coordinate=1$ge30$le20")
		e.expect("MolecularSequence", "chromosome-variant-coordinate=2$ge10$le40")
		e.invalid("MolecularSequence", "chromosome-variant-coordinate=1$ge30", "has 2 part(s)")

		// Updates and deletions rewrite the composite rows.
		e.put(`{"resourceType": "Observation", "id": "w82", "status": "final",
		  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "valueQuantity": {"value": 61, ` + ucumKg + `}}`)
		e.expect("Observation", "code-value-quantity=29463-7$gt80")
		e.expect("Observation", "code-value-quantity=29463-7$lt65", "w82")
		e.delete("Observation", "bp1")
		e.expect("Observation", "component-code-value-quantity=8480-6$gt130")
		var rows int
		if err := d.Read.QueryRow("SELECT count(*) FROM fhir_idx_composite x JOIN fhir_resources r ON r.rk = x.res WHERE r.org_id = $1 AND r.id = 'bp1'", e.org).Scan(&rows); err != nil || rows != 0 {
			t.Errorf("a deleted Observation keeps %d composite index rows (%v)", rows, err)
		}

		// Bad values are invalid input, never SQL errors.
		e.invalid("Observation", "code-value-quantity=29463-7", "separated by $")
		e.invalid("Observation", "code-value-quantity=29463-7$gt80$x", "separated by $")
		e.invalid("Observation", "code-value-quantity=$gt80", "empty part")
		e.invalid("Observation", "code-value-quantity=29463-7$xx80", "prefix")
		e.invalid("Observation", "code-value-quantity=29463-7$abc", "not a valid")
		e.invalid("Observation", "code-value-date=21112-8$2024-13", "not a valid date")
		e.invalid("Observation", "code-value-quantity:exact=29463-7$80", "modifier :exact")
		e.invalid("Observation", "code-value-quantity:missing=maybe", "true or false")
		e.invalid("Observation", "code-value-quantity.name=x", "only reference parameters")
		e.invalid("Observation", "_sort=code-value-quantity", "cannot sort")
		e.invalid("DocumentReference", "relationship=DocumentReference/1$replaces", "not supported")
	})
}

func TestIncludeIterate(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newSearchEnv(t, d)
		member := func(id string, members ...string) string {
			var hm []string
			for _, m := range members {
				hm = append(hm, `{"reference": "Observation/`+m+`"}`)
			}
			return `{"resourceType": "Observation", "id": "` + id + `", "status": "final", "code": {"text": "x"}, "hasMember": [` + strings.Join(hm, ",") + `]}`
		}
		e.put(
			`{"resourceType": "Organization", "id": "maker"}`,
			`{"resourceType": "Practitioner", "id": "dr1"}`,
			`{"resourceType": "Patient", "id": "p1", "generalPractitioner": [{"reference": "Practitioner/dr1"}]}`,
			`{"resourceType": "Medication", "id": "m1", "manufacturer": {"reference": "Organization/maker"}}`,
			`{"resourceType": "Medication", "id": "m2"}`,
			`{"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order", "medicationReference": {"reference": "Medication/m1"},
			  "subject": {"reference": "Patient/p1"}, "requester": {"reference": "Practitioner/dr1"}}`,
			`{"resourceType": "MedicationRequest", "id": "mr2", "status": "active", "intent": "order", "medicationReference": {"reference": "Medication/m2"},
			  "subject": {"reference": "Patient/p1"}}`,
			// a -> b -> c -> d -> a: a cycle of panels.
			member("a", "b"), member("b", "c"), member("c", "d"), member("d", "a"),
			member("e", "b", "missing"),
		)
		check := func(ctx context.Context, typ, query string, wantMatches int, want ...string) {
			t.Helper()
			m, inc := e.refs(ctx, typ, query)
			sort.Strings(want)
			if len(m) != wantMatches || !slices.Equal(inc, want) {
				t.Errorf("%s?%s: %d matches, included %q; want %d and %q", typ, query, len(m), inc, wantMatches, want)
			}
		}
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:medication", 1, "Medication/m1")
		// A plain _include of Medication applies to the matches only.
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:medication&_include=Medication:manufacturer", 1, "Medication/m1")
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:medication&_include:iterate=Medication:manufacturer", 1,
			"Medication/m1", "Organization/maker")
		check(ctx, "MedicationRequest", "_id=mr1&_include:iterate=MedicationRequest:medication&_include:iterate=Medication:manufacturer", 1,
			"Medication/m1", "Organization/maker")
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:medication&_include:recurse=Medication:manufacturer", 1,
			"Medication/m1", "Organization/maker")
		// Iterating until nothing is new, through a cycle.
		check(ctx, "Observation", "_id=a&_include=Observation:has-member", 1, "Observation/b")
		check(ctx, "Observation", "_id=a&_include:iterate=Observation:has-member", 1, "Observation/b", "Observation/c", "Observation/d")
		check(ctx, "Observation", "_id=e&_include:iterate=Observation:has-member", 1, "Observation/a", "Observation/b", "Observation/c", "Observation/d")
		check(ctx, "Observation", "_id=d&_revinclude=Observation:has-member", 1, "Observation/c")
		check(ctx, "Observation", "_id=d&_revinclude:iterate=Observation:has-member", 1, "Observation/a", "Observation/b", "Observation/c", "Observation/e")
		// _revinclude then _include:iterate from what it added.
		check(ctx, "Patient", "_id=p1&_revinclude=MedicationRequest:subject&_include:iterate=MedicationRequest:medication", 1,
			"MedicationRequest/mr1", "MedicationRequest/mr2", "Medication/m1", "Medication/m2")
		// Wildcards and target types.
		check(ctx, "MedicationRequest", "_id=mr1&_include=*", 1, "Medication/m1", "Patient/p1", "Practitioner/dr1")
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:*", 1, "Medication/m1", "Patient/p1", "Practitioner/dr1")
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:*:Patient", 1, "Patient/p1")
		check(ctx, "MedicationRequest", "_id=mr1&_include=MedicationRequest:subject:Group", 1)
		check(ctx, "MedicationRequest", "_id=mr1&_include=Medication:*", 1)
		check(ctx, "MedicationRequest", "_id=mr1&_include=*&_include:iterate=Medication:manufacturer", 1,
			"Medication/m1", "Organization/maker", "Patient/p1", "Practitioner/dr1")
		check(ctx, "Practitioner", "_id=dr1&_revinclude=*", 1, "MedicationRequest/mr1", "Patient/p1")
		check(ctx, "Practitioner", "_id=dr1&_revinclude=MedicationRequest:*", 1, "MedicationRequest/mr1")
		check(ctx, "Practitioner", "_id=dr1&_revinclude=*&_revinclude:iterate=MedicationRequest:subject", 1,
			"MedicationRequest/mr1", "MedicationRequest/mr2", "Patient/p1")

		// Under WithVisibility, includes neither show nor pass through
		// resources the caller may not see.
		hideB := fhir.WithVisibility(ctx, func(st *fhir.Stored) bool { return st.Ref() != "Observation/b" })
		check(hideB, "Observation", "_id=a&_include:iterate=Observation:has-member", 1)
		check(hideB, "Observation", "_id=e&_include:iterate=Observation:has-member", 1)
		hideP := fhir.WithVisibility(ctx, func(st *fhir.Stored) bool { return st.Type != "Patient" })
		check(hideP, "Practitioner", "_id=dr1&_revinclude=*&_revinclude:iterate=MedicationRequest:subject", 1, "MedicationRequest/mr1")

		// Deleted resources are not included.
		e.delete("Medication", "m2")
		check(ctx, "MedicationRequest", "_id=mr2&_include=MedicationRequest:medication", 1)

		e.invalid("MedicationRequest", "_include=Foo:bar", "not a resource type")
		e.invalid("MedicationRequest", "_include=MedicationRequest:status", "no reference parameter")
		e.invalid("MedicationRequest", "_include:often=MedicationRequest:medication", "use :iterate")
		e.invalid("MedicationRequest", "_include=MedicationRequest:subject:Medication", "refers to")
		e.invalid("MedicationRequest", "_revinclude=MedicationRequest", "not of the form")
		e.invalid("MedicationRequest", "_include=MedicationRequest:*:Nope", "not a resource type")
	})
}

func TestCompositesInCapabilityStatement(t *testing.T) {
	ix := fhir.NewSpecIndexer()
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type          string
				SearchInclude []string
				SearchParam   []struct{ Name, Type string }
			}
		}
	}
	if err := json.Unmarshal(fhir.Capabilities("http://x/fhir", "test", "", ix.Unsupported), &cs); err != nil {
		t.Fatal(err)
	}
	composites := map[string][]string{}
	includes := map[string][]string{}
	for _, r := range cs.Rest[0].Resource {
		for _, p := range r.SearchParam {
			if p.Type == "composite" {
				composites[r.Type] = append(composites[r.Type], p.Name)
			}
		}
		includes[r.Type] = r.SearchInclude
	}
	sort.Strings(composites["Observation"])
	want := []string{"code-value-concept", "code-value-date", "code-value-quantity", "code-value-string", "combo-code-value-concept",
		"combo-code-value-quantity", "component-code-value-concept", "component-code-value-quantity"}
	if !slices.Equal(composites["Observation"], want) {
		t.Errorf("Observation composites %q, want %q", composites["Observation"], want)
	}
	if len(composites["Questionnaire"]) != 2 || len(composites["DiagnosticReport"]) != 0 {
		t.Errorf("Questionnaire composites %q, DiagnosticReport %q", composites["Questionnaire"], composites["DiagnosticReport"])
	}
	if len(composites["DocumentReference"]) != 0 || !slices.Contains(ix.Unsupported("DocumentReference"), "relationship") {
		t.Errorf("DocumentReference relationship is listed, though careloop cannot evaluate it")
	}
	if !slices.Contains(includes["MedicationRequest"], "*") || !slices.Contains(includes["MedicationRequest"], "MedicationRequest:*") {
		t.Errorf("MedicationRequest searchInclude %q lacks the wildcards", includes["MedicationRequest"])
	}
}
