package fhirpath

import (
	"slices"
	"testing"
)

func TestSplitUnion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Patient.name", []string{"Patient.name"}},
		{"A.x | B.y", []string{"A.x", "B.y"}},
		{"(A.value as Quantity) | (A.value as SampledData)", []string{"(A.value as Quantity)", "(A.value as SampledData)"}},
		{"A.x.where(y = 'a|b') | B.z", []string{"A.x.where(y = 'a|b')", "B.z"}},
		{"A.x.where(a | b) | B.z", []string{"A.x.where(a | b)", "B.z"}},
		{"A.x['|'] | B", []string{"A.x['|']", "B"}},
	} {
		if got := SplitUnion(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitUnion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
