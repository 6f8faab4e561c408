package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// BenchmarkColdStart measures the time from starting the careloop binary
// with "serve" on an existing 200-patient demo database to the first 200
// from /readyz. It builds the binary and seeds the database first.
//
//	go test -run XXX -bench ColdStart -benchtime 20x ./cmd/careloop/
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "careloop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	client := &http.Client{Timeout: time.Second}
	// Seed the demo database once: demo serves only after seeding.
	seedAddr := freeAddrB(b)
	seed := exec.Command(bin, "demo", "--data-dir", data, "--addr", seedAddr, "--log-level", "error")
	if err := seed.Start(); err != nil {
		b.Fatal(err)
	}
	waitReady(b, client, seedAddr, 2*time.Minute)
	seed.Process.Signal(syscall.SIGTERM)
	seed.Wait()

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		addr := freeAddrB(b)
		cmd := exec.Command(bin, "serve", "--data-dir", data, "--addr", addr, "--log-level", "error")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, client, addr, 30*time.Second)
		lat = append(lat, time.Since(start))
		b.StopTimer()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// waitReady polls addr's /readyz until it answers 200.
func waitReady(b *testing.B, client *http.Client, addr string, within time.Duration) {
	b.Helper()
	start := time.Now()
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Since(start) > within {
			b.Fatalf("%s not ready within %s", addr, within)
		}
		time.Sleep(time.Millisecond)
	}
}

func freeAddrB(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
