//go:build unix

package identity_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
)

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyPassword measures one sign-in's password check with the
// default argon2id parameters (19 MiB, t=2, p=1, so one core). It reports
// CPU time per verification besides wall time, since wall time grows with
// whatever else the machine runs (careloop's budget is 100 ms of one core;
// docs/PERFORMANCE.md records the figure).
func BenchmarkVerifyPassword(b *testing.B) {
	hash, err := identity.HashPassword("correct horse battery staple", identity.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		if ok, err := identity.VerifyPassword(hash, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	per := (cpuTime(b) - start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Millisecond), "cpu-ms/op")
}
