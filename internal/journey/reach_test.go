package journey_test

import (
	"testing"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
)

// TestReachOf: a journey is seen by whoever the policy lets reach the
// patient's orders, reports and results alike; a Consent closing one of
// them hides it.
func TestReachOf(t *testing.T) {
	all := journey.ReachOf(&fhir.Principal{Role: "care-coordinator"})
	if all.Patients != nil || !all.Reaches("anyone") {
		t.Errorf("an unlimited principal reaches %v", all.Patients)
	}
	limited := journey.ReachOf(&fhir.Principal{Role: "clinician", Compartments: func(typ string) ([]string, bool) {
		if typ == "Observation" {
			return []string{"ada"}, true // a Consent closes Bob's results
		}
		return []string{"ada", "bob"}, true
	}})
	if !limited.Reaches("ada") || limited.Reaches("bob") || len(limited.List) != 1 {
		t.Errorf("a clinician with Bob's results closed reaches %v", limited.Patients)
	}
	none := journey.ReachOf(&fhir.Principal{Role: "nurse", Compartments: func(string) ([]string, bool) { return nil, true }})
	if none.Reaches("ada") || none.Patients == nil {
		t.Errorf("a nurse with no patients reaches %v", none.Patients)
	}
}
