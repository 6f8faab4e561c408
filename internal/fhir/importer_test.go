package fhir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestImportAllWithLargeFiles imports files larger than a group and than
// what may be prepared ahead, between small ones, with small limits: every
// file must be stored, in order, and the import must not wait for room
// that only a later file could make.
func TestImportAllWithLargeFiles(t *testing.T) {
	saved := importSizes
	importSizes.group, importSizes.aheadResources, importSizes.aheadFiles = 4, 4, 2
	t.Cleanup(func() { importSizes = saved })
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) { importLargeFiles(t, e) })
	}
}

func importLargeFiles(t *testing.T, e db.Dialect) {

	api, d := testAPI(t, e)
	dir := t.TempDir()
	var paths []string
	want := 0
	for i, n := range []int{1, 3, 9, 2, 5, 1, 1, 12, 3} {
		var entries []string
		for j := range n {
			entries = append(entries, fmt.Sprintf(`{"resource": {"resourceType": "Patient", "id": "f%d-%d"}, "request": {"method": "PUT", "url": "Patient/f%d-%d"}}`, i, j, i, j))
		}
		path := filepath.Join(dir, fmt.Sprintf("%02d.json", i))
		doc := `{"resourceType": "Bundle", "type": "transaction", "entry": [` + strings.Join(entries, ", ") + `]}`
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		want += n
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var order []string
	stored := 0
	err := api.ImportAll(ctx, "org", paths, nil, func(r *ImportResult) {
		order = append(order, filepath.Base(r.Path))
		stored += r.Resources
	})
	if err != nil {
		t.Fatalf("import: %v (files stored: %q)", err, order)
	}
	if stored != want || countResources(t, d) != want || len(order) != len(paths) {
		t.Errorf("stored %d resources (%d in the database) from %d files, want %d from %d", stored, countResources(t, d), len(order), want, len(paths))
	}
	for i, name := range order {
		if name != fmt.Sprintf("%02d.json", i) {
			t.Errorf("file %d reported was %s", i, name)
		}
	}
}
