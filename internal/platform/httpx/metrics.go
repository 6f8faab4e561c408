package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxCachedSeries bounds the observer cache. Labels are bounded anyway
// (registered patterns, known methods, status codes); this only guards
// against a handler that invents status codes.
const maxCachedSeries = 4096

// metrics records the chain's Prometheus metrics. Looking up a labelled
// child in a Vec hashes the labels and takes a lock, so resolved children are
// kept in a copy-on-write map: the hot path is one atomic load and one map
// lookup, without locks or allocations.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu    sync.Mutex                           // serialises cache misses
	cache atomic.Pointer[map[seriesKey]series] // never mutated once stored
}

type seriesKey struct {
	method, route string
	code          int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// newMetrics registers the HTTP metrics with reg, or reuses collectors that
// an earlier call registered there.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "careloop_http_requests_total",
		Help: "HTTP requests served, by method, matched route pattern and status code.",
	}, []string{"method", "route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "careloop_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by method and matched route pattern.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	var err error
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	m := &metrics{requests: requests, duration: duration}
	m.cache.Store(&map[seriesKey]series{})
	return m, nil
}

// register registers c with reg, returning the collector already registered
// under the same description if there is one of the same type.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("httpx: register metrics: %w", err)
}

// observe counts one request and its duration.
func (m *metrics) observe(method, route string, code int, d time.Duration) {
	k := seriesKey{method: methodLabel(method), route: route, code: code}
	s, ok := (*m.cache.Load())[k]
	if !ok {
		s = m.miss(k)
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

// miss resolves the children for k and adds them to the cache.
func (m *metrics) miss(k seriesKey) series {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.cache.Load()
	if s, ok := old[k]; ok {
		return s
	}
	s := series{
		requests: m.requests.WithLabelValues(k.method, k.route, strconv.Itoa(k.code)),
		duration: m.duration.WithLabelValues(k.method, k.route),
	}
	if len(old) >= maxCachedSeries {
		return s
	}
	next := make(map[seriesKey]series, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	m.cache.Store(&next)
	return s
}

// methodLabel returns method if it is a standard method and "OTHER"
// otherwise, so that clients cannot create label values at will.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	default:
		return "OTHER"
	}
}
