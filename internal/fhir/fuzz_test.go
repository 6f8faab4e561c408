package fhir

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"testing"

	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// fuzzAPI is an API on a fresh SQLite database with one organisation.
func fuzzAPI(f *testing.F) (*API, *db.DB) { return testAPI(f, db.SQLite) }

// testAPI is an API on a fresh database of engine e with one organisation,
// "org", that the operator's Principal may use.
func testAPI(tb testing.TB, e db.Dialect) (*API, *db.DB) {
	d := dbtest.Open(tb, e)
	if _, err := d.Write.Exec("INSERT INTO organizations (id, slug, name, created_at) VALUES ('org', 'org', 'Org', CURRENT_TIMESTAMP)"); err != nil {
		tb.Fatal(err)
	}
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	store := NewStore(d, q, NewSpecIndexer())
	return NewAPI(APIConfig{DB: d, Store: store, Search: NewSearcher(d, LookupParam), Access: OperatorAccess{}, IsType: spec.IsResourceType}), d
}

func countResources(t *testing.T, d *db.DB) int {
	var n int
	if err := d.Read.QueryRow("SELECT (SELECT count(*) FROM fhir_resources) + (SELECT count(*) FROM fhir_resource_history)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzTransaction feeds arbitrary Bundles to transaction processing: it must
// never panic, and a failed transaction must store nothing.
func FuzzTransaction(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:1"}},"request":{"method":"POST","url":"Observation"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/a"}},{"request":{"method":"DELETE","url":"Patient/a"}},{"request":{"method":"GET","url":"Patient/a"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","link":[{"other":{"reference":"Patient?identifier=x|y"}}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=a|b"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?name=x"}}]}`))
	api, d := fuzzAPI(f)
	p := &Principal{OrgID: "org", Kind: "operator"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := entriesOf(raw)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("a bad bundle gave %v, want an invalid-input error", err)
			}
			return
		}
		if len(entries) > 50 {
			return
		}
		before := countResources(t, d)
		results, err := api.transaction(context.Background(), p, entries, false)
		if err != nil {
			var oe *OutcomeError
			if c := errs.CodeOf(err); c == errs.Internal && !errors.As(err, &oe) {
				t.Fatalf("internal error on bad input: %v", err)
			}
			if after := countResources(t, d); after != before {
				t.Fatalf("a failed transaction stored %d versions", after-before)
			}
			return
		}
		if len(results) != len(entries) {
			t.Fatalf("%d results for %d entries", len(results), len(entries))
		}
	})
}

// FuzzSearchParams feeds arbitrary search parameters: the search must never
// panic, and bad parameters must be invalid-input errors, never SQL errors.
func FuzzSearchParams(f *testing.F) {
	for _, s := range []string{"Observation code=http://loinc.org|1234-5&date=ge2024-01&_sort=-date",
		"Observation subject:Patient.name=peter&value-quantity=gt5.4|http://unitsofmeasure.org|mg",
		"Patient _has:Observation:patient:code=1234&birthdate=le2000&_include=Patient:general-practitioner",
		"Patient name:missing=true&_count=0&_summary=count", "Encounter date=2024-02-30", "Patient _cursor=!!&_elements=name",
		`Observation component-code-value-quantity=http://loinc.org|8480-6$gt130&combo-code-value-concept=a\$b$c,|d$e|f`,
		"Observation code-value-date=x$ge2024,y$2024-13&code-value-string:missing=true&code-value-quantity=$",
		"Observation _id=a&_include:iterate=Observation:has-member&_revinclude:iterate=*&_include=Observation:*:Patient",
		"MedicationRequest _include=*&_include:iterate=Medication:manufacturer", "DocumentReference relationship=x$y"} {
		typ, q, _ := cut(s)
		f.Add(typ, q)
	}
	api, d := fuzzAPI(f)
	// Something to match and to include.
	err := d.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := api.store.PutTx(context.Background(), tx, "org", []Resource{
			{Type: "Medication", ID: "m", JSON: []byte(`{"resourceType":"Medication","id":"m"}`)},
			{Type: "MedicationRequest", ID: "mr", JSON: []byte(`{"resourceType":"MedicationRequest","id":"mr","medicationReference":{"reference":"Medication/m"}}`)},
			{Type: "Observation", ID: "a", JSON: []byte(`{"resourceType":"Observation","id":"a","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
				"hasMember":[{"reference":"Observation/a"}],"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":142}}]}`)},
		})
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, typ, rawQuery string) {
		if !spec.IsResourceType(typ) {
			return
		}
		params, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		_, err = api.search.Search(context.Background(), "org", typ, params, false)
		if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("%s?%s: %v", typ, rawQuery, err)
		}
	})
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
