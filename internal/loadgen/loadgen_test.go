package loadgen

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counter is a test server that counts the requests it receives.
type counter struct {
	hits atomic.Int64
	srv  *httptest.Server
}

func newCounter(t *testing.T, h http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func ok(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func TestRunCountsRequests(t *testing.T) {
	c := newCounter(t, ok)
	res, err := Run(context.Background(), Options{URL: c.srv.URL + "/healthz", Concurrency: 8, MaxRequests: 500, Duration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 500 || c.hits.Load() != 500 {
		t.Errorf("Requests = %d, server saw %d; want 500 and 500", res.Requests, c.hits.Load())
	}
	if res.Errors != 0 || res.Non2xx != 0 || res.StatusCounts[200] != 500 || len(res.StatusCounts) != 1 {
		t.Errorf("errors %d non2xx %d statuses %v", res.Errors, res.Non2xx, res.StatusCounts)
	}
	if !(0 < res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.P999 && res.P999 <= res.Max) {
		t.Errorf("percentiles not ordered: %+v", res)
	}
	if res.RPS <= 0 || res.Elapsed <= 0 || res.Elapsed > 10*time.Second {
		t.Errorf("RPS %f over %s", res.RPS, res.Elapsed)
	}
	s := res.String()
	for _, want := range []string{"500 requests", "req/s", "p99 ", "status 200:500"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q lacks %q", s, want)
		}
	}
}

func TestRunSendsMethodBodyAndHeader(t *testing.T) {
	var bad atomic.Int64
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || string(b) != `{"a":1}` || r.Header.Get("X-Test") != "yes" || r.ContentLength != 7 {
			bad.Add(1)
		}
		w.WriteHeader(http.StatusCreated)
	})
	res, err := Run(context.Background(), Options{
		URL: c.srv.URL, Concurrency: 4, MaxRequests: 100, Method: "POST",
		Body: []byte(`{"a":1}`), Header: http.Header{"X-Test": {"yes"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.StatusCounts[201] != 100 || bad.Load() != 0 {
		t.Errorf("requests %d, statuses %v, malformed %d", res.Requests, res.StatusCounts, bad.Load())
	}
}

func TestRunCountsServerErrors(t *testing.T) {
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	})
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 4, MaxRequests: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Non2xx != 200 || res.StatusCounts[500] != 200 || res.Errors != 0 {
		t.Errorf("requests %d non2xx %d errors %d statuses %v", res.Requests, res.Non2xx, res.Errors, res.StatusCounts)
	}
}

func TestRunCountsTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	url := srv.URL
	srv.Close() // nothing listens any more
	res, err := Run(context.Background(), Options{URL: url, Concurrency: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.Requests != res.Errors || len(res.StatusCounts) != 0 {
		t.Errorf("requests %d errors %d statuses %v; want only errors", res.Requests, res.Errors, res.StatusCounts)
	}
	if !strings.Contains(res.ErrorSample, "refused") {
		t.Errorf("ErrorSample = %q, want a refused connection", res.ErrorSample)
	}
	// The back-off keeps a dead target from being hammered.
	if limit := int64(4 * (300*time.Millisecond/errorBackoff + 4)); res.Errors > limit {
		t.Errorf("%d errors in 300ms from 4 workers; back-off not applied", res.Errors)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	c := newCounter(t, ok)
	start := time.Now()
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("run took %s for a 300ms duration", took)
	}
	if res.Requests == 0 || res.Elapsed < 300*time.Millisecond {
		t.Errorf("requests %d elapsed %s", res.Requests, res.Elapsed)
	}
}

func TestRunExcludesWarmup(t *testing.T) {
	c := newCounter(t, ok)
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 2, Warmup: 200 * time.Millisecond, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if hits := c.hits.Load(); res.Requests == 0 || hits <= res.Requests {
		t.Errorf("server saw %d, measured %d; warm-up requests should be excluded", hits, res.Requests)
	}
	if res.Elapsed > 400*time.Millisecond+stopGrace {
		t.Errorf("elapsed %s includes the warm-up", res.Elapsed)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	c := newCounter(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Options{URL: c.srv.URL, Concurrency: 2, Duration: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cancelled run took %s", took)
	}
	if res.Requests == 0 {
		t.Error("no figures returned with the cancellation")
	}
}

func TestRunDoesNotFollowRedirects(t *testing.T) {
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/elsewhere", http.StatusFound)
	})
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 2, MaxRequests: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCounts[302] != 20 || res.Errors != 0 {
		t.Errorf("statuses %v errors %d (%s); want 20 unfollowed redirects", res.StatusCounts, res.Errors, res.ErrorSample)
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	refused := []string{
		"http://10.0.0.1/",
		"http://example.com/",
		"https://192.168.1.10:8443/healthz",
		"http://[::2]/",
		"http://[fe80::1%25lo]/",
		"http://0.0.0.0:8080/",
		"http://localhost.example.com/",
		"http://127.0.0.1.nip.io/",
		"http://2130706433/", // 127.0.0.1 as an integer: not an IP literal to us
		"ftp://127.0.0.1/",
		"http://user:pw@127.0.0.1/",
		"127.0.0.1:8080",
		"",
	}
	for _, target := range refused {
		t.Run(target, func(t *testing.T) {
			start := time.Now()
			_, err := Run(context.Background(), Options{URL: target, Duration: time.Second})
			// Run reports failed requests as figures, never as an error, so
			// an error here means the target was refused before any request.
			if err == nil {
				t.Fatal("Run accepted the target")
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("refusal took %s; was it dialled?", took)
			}
		})
	}
	for _, target := range []string{"http://127.0.0.1:1/", "http://127.5.6.7/", "http://[::1]:8080/x", "http://localhost/", "https://LOCALHOST:8443/", "http://[::ffff:127.0.0.1]/"} {
		if _, err := CheckTarget(target); err != nil {
			t.Errorf("CheckTarget(%q) = %v, want accepted", target, err)
		}
	}
	_, err := Run(context.Background(), Options{URL: "http://10.0.0.1/"})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("error %v does not explain the loopback rule", err)
	}
}

func TestDialerRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "[2001:db8::1]:443", "93.184.216.34:80"} {
		if err := loopbackOnly("tcp", addr, nil); err == nil {
			t.Errorf("loopbackOnly(%s) allowed", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "127.9.9.9:1"} {
		if err := loopbackOnly("tcp", addr, nil); err != nil {
			t.Errorf("loopbackOnly(%s) = %v", addr, err)
		}
	}
}

func TestRejectsBadOptions(t *testing.T) {
	const u = "http://127.0.0.1:1/"
	for name, o := range map[string]Options{
		"concurrency":  {URL: u, Concurrency: MaxConcurrency + 1},
		"negative":     {URL: u, Concurrency: -1},
		"duration":     {URL: u, Duration: MaxDuration + time.Second},
		"max requests": {URL: u, MaxRequests: MaxRequestsLimit + 1},
		"warmup":       {URL: u, Warmup: -time.Second},
		"method":       {URL: u, Method: "BAD METHOD"},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: Run accepted %+v", name, o)
		}
	}
}

// exactQuantile returns the value at quantile q of sorted, with the same
// rank rule as histogram.quantile.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		// Latencies around 1 ms with a long tail.
		"lognormal": func() time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*0.8) * float64(time.Millisecond))
		},
		"uniform": func() time.Duration { return time.Duration(rng.Int64N(int64(50 * time.Millisecond))) },
		"bimodal": func() time.Duration {
			if rng.IntN(10) == 0 {
				return 200*time.Millisecond + time.Duration(rng.Int64N(int64(time.Millisecond)))
			}
			return 300*time.Microsecond + time.Duration(rng.Int64N(int64(100*time.Microsecond)))
		},
	}
	for name, draw := range dists {
		t.Run(name, func(t *testing.T) {
			const n = 200_000
			// Record into several workers' histograms and merge, as Run does.
			parts := []*histogram{newHistogram(), newHistogram(), newHistogram()}
			values := make([]time.Duration, n)
			for i := range values {
				values[i] = draw()
				parts[i%len(parts)].record(values[i])
			}
			h := newHistogram()
			for _, p := range parts {
				h.merge(p)
			}
			slices.Sort(values)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				got, want := h.quantile(q), exactQuantile(values, q)
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.02 {
					t.Errorf("q%.3f = %s, exact %s: off by %.2f%%", q, got, want, 100*rel)
				}
			}
			if time.Duration(h.max) != values[n-1] || h.n != n {
				t.Errorf("max %d n %d, want %s %d", h.max, h.n, values[n-1], n)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	rng := rand.New(rand.NewPCG(3, 4))
	for v := uint64(0); v < 1<<20; v++ {
		b := bucketOf(v)
		if b < prev || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", v, b, prev)
		}
		prev = b
	}
	for range 100_000 {
		v := rng.Uint64N(maxValue) + 1
		mid := bucketMid(bucketOf(v))
		if rel := math.Abs(float64(mid)-float64(v)) / float64(v); rel > 1.0/256+1e-9 {
			t.Fatalf("value %d reported as %d: %.3f%% off", v, mid, 100*rel)
		}
	}
	if bucketOf(maxValue) != numBuckets-1 {
		t.Errorf("bucketOf(maxValue) = %d, want %d", bucketOf(maxValue), numBuckets-1)
	}
	h := newHistogram()
	h.record(time.Hour) // clamped, not out of range
	h.record(-time.Second)
	if h.n != 2 || h.max != maxValue || h.min != 0 {
		t.Errorf("clamping: n %d max %d min %d", h.n, h.max, h.min)
	}
	if q := newHistogram().quantile(0.5); q != 0 {
		t.Errorf("empty quantile = %s", q)
	}
}

func TestRunRotatesTargetsAndWeighsThem(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path+" "+string(b)]++
		mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	rot := []Target{{URL: c.srv.URL + "/a", Body: []byte("1")}, {URL: c.srv.URL + "/b", Body: []byte("22")}, {URL: c.srv.URL + "/fail", Body: []byte("333")}}
	res, err := Run(context.Background(), Options{Rotate: rot, Method: "POST", Concurrency: 3, MaxRequests: 300,
		Weigh: func(i int) int64 { return int64(len(rot[i].Body)) }})
	if err != nil {
		t.Fatal(err)
	}
	if seen["/a 1"] != 100 || seen["/b 22"] != 100 || seen["/fail 333"] != 100 || len(seen) != 3 {
		t.Errorf("requests by target and body: %v", seen)
	}
	// Failed responses weigh nothing: 100 × 1 + 100 × 2.
	if res.Units != 300 || res.Non2xx != 100 || res.UnitsPerSecond <= 0 {
		t.Errorf("units %d (want 300), non-2xx %d, %f/s", res.Units, res.Non2xx, res.UnitsPerSecond)
	}
	if _, err := Run(context.Background(), Options{Rotate: []Target{{URL: c.srv.URL}, {URL: "http://192.0.2.1/"}}}); err == nil {
		t.Error("a rotation with a non-loopback target was accepted")
	}
}

// TestRunWaitsForCountedRequests: a run bounded by a count waits for its
// last requests, even ones slower than the grace given at the end of a
// timed run.
func TestRunWaitsForCountedRequests(t *testing.T) {
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(stopGrace + 300*time.Millisecond)
	})
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 2, MaxRequests: 2, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 2 || res.StatusCounts[200] != 2 || res.Errors != 0 {
		t.Errorf("requests %d, statuses %v, errors %d; want 2 answered", res.Requests, res.StatusCounts, res.Errors)
	}
}

// TestRunPaces checks that a paced run sends no more than its schedule
// allows, and that a server slower than the pace shows in the latencies
// (measured from when each request was due), instead of slowing the load
// down unseen.
func TestRunPaces(t *testing.T) {
	c := newCounter(t, ok)
	res, err := Run(context.Background(), Options{URL: c.srv.URL, Concurrency: 4, Rate: 100, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Requests 0..50 are due within the half second; none later is sent.
	if res.Requests < 1 || c.hits.Load() > 51 {
		t.Fatalf("paced at 100/s for 0.5 s: %d measured, server saw %d (at most 51)", res.Requests, c.hits.Load())
	}

	// One connection, 20 ms per answer, five requests due every 20 ms: the
	// k-th answer is due at 5k ms and comes at 20k ms at the earliest.
	slow := newCounter(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond); ok(w, r) })
	res, err = Run(context.Background(), Options{URL: slow.srv.URL, Concurrency: 1, Rate: 200, Duration: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 10 || res.P99 < 150*time.Millisecond {
		t.Fatalf("a server four times slower than the pace: %d requests, p99 %s; want the queueing in the latency (p99 at least 150 ms)", res.Requests, res.P99)
	}

	if _, err := Run(context.Background(), Options{URL: c.srv.URL, Rate: -1}); err == nil {
		t.Fatal("a negative rate was accepted")
	}
}

func TestRunSendsEachTargetsHeader(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	c := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path+" "+r.Header.Get("Cookie")+" "+r.Header.Get("X-All")]++
		mu.Unlock()
	})
	res, err := Run(context.Background(), Options{Concurrency: 3, MaxRequests: 90, Header: http.Header{"X-All": {"1"}},
		Rotate: []Target{
			{URL: c.srv.URL + "/a", Header: http.Header{"Cookie": {"s=ann"}}},
			{URL: c.srv.URL + "/b", Header: http.Header{"Cookie": {"s=bob"}}},
			{URL: c.srv.URL + "/c"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"/a s=ann 1": 30, "/b s=bob 1": 30, "/c  1": 30}
	mu.Lock()
	defer mu.Unlock()
	if res.Requests != 90 || len(seen) != 3 {
		t.Fatalf("requests %d, seen %v", res.Requests, seen)
	}
	for k, n := range want {
		if seen[k] < n-3 || seen[k] > n+3 {
			t.Errorf("%q sent %d times, want about %d (seen %v)", k, seen[k], n, seen)
		}
	}
}
