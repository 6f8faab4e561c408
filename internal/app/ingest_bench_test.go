package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir/fhirtest"

	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// BenchmarkIngestSynthea imports the 24 Synthea transaction bundles (4,560
// resources) through the import path: validation, reference rewriting,
// storage with history, the search index and change jobs, without HTTP.
// Every iteration imports all bundles again under new ids (the files are
// rewritten with a trailing space so the import does not skip them as
// done). It reports resources per second and the peak heap.
//
//	go test -run XXX -bench IngestSynthea -benchtime 5x ./internal/app/
func BenchmarkIngestSynthea(b *testing.B) {
	files := fhirtest.SyntheaFiles(b)
	var bundles [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		bundles = append(bundles, raw)
	}
	for _, e := range dbtest.Engines() {
		b.Run(string(e), func(b *testing.B) {
			s := newServer(b, e)
			orgs, err := s.a.Orgs.List(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			im := s.a.Importer()
			dir := b.TempDir()
			stored := 0
			var peak uint64
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for j, raw := range bundles {
					b.StopTimer()
					path := filepath.Join(dir, filepath.Base(files[j]))
					if err := os.WriteFile(path, append(raw, bytes.Repeat([]byte(" "), i+1)...), 0o600); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					res, err := im.Import(context.Background(), orgs[0].ID, path, nil)
					if err != nil {
						b.Fatal(err)
					}
					stored += res.Resources
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(stored)/elapsed.Seconds(), "resources/s")
			b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		})
	}
}
