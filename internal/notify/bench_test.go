package notify_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// benchPatients adds n patients reachable on channel ("sms" or "email")
// and returns their recipients.
func benchPatients(e *env, n int, channel string) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("Patient/b%d", i)
		c := notify.Contact{Phone: fmt.Sprintf("+1555%07d", i)}
		if channel == notify.Email {
			c = notify.Contact{Email: fmt.Sprintf("b%d@example.org", i)}
		}
		e.people.add(out[i], c)
	}
	return out
}

// benchThroughput enqueues b.N events, a thousand to a transaction as a
// busy producer would, while the service runs, and reports the messages
// handed to the provider per second, from the first event to the last
// message accepted.
func benchThroughput(b *testing.B, channel string, arrived func(e *env) int) {
	d := dbtest.Open(b, db.SQLite)
	e := newEnv(b, d)
	recipients := benchPatients(e, b.N, channel)
	b.ResetTimer()
	start := time.Now()
	for lo := 0; lo < b.N; lo += 1000 {
		var evs []notify.Event
		for _, r := range recipients[lo:min(lo+1000, b.N)] {
			evs = append(evs, notify.Event{Key: "bench", Kind: "result-ready", Recipient: r})
		}
		e.enqueue(evs...)
	}
	for arrived(e) < b.N {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "messages/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSendSMS measures text messages handed to a loopback SMS
// provider (the signed-webhook contract) per second, on SQLite: planning,
// claiming, sending and recording included. Run with -benchtime 20000x.
func BenchmarkSendSMS(b *testing.B) {
	benchThroughput(b, notify.SMS, func(e *env) int { return e.sms.Count() })
}

// BenchmarkSendEmail measures emails handed to a loopback SMTP server per
// second, on SQLite. Run with -benchtime 10000x.
func BenchmarkSendEmail(b *testing.B) {
	benchThroughput(b, notify.Email, func(e *env) int { return e.mail.Stats().Messages })
}

// BenchmarkEventToProvider offers events at a steady 500 a second, each
// in its own transaction and without waking the planner (as the journeys
// store their notices), to a service polling at its default interval
// (20ms), and reports the time from each event's commit to its text
// message being accepted by the loopback provider (p50, p99, max). Run
// with -benchtime 5000x (ten seconds).
func BenchmarkEventToProvider(b *testing.B) {
	const rate = 500
	d := dbtest.Open(b, db.SQLite)
	e := newEnv(b, d, func(c *notify.Config) { c.Poll = 0 })
	recipients := benchPatients(e, b.N, notify.SMS)
	committed := make(map[string]time.Time, b.N)
	b.ResetTimer()
	start := time.Now()
	for i, r := range recipients {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		err := d.InTx(context.Background(), func(tx *sql.Tx) error {
			return e.s.EnqueueTx(context.Background(), tx, notify.Event{OrgID: e.org, Key: "bench", Kind: "result-ready", Recipient: r})
		})
		if err != nil {
			b.Fatal(err)
		}
		committed[fmt.Sprintf("+1555%07d", i)] = time.Now()
	}
	got := e.sms.Wait(b, b.N, time.Minute)
	b.StopTimer()
	lat := make([]time.Duration, 0, len(got))
	for _, m := range got {
		lat = append(lat, m.At.Sub(committed[m.To]))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}
