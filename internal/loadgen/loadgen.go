// Package loadgen is a bounded HTTP load generator for measuring careloop on
// the machine it runs on (careloop bench http).
//
// It only ever sends traffic to loopback addresses: [Run] refuses any other
// target before dialling, refuses to follow redirects, ignores proxy
// settings, and checks every address it connects to. Load is bounded in
// time (at most 5 minutes plus 1 minute of warm-up), in requests (at most
// 50 million) and in concurrency (at most 1024 connections).
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits and defaults applied by Run.
const (
	DefaultConcurrency = 64
	MaxConcurrency     = 1024
	DefaultDuration    = 10 * time.Second
	MaxDuration        = 2 * time.Hour
	MaxWarmup          = time.Minute
	MaxRequestsLimit   = 50_000_000
	MaxRate            = 1_000_000
)

// errorBackoff is how long a worker pauses after a transport error, so that
// a dead target is not hammered with connection attempts in a tight loop.
const errorBackoff = 10 * time.Millisecond

// stopGrace is how long requests still in flight when the run ends may take
// before they are cancelled.
const stopGrace = 2 * time.Second

// Options describes a load test.
type Options struct {
	// URL is the target. Its host must be a loopback address (127.0.0.0/8
	// or ::1) or "localhost"; scheme http or https.
	URL string
	// Concurrency is the number of workers, each with at most one request
	// in flight, and the number of keep-alive connections. Default 64, at
	// most 1024.
	Concurrency int
	// Duration is how long to measure, after Warmup. Default 10 s, at most
	// 2 hours (a bulk load of a million resources takes minutes).
	Duration time.Duration
	// MaxRequests stops the run after this many measured requests, all of
	// which are waited for and counted however long they take; 0 means no
	// count bound. At most 50 million.
	MaxRequests int
	// Method is the HTTP method; default GET.
	Method string
	// Body is sent with every request, if not empty.
	Body []byte
	// Header is added to every request.
	Header http.Header
	// Warmup is run before measuring, to open connections and warm caches;
	// its requests are not counted. Default 0, at most 1 minute.
	Warmup time.Duration
	// Insecure skips TLS certificate verification, for a local server with
	// a self-signed certificate. The target is loopback regardless.
	Insecure bool
	// Rotate, if not empty, replaces URL and Body: the run's requests go
	// to its targets in turn (the k-th request started to Rotate[k mod
	// len]), each URL checked like URL. Method and Header apply to all.
	Rotate []Target
	// Weigh, if not nil, tells what a response to Rotate[i] counts for, in
	// Result.Units (for example the resources of a transaction Bundle).
	Weigh func(i int) int64
	// Rate, when above 0, paces the run at that many requests per second
	// (open loop) instead of sending each worker's next request as soon as
	// the last is answered: request k is due at start + k/Rate, and when
	// no worker was free at that time its latency counts from then, so a
	// server that falls behind shows in the figures rather than slowing
	// the load down. (A worker waiting for a request's time counts from
	// when it woke: timers fire late.) Concurrency bounds the requests in
	// flight. At most 1,000,000.
	Rate float64
}

// Target is one request of a rotation.
type Target struct {
	URL  string
	Body []byte
	// Header is added to this target's requests after Options.Header (a
	// session cookie, to load a site as many people at once).
	Header http.Header
}

// Result holds the figures of a run. Requests counts measured requests that
// completed, with or without an HTTP response; Errors counts those that got
// no complete response (connection refused or reset, body cut short);
// Non2xx counts responses with a status outside 200-299. Latencies are those
// of requests that got a complete response, body included, with about 0.4%
// precision.
type Result struct {
	Requests, Errors int64
	Non2xx           int64
	// Units sums Options.Weigh over the measured 2xx responses, and
	// UnitsPerSecond is its rate.
	Units          int64
	UnitsPerSecond float64
	Elapsed        time.Duration
	RPS            float64
	P50, P90, P99  time.Duration
	P999, Max      time.Duration
	StatusCounts   map[int]int64
	// ErrorSample is the text of one transport error, if there were any.
	ErrorSample string
}

// String returns a short human report of r.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests in %s: %.0f req/s, %d errors, %d non-2xx\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS, r.Errors, r.Non2xx)
	fmt.Fprintf(&b, "latency p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
		roundDur(r.P50), roundDur(r.P90), roundDur(r.P99), roundDur(r.P999), roundDur(r.Max))
	codes := make([]int, 0, len(r.StatusCounts))
	for c := range r.StatusCounts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	b.WriteString("status")
	if len(codes) == 0 {
		b.WriteString(" none")
	}
	for _, c := range codes {
		fmt.Fprintf(&b, " %d:%d", c, r.StatusCounts[c])
	}
	b.WriteString("\n")
	if r.ErrorSample != "" {
		fmt.Fprintf(&b, "error sample: %s\n", r.ErrorSample)
	}
	return b.String()
}

// roundDur rounds d to three significant figures or so, for reading.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(time.Microsecond / 10)
	default:
		return d
	}
}

// CheckTarget parses rawURL and returns it if it is an http or https URL
// whose host is a loopback address or "localhost"; otherwise it returns an
// error saying why. It does no network I/O.
func CheckTarget(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("loadgen: target %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("loadgen: target %q: scheme must be http or https", rawURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("loadgen: target %q: user information is not allowed", rawURL)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("loadgen: target %q: no host", rawURL)
	}
	if strings.EqualFold(host, "localhost") {
		return u, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" || !ip.Unmap().IsLoopback() {
		return nil, fmt.Errorf("loadgen: target %q refused: load may only be sent to loopback addresses (127.0.0.0/8, ::1, localhost)", rawURL)
	}
	return u, nil
}

// loopbackOnly is a net.Dialer Control function that refuses to connect to
// any address that is not loopback, whatever a name resolved to.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("loadgen: refusing to dial %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("loadgen: refusing to dial non-loopback address %s", address)
	}
	return nil
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Rotate) > 0 {
		for _, t := range o.Rotate {
			if _, err := CheckTarget(t.URL); err != nil {
				return o, err
			}
		}
		o.URL = o.Rotate[0].URL
	}
	if _, err := CheckTarget(o.URL); err != nil {
		return o, err
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return o, fmt.Errorf("loadgen: concurrency %d out of range 1..%d", o.Concurrency, MaxConcurrency)
	}
	switch {
	case o.Duration == 0:
		o.Duration = DefaultDuration
	case o.Duration < 0 || o.Duration > MaxDuration:
		return o, fmt.Errorf("loadgen: duration %s out of range (0, %s]", o.Duration, MaxDuration)
	}
	if o.MaxRequests < 0 || o.MaxRequests > MaxRequestsLimit {
		return o, fmt.Errorf("loadgen: max requests %d out of range 0..%d", o.MaxRequests, MaxRequestsLimit)
	}
	if o.Rate < 0 || o.Rate > MaxRate {
		return o, fmt.Errorf("loadgen: rate %g out of range 0..%d requests per second", o.Rate, MaxRate)
	}
	if o.Warmup < 0 || o.Warmup > MaxWarmup {
		return o, fmt.Errorf("loadgen: warm-up %s out of range [0, %s]", o.Warmup, MaxWarmup)
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	// Build one request now so that a bad method fails before any load.
	if _, err := http.NewRequest(o.Method, o.URL, nil); err != nil {
		return o, fmt.Errorf("loadgen: %w", err)
	}
	return o, nil
}

// run is the shared state of one Run.
type run struct {
	o       Options
	client  *http.Client
	reqCtx  context.Context // cancelled to abandon requests in flight
	stop    atomic.Bool     // no new requests
	measure atomic.Bool     // requests started now are counted
	issued  atomic.Int64    // measured requests started, when MaxRequests > 0
	full    chan struct{}   // closed when MaxRequests have been started
	once    sync.Once
	next    atomic.Int64 // the next target of the rotation
	paced   time.Time    // when request 0 of a paced run is due
	ticket  atomic.Int64 // the next request of a paced run
}

// due returns when the next request of a paced run is due; a worker
// waits for it before sending.
func (r *run) due() time.Time {
	k := r.ticket.Add(1) - 1
	return r.paced.Add(time.Duration(float64(k) * float64(time.Second) / r.o.Rate))
}

// worker holds one worker's figures; only that worker touches them until
// the run ends.
type worker struct {
	hist      *histogram
	requests  int64
	errors    int64
	non2xx    int64
	units     int64
	status    [1000]int64 // by status code; Go clients only accept 100-999
	errSample string
}

// Run sends requests to o.URL from o.Concurrency workers over keep-alive
// connections, each worker sending its next request as soon as the previous
// response body has been read in full, until o.Duration has passed after
// o.Warmup, o.MaxRequests measured requests have been started, or ctx is
// done, whichever comes first.
//
// Run validates o before any network I/O and refuses targets that are not
// loopback. It returns an error only for invalid options or, together with
// the figures so far, when ctx ends the run early. Failed requests are
// figures (Result.Errors), not errors of Run.
func Run(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}

	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	transport := &http.Transport{
		Proxy:               nil, // never send load through a proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        o.Concurrency,
		MaxIdleConnsPerHost: o.Concurrency,
		MaxConnsPerHost:     o.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: o.Insecure}, // opt-in; the target is loopback
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		// Redirects could lead off loopback; report them as responses.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{o: o, client: client, reqCtx: reqCtx, full: make(chan struct{}), paced: time.Now()}

	// Without warm-up every request counts, from the first.
	r.measure.Store(o.Warmup == 0)
	start := time.Now()
	workers := make([]*worker, o.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{hist: newHistogram()}
		workers[i] = w
		wg.Go(func() { r.work(w) })
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	var runErr error
	if o.Warmup > 0 {
		select {
		case <-time.After(o.Warmup):
		case <-ctx.Done():
			runErr = ctx.Err()
		}
	}
	if runErr == nil {
		if o.Warmup > 0 {
			start = time.Now()
			r.measure.Store(true)
		}
		timer := time.NewTimer(o.Duration)
		select {
		case <-timer.C:
		case <-r.full:
			// Every request of the count is part of the figures: wait for
			// the last ones to answer, however long they take.
			select {
			case <-allDone:
			case <-ctx.Done():
				runErr = ctx.Err()
			}
		case <-ctx.Done():
			runErr = ctx.Err()
		}
		timer.Stop()
	}
	r.stop.Store(true)
	select {
	case <-allDone:
	case <-time.After(stopGrace):
		cancel()
		<-allDone
	}
	elapsed := time.Since(start)

	res := Result{Elapsed: elapsed, StatusCounts: map[int]int64{}}
	total := newHistogram()
	for _, w := range workers {
		res.Requests += w.requests
		res.Errors += w.errors
		res.Non2xx += w.non2xx
		res.Units += w.units
		for code, n := range w.status {
			if n > 0 {
				res.StatusCounts[code] += n
			}
		}
		if res.ErrorSample == "" {
			res.ErrorSample = w.errSample
		}
		total.merge(w.hist)
	}
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
		res.UnitsPerSecond = float64(res.Units) / elapsed.Seconds()
	}
	res.P50, res.P90, res.P99, res.P999 = total.quantile(0.50), total.quantile(0.90), total.quantile(0.99), total.quantile(0.999)
	if total.n > 0 {
		res.Max = time.Duration(total.max)
	}
	return res, runErr
}

// newRequest builds the request a worker sends repeatedly. Without a body
// it is reused as is; with one, each send gets a fresh body reader.
func (r *run) newRequest() *http.Request {
	return r.requestFor(r.o.URL, r.o.Body)
}

// requestFor builds a request to url with body.
func (r *run) requestFor(url string, body []byte) *http.Request {
	req, err := http.NewRequestWithContext(r.reqCtx, r.o.Method, url, nil)
	if err != nil {
		panic(err) // validated by withDefaults
	}
	for k, v := range r.o.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	if host := r.o.Header.Get("Host"); host != "" {
		req.Host = host
	}
	if len(body) > 0 {
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req
}

// work is one worker's loop.
func (r *run) work(w *worker) {
	req := r.newRequest()
	limit := int64(r.o.MaxRequests)
	for !r.stop.Load() {
		measured := r.measure.Load()
		if measured && limit > 0 {
			n := r.issued.Add(1)
			if n >= limit {
				r.once.Do(func() { close(r.full) })
			}
			if n > limit {
				return
			}
		}
		target := -1
		if n := len(r.o.Rotate); n > 0 {
			target = int((r.next.Add(1) - 1) % int64(n))
			req = r.requestFor(r.o.Rotate[target].URL, r.o.Rotate[target].Body)
			for k, v := range r.o.Rotate[target].Header {
				req.Header[k] = append([]string(nil), v...)
			}
		}
		if body := req.GetBody; body != nil {
			// A fresh reader each time: the transport may still be closing
			// the previous one.
			req.Body, _ = body()
		}
		t0 := time.Now()
		if r.o.Rate > 0 {
			// Measured from when it was due when the worker was busy
			// then (waiting for the server is part of the latency), from
			// when the worker woke when it was early (a timer fires up to
			// a millisecond late, which is not the server's doing).
			t0 = r.due()
			if wait := time.Until(t0); wait > 0 {
				select {
				case <-time.After(wait):
				case <-r.reqCtx.Done():
					return
				}
				if r.stop.Load() {
					return
				}
				t0 = time.Now()
			}
			measured = r.measure.Load()
		}
		resp, err := r.client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		d := time.Since(t0)
		if err != nil {
			if r.stop.Load() || r.reqCtx.Err() != nil {
				return // abandoned at the end of the run: not a figure
			}
			if measured {
				w.requests++
				w.errors++
				if w.errSample == "" {
					w.errSample = err.Error()
				}
			}
			// The transport may still hold the failed request; use a new one.
			req = r.newRequest()
			select {
			case <-time.After(errorBackoff):
			case <-r.reqCtx.Done():
				return
			}
			continue
		}
		if !measured {
			continue
		}
		w.requests++
		w.hist.record(d)
		if resp.StatusCode >= 0 && resp.StatusCode < len(w.status) {
			w.status[resp.StatusCode]++
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			w.non2xx++
		} else if target >= 0 && r.o.Weigh != nil {
			w.units += r.o.Weigh(target)
		}
	}
}
