package sms_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/notify/sms"
)

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// signedRequest is a provider's POST of body signed at t with secret, the
// signature computed by the test from the contract.
func signedRequest(body, secret string, t time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify/receipts/webhook/org1", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	ts := strconv.FormatInt(t.Unix(), 10)
	r.Header.Set("Careloop-Signature", "t="+ts+",v1="+expectWebhookMAC(secret, ts, []byte(body)))
	return r
}

func TestSignWebhookMatchesContract(t *testing.T) {
	body := []byte(`{"id":"gw-1","status":"delivered"}`)
	want := "t=1772625600,v1=" + expectWebhookMAC(testSecret, "1772625600", body)
	if got := sms.SignWebhook(testSecret, body, now); got != want {
		t.Fatalf("SignWebhook = %s, want %s", got, want)
	}
}

func TestParseWebhookReceiptStatuses(t *testing.T) {
	for _, status := range []string{"queued", "sent", "delivered", "failed", "bounced", "Delivered"} {
		t.Run(status, func(t *testing.T) {
			body := `{"id":"gw-1","message_id":"msg-1","status":"` + status + `","error_code":"30003","at":"2026-03-04T11:59:30Z","extra":true}`
			rc, err := sms.ParseWebhookReceipt(signedRequest(body, testSecret, now), testSecret, now)
			if err != nil {
				t.Fatal(err)
			}
			want := sms.Receipt{ProviderRef: "gw-1", MessageID: "msg-1", Status: strings.ToLower(status), ErrorCode: "30003", At: now.Add(-30 * time.Second)}
			if rc != want {
				t.Errorf("receipt %+v, want %+v", rc, want)
			}
		})
	}
}

func TestParseWebhookReceiptFields(t *testing.T) {
	tests := []struct {
		name string
		body string
		want sms.Receipt
	}{
		{name: "only careloop's id", body: `{"message_id":"msg-1","status":"sent"}`, want: sms.Receipt{MessageID: "msg-1", Status: sms.Sent}},
		{name: "only the provider's id", body: `{"id":"gw-1","status":"failed","error_code":4001}`, want: sms.Receipt{ProviderRef: "gw-1", Status: sms.Failed, ErrorCode: "4001"}},
		{name: "null error code", body: `{"id":"gw-1","status":"delivered","error_code":null}`, want: sms.Receipt{ProviderRef: "gw-1", Status: sms.Delivered}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := sms.ParseWebhookReceipt(signedRequest(tt.body, testSecret, now), testSecret, now)
			if err != nil || rc != tt.want {
				t.Fatalf("receipt %+v, %v; want %+v", rc, err, tt.want)
			}
		})
	}
}

func TestParseWebhookReceiptRefuses(t *testing.T) {
	const good = `{"id":"gw-1","status":"delivered"}`
	tests := []struct {
		name      string
		req       func() *http.Request
		signature bool
	}{
		{name: "no signature", req: func() *http.Request {
			r := signedRequest(good, testSecret, now)
			r.Header.Del("Careloop-Signature")
			return r
		}, signature: true},
		{name: "another secret", req: func() *http.Request { return signedRequest(good, "guessed", now) }, signature: true},
		{name: "six minutes old", req: func() *http.Request { return signedRequest(good, testSecret, now.Add(-6*time.Minute)) }, signature: true},
		{name: "six minutes ahead", req: func() *http.Request { return signedRequest(good, testSecret, now.Add(6*time.Minute)) }, signature: true},
		{name: "body changed after signing", req: func() *http.Request {
			r := signedRequest(good, testSecret, now)
			return withBody(r, `{"id":"gw-1","status":"bounced"}`)
		}, signature: true},
		{name: "time changed after signing", req: func() *http.Request {
			r := signedRequest(good, testSecret, now.Add(-10*time.Minute))
			sig := r.Header.Get("Careloop-Signature")
			r.Header.Set("Careloop-Signature", strings.Replace(sig, strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10), strconv.FormatInt(now.Unix(), 10), 1))
			return r
		}, signature: true},
		{name: "no time", req: func() *http.Request {
			r := signedRequest(good, testSecret, now)
			_, v1, _ := strings.Cut(r.Header.Get("Careloop-Signature"), ",")
			r.Header.Set("Careloop-Signature", v1)
			return r
		}, signature: true},
		{name: "unknown status", req: func() *http.Request {
			return signedRequest(`{"id":"gw-1","status":"lost"}`, testSecret, now)
		}},
		{name: "no ids", req: func() *http.Request { return signedRequest(`{"status":"delivered"}`, testSecret, now) }},
		{name: "bad time", req: func() *http.Request {
			return signedRequest(`{"id":"gw-1","status":"delivered","at":"yesterday"}`, testSecret, now)
		}},
		{name: "not an object", req: func() *http.Request { return signedRequest(`["delivered"]`, testSecret, now) }},
		{name: "two objects", req: func() *http.Request { return signedRequest(good+good, testSecret, now) }},
		{name: "form body", req: func() *http.Request {
			r := signedRequest(good, testSecret, now)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		{name: "too large", req: func() *http.Request {
			return signedRequest(`{"id":"`+strings.Repeat("x", 70000)+`","status":"sent"}`, testSecret, now)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := sms.ParseWebhookReceipt(tt.req(), testSecret, now)
			if err == nil {
				t.Fatalf("accepted: %+v", rc)
			}
			if got := errors.Is(err, sms.ErrSignature); got != tt.signature {
				t.Errorf("error %v: wraps ErrSignature %v, want %v", err, got, tt.signature)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestParseWebhookReceiptAcceptsRotatedSecret(t *testing.T) {
	const body = `{"id":"gw-1","status":"delivered"}`
	r := signedRequest(body, testSecret, now)
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set("Careloop-Signature", "t="+ts+",v1="+expectWebhookMAC("old-secret", ts, []byte(body))+",v1="+expectWebhookMAC(testSecret, ts, []byte(body)))
	if _, err := sms.ParseWebhookReceipt(r, testSecret, now); err != nil {
		t.Fatalf("a signature among several: %v", err)
	}
}

func TestParseWebhookInbound(t *testing.T) {
	tests := []struct {
		text string
		want sms.Keyword
	}{
		{"STOP", sms.Stop}, {"Stop.", sms.Stop}, {"¡Basta!", sms.Stop}, {"opt out", sms.Stop},
		{"start", sms.Start}, {"YES", sms.Start}, {"si", sms.Start},
		{"info", sms.Help},
		{"stop it please", sms.None}, {"", sms.None},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			body := `{"from":"+15551234567","to":"+15557654321","text":"` + tt.text + `"}`
			in, err := sms.ParseWebhookInbound(signedRequest(body, testSecret, now), testSecret, now)
			if err != nil {
				t.Fatal(err)
			}
			want := sms.Inbound{From: "+15551234567", To: "+15557654321", Body: tt.text, Keyword: tt.want}
			if in != want {
				t.Errorf("inbound %+v, want %+v", in, want)
			}
		})
	}
	t.Run("stale", func(t *testing.T) {
		body := `{"from":"+15551234567","to":"+15557654321","text":"START"}`
		if in, err := sms.ParseWebhookInbound(signedRequest(body, testSecret, now.Add(-time.Hour)), testSecret, now); !errors.Is(err, sms.ErrSignature) {
			t.Fatalf("replayed reply: %+v, %v", in, err)
		}
	})
	t.Run("no sender", func(t *testing.T) {
		body := `{"to":"+15557654321","text":"STOP"}`
		if in, err := sms.ParseWebhookInbound(signedRequest(body, testSecret, now), testSecret, now); !errors.Is(err, sms.ErrInvalid) {
			t.Fatalf("reply without a sender: %+v, %v", in, err)
		}
	})
}

// withBody replaces the body of r, keeping its headers.
func withBody(r *http.Request, body string) *http.Request {
	n := httptest.NewRequest(r.Method, r.URL.String(), strings.NewReader(body))
	n.Header = r.Header.Clone()
	return n
}
