package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestNDJSONImportResumes interrupts an import after its first chunk and
// checks that running it again stores every line exactly once.
func TestNDJSONImportResumes(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			var b strings.Builder
			const lines = 1234
			for i := 0; i < lines; i++ {
				fmt.Fprintf(&b, `{"resourceType":"Patient","name":[{"family":"Line%d"}]}`+"\n", i)
			}
			path := filepath.Join(t.TempDir(), "patients.ndjson")
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			orgs, err := s.a.Orgs.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			org := orgs[0].ID
			im := s.a.Importer()
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := im.Import(ctx, org, path, func(int64) { cancel() }); err == nil {
				t.Fatal("the interrupted import reported success")
			}
			if got := total(t, s.do("GET", "/fhir/Patient?_summary=count", nil)); got != 500 {
				t.Fatalf("%d patients after the first chunk, want 500", got)
			}
			res, err := im.Import(context.Background(), org, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Resumed || res.Resources != lines-500 {
				t.Fatalf("resume: %+v", res)
			}
			if got := total(t, s.do("GET", "/fhir/Patient?_summary=count", nil)); got != lines {
				t.Fatalf("%d patients after resuming, want %d", got, lines)
			}
			again, err := im.Import(context.Background(), org, path, nil)
			if err != nil || !again.Skipped {
				t.Fatalf("third run: %+v %v", again, err)
			}
		})
	}
}
