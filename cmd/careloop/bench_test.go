package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

// TestBenchIngestAndSearch runs both FHIR benchmarks against a demo server:
// the ingest benchmark must store what it says it stored, and the search
// benchmark must get answers, not errors.
func TestBenchIngestAndSearch(t *testing.T) {
	base, _, stop := startDemoIn(t, t.TempDir(), "5")
	defer stop()
	token := demo.DemoAPIToken(1) // the default --seed
	countObs := func() int {
		code, body := getAuth(t, base+"/fhir/Observation?_summary=count", token)
		if code != 200 {
			t.Fatalf("count: %d %s", code, body)
		}
		m := regexp.MustCompile(`"total":(\d+)`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no total in %s", body)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	before := countObs()

	code, out, errOut := runCmd(t, "bench", "ingest", "--url", base, "--token", token, "--from", fhirtest.SyntheaDir(t), "--resources", "300", "--concurrency", "2")
	if code != 0 {
		t.Fatalf("bench ingest: exit %d\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`(\d+) resources stored in .*: (\d+) resources/s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("bench ingest output: %s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 300 {
		t.Errorf("stored %d resources, asked for 300", n)
	}
	if countObs() <= before {
		t.Errorf("Observations before %d, after %d: the ingest stored none", before, countObs())
	}

	code, out, errOut = runCmd(t, "bench", "search", "--url", base, "--token", token, "--duration", "500ms", "--warmup", "0s", "--patients", "10")
	if code != 0 {
		t.Fatalf("bench search: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "req/s, 0 errors, 0 non-2xx") || !strings.Contains(out, "status 200:") {
		t.Errorf("bench search output: %s", out)
	}

	// Mistakes are usage errors.
	for _, args := range [][]string{
		{"bench", "ingest", "--url", base},
		{"bench", "nothing"},
		{"bench", "search", "--url", "http://192.0.2.1:8080"},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func getAuth(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
