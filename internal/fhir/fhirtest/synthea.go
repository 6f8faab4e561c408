// Package fhirtest gives tests the shared Synthea sample bundles, read in
// place from shared/fixtures/synthea beside the repository (or
// CARELOOP_SYNTHEA_DIR); they are never copied into the repository.
package fhirtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// SyntheaDir returns the folder of the Synthea bundles. Without it the test
// is skipped, or fails when CI is set.
func SyntheaDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("CARELOOP_SYNTHEA_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "..", "shared", "fixtures", "synthea")
			if _, err := os.Stat(dir); err == nil {
				return dir
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	const msg = "Synthea fixtures not found beside the repository (shared/fixtures/synthea); set CARELOOP_SYNTHEA_DIR"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// SyntheaFiles returns the bundle files, sorted.
func SyntheaFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(SyntheaDir(tb), "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no Synthea bundles in %s (%v)", SyntheaDir(tb), err)
	}
	sort.Strings(files)
	return files
}

var (
	loadOnce  sync.Once
	resources []map[string]any
	loadErr   error
)

// SyntheaResources returns every resource of every bundle, decoded with
// json.Decoder.UseNumber, loaded once per test binary. Callers must not
// modify them.
func SyntheaResources(tb testing.TB) []map[string]any {
	tb.Helper()
	files := SyntheaFiles(tb)
	loadOnce.Do(func() {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				loadErr = err
				return
			}
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var bundle struct {
				Entry []struct {
					Resource map[string]any `json:"resource"`
				} `json:"entry"`
			}
			if err := d.Decode(&bundle); err != nil {
				loadErr = err
				return
			}
			for _, e := range bundle.Entry {
				resources = append(resources, e.Resource)
			}
		}
	})
	if loadErr != nil {
		tb.Fatalf("reading Synthea fixtures: %v", loadErr)
	}
	return resources
}

// OfType returns the resources of type typ.
func OfType(rs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range rs {
		if r["resourceType"] == typ {
			out = append(out, r)
		}
	}
	return out
}
