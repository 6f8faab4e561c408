package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"

	"github.com/careloop/careloop/internal/fhir/spec"
)

func syntheaDir(tb testing.TB) string { return fhirtest.SyntheaDir(tb) }

type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

// syntheaBundles returns the raw bundles and their entries.
func syntheaBundles(tb testing.TB) (map[string][]byte, map[string][]bundleEntry) {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir(tb), "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no Synthea bundles: %v", err)
	}
	raws := map[string][]byte{}
	entries := map[string][]bundleEntry{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var b struct{ Entry []bundleEntry }
		if err := json.Unmarshal(data, &b); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		raws[filepath.Base(f)] = data
		entries[filepath.Base(f)] = b.Entry
	}
	return raws, entries
}

func TestSynthea(t *testing.T) {
	raws, entries := syntheaBundles(t)
	counts := map[string]int{}
	minimal := map[string]int{}
	for _, name := range slices.Sorted(mapKeys(entries)) {
		for i, e := range entries[name] {
			var head struct{ ResourceType string }
			if err := json.Unmarshal(e.Resource, &head); err != nil {
				t.Fatal(err)
			}
			issues := Resource(head.ResourceType, e.Resource)
			if len(issues) > 0 {
				t.Errorf("%s entry %d (%s): %d issues, first: %+v", name, i, head.ResourceType, len(issues), issues[0])
				continue
			}
			if spec.IsFirstClass(head.ResourceType) {
				counts[head.ResourceType]++
			} else {
				minimal[head.ResourceType]++
			}
		}
		// The whole bundle, with every entry validated in place.
		if issues := Resource("Bundle", raws[name]); len(issues) > 0 {
			t.Errorf("bundle %s: %d issues, first: %+v", name, len(issues), issues[0])
		}
	}
	total := 0
	for _, rt := range slices.Sorted(mapKeys(counts)) {
		t.Logf("validated in full: %-20s %5d", rt, counts[rt])
		total += counts[rt]
	}
	for _, rt := range slices.Sorted(mapKeys(minimal)) {
		t.Logf("minimal checks:    %-20s %5d", rt, minimal[rt])
	}
	t.Logf("%d first-class resources in %d bundles validated with no issue", total, len(entries))
	if total < 1000 {
		t.Errorf("only %d first-class resources validated", total)
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestConcurrent validates the Synthea resources from several goroutines at
// once (run with -race).
func TestConcurrent(t *testing.T) {
	_, entries := syntheaBundles(t)
	var raws [][]byte
	for _, name := range slices.Sorted(mapKeys(entries))[:2] {
		for _, e := range entries[name] {
			raws = append(raws, e.Resource)
		}
	}
	bad := []byte(`{"resourceType": "Observation", "status": "finall", "code": {"text": "x"}}`)
	done := make(chan string)
	for g := range 4 {
		go func() {
			for i, raw := range raws {
				if i%(g+7) == 0 {
					if is := Resource("", bad); len(is) != 1 || is[0].Expression != "Observation.status" {
						done <- fmt.Sprintf("bad resource: %+v", is)
						return
					}
				}
				if is := Resource("", raw); len(is) != 0 {
					done <- fmt.Sprintf("resource %d: %+v", i, is)
					return
				}
			}
			done <- ""
		}()
	}
	for range 4 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
