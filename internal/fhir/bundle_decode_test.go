package fhir

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jsonx"
)

// bundleFromValue is what decodeBundle must read, taken from the document
// decoded as a whole; ok is false when a member it reads has the wrong
// JSON type.
func bundleFromValue(v any) (b bundleIn, ok bool) {
	str := func(m map[string]any, k string, dst *string) bool {
		switch s := m[k].(type) {
		case nil:
			return true
		case string:
			*dst = s
			return true
		}
		return false
	}
	obj := func(v any) (map[string]any, bool) {
		if v == nil {
			return map[string]any{}, true
		}
		m, ok := v.(map[string]any)
		return m, ok
	}
	top, ok := obj(v)
	if !ok || !str(top, "resourceType", &b.ResourceType) || !str(top, "type", &b.Type) {
		return b, false
	}
	var entries []any
	switch x := top["entry"].(type) {
	case nil:
	case []any:
		entries = x
	default:
		return b, false
	}
	for _, ev := range entries {
		var e entryIn
		m, ok := obj(ev)
		if !ok || !str(m, "fullUrl", &e.FullURL) {
			return b, false
		}
		if rv, has := m["resource"]; has && rv != nil {
			e.Resource = []byte("placeholder") // compared by value below
		}
		if rq, has := m["request"]; has && rq != nil {
			rm, ok := rq.(map[string]any)
			if !ok {
				return b, false
			}
			e.Request = &entryRequest{}
			if !str(rm, "method", &e.Request.Method) || !str(rm, "url", &e.Request.URL) ||
				!str(rm, "ifNoneExist", &e.Request.IfNoneExist) || !str(rm, "ifMatch", &e.Request.IfMatch) {
				return b, false
			}
		}
		b.Entry = append(b.Entry, e)
	}
	return b, true
}

// checkDecodeBundle holds decodeBundle to the document decoded as a whole.
func checkDecodeBundle(t *testing.T, raw []byte) {
	t.Helper()
	got, err := decodeBundle(raw)
	v, verr := jsonx.Decode(raw)
	if verr != nil {
		if err == nil {
			t.Fatalf("%q: decodeBundle accepted malformed JSON", raw)
		}
		return
	}
	want, ok := bundleFromValue(v)
	if !ok {
		if err == nil {
			t.Fatalf("%q: decodeBundle accepted a member of the wrong type", raw)
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	if got.ResourceType != want.ResourceType || got.Type != want.Type || len(got.Entry) != len(want.Entry) {
		t.Fatalf("%q: got %+v, want %+v", raw, got, want)
	}
	top, _ := v.(map[string]any)
	entries, _ := top["entry"].([]any)
	for i, e := range got.Entry {
		w := want.Entry[i]
		if e.FullURL != w.FullURL || !reflect.DeepEqual(e.Request, w.Request) || (e.Resource == nil) != (w.Resource == nil) {
			t.Fatalf("%q: entry %d is %+v, want %+v", raw, i, e, w)
		}
		if e.Resource != nil {
			res, err := jsonx.Decode(e.Resource)
			if err != nil || !reflect.DeepEqual(res, entries[i].(map[string]any)["resource"]) {
				t.Fatalf("%q: entry %d's resource is %s (%v)", raw, i, e.Resource, err)
			}
		}
	}
}

var bundleSamples = []string{
	`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=x"}}]}`,
	`{"resourceType":"Bundle","entry":null,"type":null}`, `null`, `{}`, `[]`, `{"entry":[null,{}]}`,
	`{"entry":[{"resource":null,"request":null}]}`, `{"entry":[1]}`, `{"entry":{}}`, `{"type":1}`,
	`{"entry":[{"request":{"method":5}}]}`, `{"entry":[{"x":1}],"entry":[{"fullUrl":"a"}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"a":[1,2,{"b":"c"}]}}]} x`, `{"entry":[{"resource":{"a":}}]}`,
}

func TestDecodeBundle(t *testing.T) {
	for _, s := range bundleSamples {
		checkDecodeBundle(t, []byte(s))
	}
	for _, f := range fhirtest.SyntheaFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeBundle(t, raw)
		b, err := decodeBundle(raw)
		if err != nil || len(b.Entry) == 0 || !bytes.HasPrefix(b.Entry[0].Resource, []byte("{")) {
			t.Fatalf("%s: %d entries, %v", f, len(b.Entry), err)
		}
	}
}

func FuzzDecodeBundle(f *testing.F) {
	for _, s := range bundleSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeBundle(t, raw)
	})
}

// TestTransactionKeepsResourcesAsReceived: a transaction stores each
// resource compacted, members in the order received, with only its
// references to other entries rewritten.
func TestTransactionKeepsResourcesAsReceived(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) { testKeepsResourcesAsReceived(t, e) })
	}
}

func testKeepsResourcesAsReceived(t *testing.T, e db.Dialect) {
	api, _ := testAPI(t, e)
	raw := []byte(`{"resourceType": "Bundle", "type": "transaction", "entry": [
	  {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "name": [{"family": "Okafor"}]},
	   "request": {"method": "POST", "url": "Patient"}},
	  {"resource": {
	      "resourceType": "Observation",
	      "status": "final",
	      "code": {"text": "glucose <high> & \u00e9"},
	      "subject": {"reference": "urn:uuid:p1", "display": "urn:uuid:p1"},
	      "performer": [{"reference": "Practitioner/x"}]
	    },
	   "request": {"method": "POST", "url": "Observation"}}]}`)
	entries, err := entriesOf(raw)
	if err != nil {
		t.Fatal(err)
	}
	results, err := api.transaction(context.Background(), &Principal{OrgID: "org", Kind: "operator"}, entries, false)
	if err != nil {
		t.Fatal(err)
	}
	patient, obs := results[0].stored, results[1].stored
	head := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"meta":{"versionId":"1","lastUpdated":%q},`,
		obs.ID, obs.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	want := head + `"status":"final","code":{"text":"glucose <high> & \u00e9"},"subject":{"reference":"Patient/` + patient.ID +
		`","display":"urn:uuid:p1"},"performer":[{"reference":"Practitioner/x"}]}`
	if string(obs.JSON) != want {
		t.Fatalf("stored\n%s\nwant\n%s", obs.JSON, want)
	}
}
