package fhir

import (
	"encoding/json"
	"testing"
)

// FuzzCheck feeds arbitrary envelopes: check must never panic, and must
// accept only JSON whose resourceType and id match the envelope's.
func FuzzCheck(f *testing.F) {
	f.Add("Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1"}`))
	f.Add("Observation", "o-1.2", []byte(`{"resourceType":"Observation","id":"o-1.2","valueQuantity":{"value":1e400}}`))
	f.Add("Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","id":"p2"}`))
	f.Add("patient", "", []byte(`[]`))
	f.Fuzz(func(t *testing.T, typ, id string, body []byte) {
		err := check(Resource{Type: typ, ID: id, JSON: body})
		if err != nil {
			return
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if json.Unmarshal(body, &head) != nil || head.ResourceType != typ || head.ID != id || !typePattern.MatchString(typ) || !idPattern.MatchString(id) {
			t.Fatalf("accepted %q/%q with body %q", typ, id, body)
		}
	})
}
