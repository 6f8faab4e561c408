package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// labBundle is a transaction Bundle of one laboratory order for a patient:
// the ServiceRequest, n Observations of the LOINC code with the value, and
// the final DiagnosticReport listing them, all effective now.
func labBundle(id, patient, code, display, unit string, value float64, n int) []byte {
	now := time.Now().UTC().Format(time.RFC3339)
	var entries []string
	add := func(typ, rid, raw string) {
		entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"%s/%s"}}`, raw, typ, rid))
	}
	add("ServiceRequest", id, fmt.Sprintf(`{"resourceType":"ServiceRequest","id":%q,"status":"active","intent":"order","subject":{"reference":"Patient/%s"},"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":%q}]}}`, id, patient, code))
	var results []string
	for i := range n {
		oid := fmt.Sprintf("%s-o%d", id, i)
		add("Observation", oid, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","basedOn":[{"reference":"ServiceRequest/%s"}],"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":%q,"display":%q}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":%g,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}`,
			oid, id, code, display, patient, now, value, unit, unit))
		results = append(results, fmt.Sprintf(`{"reference":"Observation/%s"}`, oid))
	}
	add("DiagnosticReport", id+"-r", fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":"%s-r","status":"final","basedOn":[{"reference":"ServiceRequest/%s"}],"subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"issued":%q,"result":[%s]}`,
		id, id, patient, code, now, strings.Join(results, ",")))
	return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
}

// benchEngine is SQLite, or PostgreSQL with CARELOOP_BENCH_ENGINE=postgres
// (and CARELOOP_TEST_POSTGRES).
func benchEngine() db.Dialect {
	if os.Getenv("CARELOOP_BENCH_ENGINE") == "postgres" {
		return db.Postgres
	}
	return db.SQLite
}

// putPatients stores n adult patients and Dr Doc.
func putPatients(s *server, n int) {
	raws := []string{`{"resourceType":"Practitioner","id":"doc"}`}
	for i := range n {
		raws = append(raws, fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","gender":"female","birthDate":"1970-05-01"}`, i))
	}
	s.put(s.tokenA, raws)
}

// BenchmarkCriticalToEscalation measures the figure: from the FHIR
// write of a final critical result (its transaction answered) to the
// clinician's escalation job enqueued (the journey.deadline job of the
// acknowledgement clock), while other FHIR writes arrive at a steady rate
// (495/s of normal laboratory results, or CARELOOP_BENCH_WRITES, plus the
// 5 critical results per second measured: 500 writes/s). Each iteration is one critical result;
// run it with -benchtime 200x. The job queue runs as in careloop serve
// (SQLite: new jobs found by polling every 20 ms).
func BenchmarkCriticalToEscalation(b *testing.B) {
	s := newServer(b, benchEngine())
	putPatients(s, 50)
	s.runJobs()
	countDeadlines := func() int {
		var n int
		if err := s.a.DB.Read.QueryRow("SELECT count(*) FROM river_job WHERE kind = 'journey.deadline'").Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}

	// The steady load: normal sodium results (no deadline), one Observation
	// per write, from 8 writers paced together.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes, failed atomic.Int64
	background := 495
	if v, err := strconv.Atoi(os.Getenv("CARELOOP_BENCH_WRITES")); err == nil && v > 0 {
		background = v // to find the rate the workers sustain
	}
	startLoad := time.Now()
	var ticket atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for {
				k := ticket.Add(1) - 1
				due := startLoad.Add(time.Duration(k) * time.Second / time.Duration(background))
				select {
				case <-stop:
					return
				case <-time.After(time.Until(due)):
				}
				obs := fmt.Sprintf(`{"resourceType":"Observation","id":"na-%d-%d","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2951-2","display":"Sodium"}]},"subject":{"reference":"Patient/p%d"},"effectiveDateTime":%q,"valueQuantity":{"value":140,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`,
					w, k, k%50, time.Now().UTC().Format(time.RFC3339))
				r := s.do("PUT", fmt.Sprintf("/fhir/Observation/na-%d-%d", w, k), []byte(obs), "Authorization", "Bearer "+s.tokenA)
				writes.Add(1)
				if r.status != http.StatusCreated {
					failed.Add(1)
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(time.Second) // the load reaches its pace

	var lat []time.Duration
	want := countDeadlines()
	i := 0
	loadFrom, writesFrom := time.Now(), writes.Load()
	for b.Loop() {
		due := time.Now().Add(200 * time.Millisecond) // 5 critical results a second
		r := s.do("POST", "/fhir", labBundle(fmt.Sprintf("crit-%d", i), fmt.Sprintf("p%d", i%50), "2823-3", "Potassium", "mmol/L", 7.2, 1),
			"Authorization", "Bearer "+s.tokenA)
		if r.status != http.StatusOK {
			b.Fatalf("critical result: %d %.300s", r.status, r.body)
		}
		written := time.Now()
		i++
		want++
		for countDeadlines() < want {
			if time.Since(written) > 2*time.Minute {
				left, err := jobs.BacklogOf(context.Background(), s.a.DB, "")
				b.Fatalf("no escalation job 2 minutes after critical result %d: the journey workers fell behind the load (backlog %+v, %v)", i, left, err)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(written))
		time.Sleep(time.Until(due))
	}
	rate := float64(writes.Load()-writesFrom+int64(i)) / time.Since(loadFrom).Seconds()
	if failed.Load() > 0 {
		b.Fatalf("%d of the steady writes failed", failed.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(rate, "writes/s")
}

// BenchmarkJourneyEvents measures how fast the journeys' consumer applies
// FHIR writes: orders (a ServiceRequest, 5 Observations, the final
// DiagnosticReport: 7 versions written in one transaction) are written
// while the background work is stopped, then it starts and the time until
// every journey outbox item is applied gives the events (versions applied)
// per second. Run it with -benchtime 1x; each iteration writes 1,000
// orders.
func BenchmarkJourneyEvents(b *testing.B) {
	s := newServer(b, benchEngine())
	putPatients(s, 200)
	const orders = 1000
	var events int
	var elapsed time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		for i := range orders {
			r := s.do("POST", "/fhir", labBundle(fmt.Sprintf("o%d-%d", round, i), fmt.Sprintf("p%d", i%200), "2951-2", "Sodium", "mmol/L", 140, 5),
				"Authorization", "Bearer "+s.tokenA)
			if r.status != http.StatusOK {
				b.Fatalf("order %d: %d %.300s", i, r.status, r.body)
			}
		}
		round++
		b.StartTimer()
		start := time.Now()
		if round == 1 {
			s.runJobs()
		}
		s.settle()
		elapsed += time.Since(start)
		events += orders * 7
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
}
