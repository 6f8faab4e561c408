package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

func TestImportAndAPIKeys(t *testing.T) {
	syntheaDir := fhirtest.SyntheaDir(t)
	data := t.TempDir()
	// An organisation comes from the demo seeding (3 patients keeps it quick).
	if code, _, stderr := runCmd(t, "migrate", "--data-dir", data); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	code, _, stderr := runCmd(t, "import", "--data-dir", data, "--org", "nowhere", syntheaDir)
	if code != exitError || !strings.Contains(stderr, `organisation "nowhere"`) {
		t.Fatalf("import into a missing organisation: %d %q", code, stderr)
	}
	startDemoOnce(t, data)

	files, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no Synthea fixtures")
	}
	// Half now, then all: the first half is skipped the second time.
	dir := t.TempDir()
	for _, f := range files[:len(files)/2] {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600)
	}
	code, out, stderr := runCmd(t, "import", "--data-dir", data, "--org", "riverside-family-clinic", dir)
	if code != 0 || !strings.Contains(out, "Imported ") {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	// Nothing serves this database now: the follow-up work of the writes waits, and the import says so.
	if !regexp.MustCompile(`Background work waits for careloop serve: [1-9]\d* items`).MatchString(out) || !strings.Contains(out, "careloop backlog") {
		t.Errorf("import did not point to the background work it left: %s", out)
	}
	code, out, stderr = runCmd(t, "import", "--data-dir", data, "--org", "riverside-family-clinic", syntheaDir)
	if code != 0 || !strings.Contains(out, "files were already imported and skipped") {
		t.Fatalf("second import: %d %s %s", code, out, stderr)
	}
	if !strings.Contains(out, "12 files were already imported") {
		t.Errorf("second import did not skip the 12 imported files: %s", out)
	}

	// Bad input: a file that is not FHIR changes nothing and says which file.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"resourceType":"Observation","status":"nonsense","code":{"text":"x"}}`), 0o600)
	code, _, stderr = runCmd(t, "import", "--data-dir", data, "--org", "riverside-family-clinic", bad)
	if code != exitError || !strings.Contains(stderr, "bad.json") {
		t.Fatalf("bad import: %d %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "import", "--data-dir", data, "--org", "riverside-family-clinic"); code != exitUsage || !strings.Contains(stderr, "usage") {
		t.Fatalf("import without paths: %d %q", code, stderr)
	}

	code, out, stderr = runCmd(t, "reindex", "--data-dir", data, "--org", "riverside-family-clinic", "--type", "Observation")
	if code != 0 || !regexp.MustCompile(`Reindexed [1-9]\d* resources of Riverside Family Clinic`).MatchString(out) {
		t.Fatalf("reindex: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCmd(t, "reindex", "--data-dir", data, "--org", "riverside-family-clinic", "--type", "Nothing"); code != exitUsage || !strings.Contains(stderr, "not a FHIR R4 resource type") {
		t.Fatalf("reindex of a bad type: %d %s", code, stderr)
	}

	code, out, _ = runCmd(t, "apikey", "create", "--data-dir", data, "--org", "riverside-family-clinic", "--name", "lab system")
	token := regexp.MustCompile(`clk_[A-Za-z0-9_]+`).FindString(out)
	if code != 0 || token == "" {
		t.Fatalf("apikey create: %d %s", code, out)
	}
	code, out, _ = runCmd(t, "apikey", "list", "--data-dir", data, "--org", "riverside-family-clinic")
	if code != 0 || !strings.Contains(out, "lab system") || !strings.Contains(out, "Demo integration") {
		t.Fatalf("apikey list: %d %s", code, out)
	}
	id := regexp.MustCompile(`(?m)^([A-Z0-9]{16})\s+lab system`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no id for the new key in %s", out)
	}
	if code, out, _ := runCmd(t, "apikey", "revoke", "--data-dir", data, "--org", "riverside-family-clinic", "--id", id[1]); code != 0 || !strings.Contains(out, "Revoked") {
		t.Fatalf("apikey revoke: %d %s", code, out)
	}
	if code, _, stderr := runCmd(t, "apikey", "revoke", "--data-dir", data, "--org", "riverside-family-clinic", "--id", id[1]); code != exitError || !strings.Contains(stderr, "no live API key") {
		t.Fatalf("second revoke: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "apikey", "create", "--data-dir", data, "--org", "riverside-family-clinic"); code != exitUsage || !strings.Contains(stderr, "--name is required") {
		t.Fatalf("create without name: %d %s", code, stderr)
	}
}

// startDemoOnce seeds a small demo organisation into data and stops.
func startDemoOnce(t *testing.T, data string) {
	t.Helper()
	_, _, stop := startDemoIn(t, data, "3")
	if code := stop(); code != 0 {
		t.Fatalf("demo exit %d", code)
	}
}
