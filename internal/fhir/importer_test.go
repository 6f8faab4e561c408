package fhir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

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

// TestImportAllKeepsFilesBeforeAFailure makes the third of four files, all
// in one transaction, fail only when written (its If-Match names a version
// that does not exist): the two before it must be committed and reported,
// nothing of it or after it stored, and a second run after the file is
// mended must skip the first two and store the rest.
func TestImportAllKeepsFilesBeforeAFailure(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			api, d := testAPI(t, e)
			dir := t.TempDir()
			put := func(id, ifMatch string) string {
				return fmt.Sprintf(`{"resource": {"resourceType": "Patient", "id": %q}, "request": {"method": "PUT", "url": "Patient/%s"%s}}`, id, id, ifMatch)
			}
			write := func(name string, entries ...string) string {
				path := filepath.Join(dir, name)
				doc := `{"resourceType": "Bundle", "type": "transaction", "entry": [` + strings.Join(entries, ", ") + `]}`
				if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			paths := []string{
				write("0.json", put("a", ""), put("b", "")),
				write("1.json", put("c", "")),
				write("2.json", put("d", ""), put("e", `, "ifMatch": "W/\"3\""`)),
				write("3.json", put("f", "")),
			}
			var reported []string
			each := func(r *ImportResult) {
				reported = append(reported, fmt.Sprintf("%s:%d:%t", filepath.Base(r.Path), r.Resources, r.Skipped))
			}
			err := api.ImportAll(context.Background(), "org", paths, nil, each)
			if err == nil || !strings.Contains(err.Error(), "2.json") || !strings.Contains(err.Error(), "version") {
				t.Fatalf("import with a failing file: %v, want an error naming 2.json and the version", err)
			}
			if got := strings.Join(reported, " "); got != "0.json:2:false 1.json:1:false" {
				t.Errorf("reported %q, want the two files before the failure", got)
			}
			if n := countResources(t, d); n != 3 {
				t.Errorf("%d resources stored, want 3 (a, b, c)", n)
			}

			write("2.json", put("d", ""), put("e", ""))
			reported = nil
			if err := api.ImportAll(context.Background(), "org", paths, nil, each); err != nil {
				t.Fatalf("second run: %v", err)
			}
			if got := strings.Join(reported, " "); got != "0.json:0:true 1.json:0:true 2.json:2:false 3.json:1:false" {
				t.Errorf("second run reported %q", got)
			}
			if n := countResources(t, d); n != 6 {
				t.Errorf("%d resources stored after the second run, want 6", n)
			}
		})
	}
}

// TestImportAllSkipsARepeatedFile gives the same file twice in one run, as a
// second path to the same bytes: its resources, created without ids, must
// be stored once.
func TestImportAllSkipsARepeatedFile(t *testing.T) {
	api, d := testAPI(t, db.SQLite)
	dir := t.TempDir()
	doc := []byte(`{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}]}`)
	var paths []string
	for _, name := range []string{"a.json", "b.json"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	var skipped []bool
	if err := api.ImportAll(context.Background(), "org", paths, nil, func(r *ImportResult) { skipped = append(skipped, r.Skipped) }); err != nil {
		t.Fatal(err)
	}
	if n := countResources(t, d); n != 1 || len(skipped) != 2 || skipped[0] || !skipped[1] {
		t.Errorf("%d resources stored, skipped %v; want 1 and the second file skipped", n, skipped)
	}
}

// TestImportQueueWithin checks how the writer asks for the next file while
// a transaction is open: a file not ready within the wait is reported as
// such (and the transaction then commits), one that is ready is taken and
// frees its room, and the end of the files is a nil file that is ready.
func TestImportQueueWithin(t *testing.T) {
	q := &importQueue{ready: make(chan *importFile, 1), ahead: semaphore.NewWeighted(5)}
	if f, ok := q.within(10 * time.Millisecond); ok || f != nil {
		t.Fatalf("nothing sent: within gave %v, %t; want nil, false", f, ok)
	}
	if !q.ahead.TryAcquire(5) {
		t.Fatal("the allowance is not free")
	}
	q.ready <- &importFile{path: "a.json", weight: 5}
	if f, ok := q.within(time.Second); !ok || f == nil || f.path != "a.json" {
		t.Fatalf("a file ready: within gave %v, %t", f, ok)
	}
	if !q.ahead.TryAcquire(5) {
		t.Error("taking the file did not free its room")
	}
	close(q.ready)
	if f, ok := q.within(time.Second); !ok || f != nil {
		t.Errorf("after the last file: within gave %v, %t; want nil, true", f, ok)
	}
}

// TestImportFilesFollowsLinks lists a folder holding a link to a file, a
// link to a folder elsewhere, and a link back to the folder itself: every
// import file must be listed once, under the first path that reached it,
// with the size of the file and not of the link; other files are left out
// unless named; and a link that leads nowhere is an error.
func TestImportFilesFollowsLinks(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, n int) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	write("data/a.json", 100)
	write("data/notes.txt", 7)
	write("elsewhere/b.ndjson", 20)
	write("elsewhere/deep/c.json", 3)
	link(filepath.Join(root, "elsewhere"), "data/more")        // a folder elsewhere
	link(filepath.Join(root, "data", "a.json"), "data/z.json") // a second path to a.json
	link(filepath.Join(root, "data"), "data/loop")             // the folder itself

	files, size, err := ImportFiles([]string{filepath.Join(root, "data")})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range files {
		r, _ := filepath.Rel(root, f)
		rel = append(rel, r)
	}
	want := []string{"data/a.json", "data/more/b.ndjson", "data/more/deep/c.json"}
	if fmt.Sprint(rel) != fmt.Sprint(want) {
		t.Errorf("files %v, want %v", rel, want)
	}
	if size != 123 {
		t.Errorf("size %d, want 123", size)
	}

	// A file named directly is listed whatever its name.
	files, size, err = ImportFiles([]string{filepath.Join(root, "data", "notes.txt")})
	if err != nil || len(files) != 1 || size != 7 {
		t.Errorf("named file: %v, %d, %v", files, size, err)
	}

	// A link that leads nowhere fails the listing and names the link.
	link(filepath.Join(root, "gone.json"), "data/broken.json")
	if _, _, err := ImportFiles([]string{filepath.Join(root, "data")}); err == nil || !strings.Contains(err.Error(), "broken.json is a link to "+filepath.Join(root, "gone.json")+", which does not exist") {
		t.Errorf("broken link: %v", err)
	}
}
