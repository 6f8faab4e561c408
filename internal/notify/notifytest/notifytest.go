// Package notifytest runs an SMS provider on loopback for tests and
// benchmarks: it speaks careloop's signed-webhook contract
// (internal/notify/sms), checks each request's signature, and, as the
// contract asks of providers, treats a repeated Idempotency-Key as the
// same message. It counts every request, so that a test sees repeats too.
package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMS is one text message the provider accepted.
type SMS struct {
	ID             string // careloop's id (the Idempotency-Key)
	Ref            string // the provider's id for it
	To, From, Text string
	StatusCallback string
	At             time.Time
}

// Provider is a fake SMS provider on 127.0.0.1.
type Provider struct {
	URL    string
	Secret string

	srv *httptest.Server

	refuse sync.Map // numbers refused with a 400

	// Latency is how long the provider takes to answer a send it has
	// already accepted: a sender that dies in between cannot know that
	// it did. Set before the first send.
	Latency time.Duration
	// slots bounds the sends handled at once, as providers' rate limits
	// do (see Limit).
	slots chan struct{}

	mu       sync.Mutex
	accepted []SMS
	byKey    map[string]string // Idempotency-Key → provider ref
	requests int               // every send request, repeats included
	failNext int               // sends still to answer with a 503
	bad      int               // requests with a wrong signature
	got      chan struct{}
}

// Start starts a provider whose requests must be signed with secret; it
// is closed when t ends.
func Start(t testing.TB, secret string) *Provider {
	p := &Provider{Secret: secret, byKey: map[string]string{}, got: make(chan struct{}, 1<<16)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Limit makes the provider handle at most n sends at once; the others
// wait. Call it before the first send.
func (p *Provider) Limit(n int) { p.slots = make(chan struct{}, n) }

// FailNext makes the next n sends answer 503 (Retry-After: 0).
func (p *Provider) FailNext(n int) {
	p.mu.Lock()
	p.failNext = n
	p.mu.Unlock()
}

// Refuse makes sends to the number fail permanently (400).
func (p *Provider) Refuse(number string) { p.refuse.Store(number, true) }

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if p.slots != nil {
		p.slots <- struct{}{}
		defer func() { <-p.slots }()
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if !p.signed(r.Header.Get("Careloop-Signature"), body) {
		p.mu.Lock()
		p.bad++
		p.mu.Unlock()
		http.Error(w, `{"code":"signature","message":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var m struct {
		ID, To, From, Text string
		StatusCallback     string `json:"status_callback"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, `{"code":"json","message":"bad JSON"}`, http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	p.mu.Lock()
	p.requests++
	fail := p.failNext > 0
	if fail {
		p.failNext--
	}
	p.mu.Unlock()
	if fail {
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"code":"busy","message":"try later"}`, http.StatusServiceUnavailable)
		return
	}
	if _, no := p.refuse.Load(m.To); no {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code":"invalid_number","message":"%s cannot receive messages"}`, m.To)
		return
	}
	p.mu.Lock()
	ref, seen := p.byKey[key]
	if !seen {
		ref = fmt.Sprintf("SM%06d", len(p.accepted)+1)
		p.byKey[key] = ref
		p.accepted = append(p.accepted, SMS{ID: key, Ref: ref, To: m.To, From: m.From, Text: m.Text, StatusCallback: m.StatusCallback, At: time.Now()})
	}
	p.mu.Unlock()
	if !seen {
		select {
		case p.got <- struct{}{}:
		default:
		}
	}
	time.Sleep(p.Latency)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q,"status":"queued"}`, ref)
}

// signed checks "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func (p *Provider) signed(header string, body []byte) bool {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	want, err := hex.DecodeString(sig)
	if ts == "" || err != nil {
		return false
	}
	h := hmac.New(sha256.New, []byte(p.Secret))
	h.Write([]byte(ts + "."))
	h.Write(body)
	return hmac.Equal(h.Sum(nil), want)
}

// Accepted returns the messages accepted, each once.
func (p *Provider) Accepted() []SMS {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SMS(nil), p.accepted...)
}

// Count returns how many messages were accepted, each once.
func (p *Provider) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted)
}

// Requests returns how many send requests arrived, repeats included, and
// how many had a wrong signature.
func (p *Provider) Requests() (all, badSignature int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.bad
}

// Wait waits until n messages were accepted and returns them; it fails
// the test after within.
func (p *Provider) Wait(t testing.TB, n int, within time.Duration) []SMS {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := p.Accepted(); len(got) >= n {
			return got
		}
		select {
		case <-p.got:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("notifytest: %d text messages arrived, want %d", len(p.Accepted()), n)
		}
	}
}
