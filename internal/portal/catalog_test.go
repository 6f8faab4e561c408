package portal_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/readability"
	"github.com/careloop/careloop/internal/portal"
)

// TestCatalogComplete: every key exists in every language, and every key
// the templates and the code ask for exists.
func TestCatalogComplete(t *testing.T) {
	cat, err := portal.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("keys missing or extra per language: %v", m)
	}
	if got := len(cat.Languages()); got < 2 {
		t.Fatalf("%d languages, want English and Spanish at least", got)
	}
	have := map[string]bool{}
	for _, k := range cat.Keys("en") {
		have[k] = true
	}
	used := map[string]bool{}
	lit := regexp.MustCompile(`(?:t \$?[A-Za-z.]*L|\.T\()\s*"([a-z0-9.\-]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	gos, _ := filepath.Glob("*.go")
	for _, f := range append(files, gos...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") { // a prefix completed at run time: checked below
				used[m[1]] = true
			}
		}
	}
	// Keys built from values: every value they can take.
	for _, prefix := range []string{"flag.", "stage.", "status.", "step.", "appt.", "result.bar.desc."} {
		n := 0
		for k := range have {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no keys for %s*", prefix)
		}
	}
	for _, stage := range []string{"ordered", "scheduled", "collected", "in-progress", "preliminary", "final", "reviewed", "released",
		"notified", "viewed", "acknowledged", "followup-recommended", "followup-booked", "followup-done", "closed", "cancelled", "entered-in-error"} {
		used["stage."+stage] = true
	}
	for _, s := range []string{"normal", "high", "low", "critical-high", "critical-low", "critical", "abnormal", "unknown"} {
		used["status."+s], used["result.bar.desc."+s] = true, true
	}
	for _, f := range []string{"normal", "abnormal", "critical", "unknown"} {
		used["flag."+f] = true
	}
	var missing []string
	for k := range used {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys used but not in the catalog: %v", missing)
	}
}

// TestPlainLanguage: the portal's English reads at or below US grade 8 by
// Flesch-Kincaid, message by message, and about grade 6 on average.
func TestPlainLanguage(t *testing.T) {
	cat, err := portal.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.For("en")
	placeholder := regexp.MustCompile(`\{\{[^}]*\}\}`)
	var sum float64
	var n int
	worst, worstKey := 0.0, ""
	for _, k := range cat.Keys("en") {
		if strings.HasPrefix(k, "date.") || strings.HasPrefix(k, "month.") || strings.HasPrefix(k, "mon.") || strings.HasPrefix(k, "weekday.") {
			continue // names and patterns, not prose
		}
		text := placeholder.ReplaceAllString(en.T(k, "Count", 2), "it")
		if readability.Words(text) < 8 {
			// Labels and short phrases: the formula means nothing on a
			// few words (three words of two syllables read as grade 9).
			continue
		}
		g := readability.Grade(text)
		sum += g
		n++
		if g > worst {
			worst, worstKey = g, k
		}
		if g > 8 {
			t.Errorf("%s reads at grade %.1f (at most 8): %q", k, g, text)
		}
	}
	mean := sum / float64(n)
	t.Logf("%d English messages: mean grade %.1f, worst %.1f (%s)", n, mean, worst, worstKey)
	if mean > 6.5 {
		t.Errorf("mean grade %.1f: aim for 6", mean)
	}
}
