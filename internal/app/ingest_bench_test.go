package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/fhirtest"

	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// BenchmarkIngestSynthea imports the 24 Synthea transaction bundles (4,560
// resources) b.N times in one stream, as 'careloop import' of b.N copies of
// them would: validation, reference rewriting, storage with history, the
// search index and change jobs, without HTTP. Each copy is stored under
// new ids (the files are rewritten with trailing spaces so the import does
// not skip them as done). One stream, not one import per iteration, so
// that the figure is the steady rate of a long import and not its start
// and end. It reports resources per second, CPU per resource and the peak
// heap.
//
//	go test -run XXX -bench IngestSynthea -benchtime 20x ./internal/app/
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
			var paths []string
			for i := 0; i < b.N; i++ {
				for j, raw := range bundles {
					path := filepath.Join(dir, fmt.Sprintf("%05d-%s", i, filepath.Base(files[j])))
					if err := os.WriteFile(path, append(raw, bytes.Repeat([]byte(" "), i+1)...), 0o600); err != nil {
						b.Fatal(err)
					}
					paths = append(paths, path)
				}
			}
			stored := 0
			var peak uint64
			b.ResetTimer()
			start := time.Now()
			cpuStart := cpuTime(b)
			err = im.ImportAll(context.Background(), orgs[0].ID, paths, nil, func(res *fhir.ImportResult) {
				stored += res.Resources
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			})
			if err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			cpu := cpuTime(b) - cpuStart
			b.StopTimer()
			b.ReportMetric(float64(cpu.Microseconds())/float64(stored), "cpu-µs/resource")
			b.ReportMetric(float64(stored)/elapsed.Seconds(), "resources/s")
			b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		})
	}
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
