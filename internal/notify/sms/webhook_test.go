package sms_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/notify/sms"
)

const testSecret = "wh-s3cret-for-tests"

// expectWebhookMAC computes v1 of Careloop-Signature from the contract,
// separately from the package's code.
func expectWebhookMAC(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	return hex.EncodeToString(mac.Sum(nil))
}

// fakeGateway is a provider of the webhook contract on loopback: it
// checks the signature and the Idempotency-Key, sends each key's message
// once, and answers the same for a repeated key. A non-zero refuse
// answers that status instead.
type fakeGateway struct {
	*httptest.Server
	refuse int
	header http.Header
	body   string

	mu   sync.Mutex
	sent map[string]string // Idempotency-Key -> reference
	reqs []map[string]any
}

func startGateway(t testing.TB) *fakeGateway {
	g := &fakeGateway{sent: map[string]string{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ts, v1 string
	for part := range strings.SplitSeq(r.Header.Get("Careloop-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		v1 != expectWebhookMAC(testSecret, ts, body) || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		http.Error(w, `{"code":"signature","message":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil || req["id"] != r.Header.Get("Idempotency-Key") {
		http.Error(w, `{"code":"request","message":"bad request"}`, http.StatusBadRequest)
		return
	}
	if g.refuse != 0 {
		for k, v := range g.header {
			w.Header()[k] = v
		}
		w.WriteHeader(g.refuse)
		fmt.Fprint(w, g.body)
		return
	}
	g.mu.Lock()
	key := r.Header.Get("Idempotency-Key")
	ref, seen := g.sent[key]
	if !seen {
		ref = fmt.Sprintf("gw-%d", len(g.sent)+1)
		g.sent[key] = ref
		g.reqs = append(g.reqs, req)
	}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q,"status":"queued"}`, ref)
}

func (g *fakeGateway) requests() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]any(nil), g.reqs...)
}

func webhookFor(g *fakeGateway) *sms.Webhook {
	return &sms.Webhook{URL: g.URL + "/send", Secret: testSecret, From: "+15557654321", Client: sms.NewClient()}
}

func TestWebhookSendOncePerID(t *testing.T) {
	g := startGateway(t)
	wh := webhookFor(g)
	first, err := wh.Send(context.Background(), hello)
	if err != nil {
		t.Fatal(err)
	}
	again, err := wh.Send(context.Background(), hello)
	if err != nil {
		t.Fatal(err)
	}
	other := hello
	other.ID = "msg-2"
	second, err := wh.Send(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if first != (sms.Result{ProviderRef: "gw-1", Status: sms.Queued}) || again != first || second.ProviderRef != "gw-2" {
		t.Errorf("results %+v, %+v, %+v: want the same reference for a repeated id", first, again, second)
	}
	reqs := g.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d messages sent by the provider, want 2", len(reqs))
	}
	want := map[string]any{"id": "msg-1", "to": "+15551234567", "from": "+15557654321", "text": hello.Body, "status_callback": hello.StatusCallback}
	if fmt.Sprint(reqs[0]) != fmt.Sprint(want) {
		t.Errorf("request %v, want %v", reqs[0], want)
	}
}

func TestWebhookSendOmitsEmptyFields(t *testing.T) {
	g := startGateway(t)
	wh := webhookFor(g)
	wh.From = ""
	m := hello
	m.StatusCallback = ""
	if _, err := wh.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	req := g.requests()[0]
	if _, has := req["from"]; has {
		t.Errorf("request %v has from", req)
	}
	if _, has := req["status_callback"]; has {
		t.Errorf("request %v has status_callback", req)
	}
}

func TestWebhookSendRefusals(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		permanent  bool
		retryAfter time.Duration
		wantText   string
	}{
		{name: "400", status: 400, body: `{"code":"invalid_number","message":"not a mobile number"}`, permanent: true, wantText: "invalid_number"},
		{name: "404", status: 404, permanent: true},
		{name: "422", status: 422, body: `{"message":"blocked"}`, permanent: true, wantText: "blocked"},
		{name: "429 Retry-After", status: 429, header: http.Header{"Retry-After": {"3"}}, retryAfter: 3 * time.Second},
		{name: "502", status: 502},
		{name: "503 Retry-After", status: 503, header: http.Header{"Retry-After": {"120"}}, retryAfter: 2 * time.Minute},
		{name: "201 without an id", status: 201, body: `{"status":"queued"}`, permanent: true, wantText: `"id"`},
		{name: "200 with an unknown status", status: 200, body: `{"id":"x","status":"lost"}`, permanent: true, wantText: "status"},
		{name: "a line break in the provider message is cleaned", status: 400, body: `{"message":"bad\r\nline"}`, permanent: true, wantText: "bad  line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t)
			g.refuse, g.header, g.body = tt.status, tt.header, tt.body
			_, err := webhookFor(g).Send(context.Background(), hello)
			var pe *sms.ProviderError
			if !errors.As(err, &pe) || pe.HTTPStatus != tt.status {
				t.Fatalf("error %v, want a ProviderError with %d", err, tt.status)
			}
			if sms.IsPermanent(err) != tt.permanent || sms.RetryAfter(err) != tt.retryAfter {
				t.Errorf("permanent %v retry after %s, want %v and %s", sms.IsPermanent(err), sms.RetryAfter(err), tt.permanent, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.wantText) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q: want %q in it and no secret", err, tt.wantText)
			}
		})
	}
}

func TestWebhookSendWrongSecretIsPermanent(t *testing.T) {
	g := startGateway(t)
	wh := webhookFor(g)
	wh.Secret = "not-the-secret"
	_, err := wh.Send(context.Background(), hello)
	if !sms.IsPermanent(err) || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("error %v: want a permanent 401 without the secret", err)
	}
}

func TestWebhookSendRefusesBeforeSending(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sms.Webhook, *sms.Message)
		want   string
	}{
		{name: "no id", change: func(_ *sms.Webhook, m *sms.Message) { m.ID = "" }, want: "idempotency key"},
		{name: "id with a line break", change: func(_ *sms.Webhook, m *sms.Message) { m.ID = "a\r\nX-Evil: 1" }, want: "idempotency key"},
		{name: "bad number", change: func(_ *sms.Webhook, m *sms.Message) { m.To = "+1 555 CALL NOW" }, want: "recipient"},
		{name: "no secret", change: func(w *sms.Webhook, _ *sms.Message) { w.Secret = "" }, want: "secret"},
		{name: "URL not http", change: func(w *sms.Webhook, _ *sms.Message) { w.URL = "ftp://gw.example.test" }, want: "URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t)
			wh, m := webhookFor(g), hello
			tt.change(wh, &m)
			_, err := wh.Send(context.Background(), m)
			if !errors.Is(err, sms.ErrInvalid) || !sms.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a permanent ErrInvalid about %q", err, tt.want)
			}
			if n := len(g.requests()); n != 0 {
				t.Errorf("%d messages reached the provider", n)
			}
		})
	}
}

func TestWebhookSendHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	wh := &sms.Webhook{URL: srv.URL + "/send?key=url-key", Secret: testSecret, Client: sms.NewClient()}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := wh.Send(ctx, hello)
	if !errors.Is(err, context.Canceled) || sms.IsPermanent(err) {
		t.Fatalf("error %v, want a transient context.Canceled", err)
	}
	if strings.Contains(err.Error(), "url-key") {
		t.Errorf("error shows the URL's query: %v", err)
	}
}
