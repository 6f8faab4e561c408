package mail_test

import (
	"context"
	"testing"
)

// BenchmarkSMTPSend sends from parallel goroutines through one pooled
// sender (STARTTLS, AUTH PLAIN, default MaxConns) to a loopback mailtest
// server and reports emails/s.
func BenchmarkSMTPSend(b *testing.B) {
	srv, s := newPooled(b, nil)
	m := note(1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Send(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "emails/s")
	st := srv.Stats()
	if st.Messages != b.N {
		b.Fatalf("the server accepted %d messages, want %d", st.Messages, b.N)
	}
	b.ReportMetric(float64(st.Connections), "connections")
}
