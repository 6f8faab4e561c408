package sms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/careloop/careloop/internal/notify/sms"
)

// BenchmarkWebhookSend sends from 64 goroutines through one Webhook
// adapter (NewClient) to a loopback provider that answers 201 at once,
// and reports messages/s.
func BenchmarkWebhookSend(b *testing.B) {
	var answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := answered.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"gw-%d","status":"queued"}`, n)
	}))
	b.Cleanup(srv.Close)
	wh := &sms.Webhook{URL: srv.URL + "/send", Secret: testSecret, From: "+15557654321", Client: sms.NewClient()}
	b.Cleanup(wh.Client.CloseIdleConnections)
	var seq atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := hello
		for pb.Next() {
			m.ID = "msg-" + strconv.FormatInt(seq.Add(1), 10)
			if _, err := wh.Send(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	if got := answered.Load(); got != int64(b.N) {
		b.Fatalf("the provider answered %d requests, want %d", got, b.N)
	}
}
