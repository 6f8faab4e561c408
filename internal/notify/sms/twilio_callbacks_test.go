package sms_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/notify/sms"
)

const receiptURL = "https://care.example.org/notify/receipts/twilio/org1?m=msg-42"

// expectTwilioSignature computes X-Twilio-Signature the way the provider
// documents it, separately from the package's code.
func expectTwilioSignature(token, publicURL string, form url.Values) string {
	var keys []string
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := publicURL
	for _, k := range keys {
		vals := append([]string(nil), form[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			s += k + v
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func twilioRequest(form url.Values, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify/receipts/twilio/org1?m=msg-42", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		r.Header.Set("X-Twilio-Signature", signature)
	}
	return r
}

func receiptForm(status string) url.Values {
	return url.Values{"MessageSid": {"SM0123456789abcdef"}, "MessageStatus": {status}, "AccountSid": {"AC42"},
		"To": {"+15551234567"}, "From": {"+15557654321"}}
}

func TestTwilioSignatureKnownVector(t *testing.T) {
	// Computed once outside Go (HMAC-SHA1, base64) from the documented
	// algorithm.
	const want = "Vj1sIaZs5k/Fgwu1ONfnCwuC/MU="
	form := receiptForm("delivered")
	if got := expectTwilioSignature("tok3n-secret", receiptURL, form); got != want {
		t.Fatalf("the test's own signature %s, want %s", got, want)
	}
	rc, err := sms.ParseTwilioReceipt(twilioRequest(form, want), "tok3n-secret", receiptURL)
	if err != nil || rc.Status != sms.Delivered {
		t.Fatalf("receipt %+v, %v", rc, err)
	}
}

func TestParseTwilioReceiptStatuses(t *testing.T) {
	tests := []struct{ status, want string }{
		{"queued", sms.Queued}, {"accepted", sms.Queued}, {"scheduled", sms.Queued},
		{"sending", sms.Sent}, {"sent", sms.Sent},
		{"delivered", sms.Delivered},
		{"undelivered", sms.Failed}, {"failed", sms.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			form := receiptForm(tt.status)
			if tt.want == sms.Failed {
				form.Set("ErrorCode", "30003")
			}
			rc, err := sms.ParseTwilioReceipt(twilioRequest(form, expectTwilioSignature(testToken, receiptURL, form)), testToken, receiptURL)
			if err != nil {
				t.Fatal(err)
			}
			want := sms.Receipt{ProviderRef: "SM0123456789abcdef", Status: tt.want}
			if tt.want == sms.Failed {
				want.ErrorCode = "30003"
			}
			if rc != want {
				t.Errorf("receipt %+v, want %+v", rc, want)
			}
		})
	}
}

func TestParseTwilioReceiptRefuses(t *testing.T) {
	good := receiptForm("delivered")
	sig := expectTwilioSignature(testToken, receiptURL, good)
	tests := []struct {
		name      string
		req       func() *http.Request
		url       string
		signature bool // the error wraps ErrSignature
	}{
		{name: "no signature", req: func() *http.Request { return twilioRequest(good, "") }, signature: true},
		{name: "signature under another token", req: func() *http.Request {
			return twilioRequest(good, expectTwilioSignature("other-token", receiptURL, good))
		}, signature: true},
		{name: "signature for another URL", req: func() *http.Request { return twilioRequest(good, sig) }, url: "https://care.example.org/notify/receipts/twilio/org2?m=msg-42", signature: true},
		{name: "status changed after signing", req: func() *http.Request {
			f := receiptForm("failed")
			return twilioRequest(f, sig)
		}, signature: true},
		{name: "parameter added after signing", req: func() *http.Request {
			f := receiptForm("delivered")
			f.Set("ErrorCode", "30003")
			return twilioRequest(f, sig)
		}, signature: true},
		{name: "GET", req: func() *http.Request {
			r := twilioRequest(good, sig)
			r.Method = http.MethodGet
			return r
		}},
		{name: "JSON body", req: func() *http.Request {
			r := twilioRequest(good, sig)
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{name: "unknown status", req: func() *http.Request {
			f := receiptForm("pondering")
			return twilioRequest(f, expectTwilioSignature(testToken, receiptURL, f))
		}},
		{name: "no message SID", req: func() *http.Request {
			f := receiptForm("delivered")
			f.Del("MessageSid")
			return twilioRequest(f, expectTwilioSignature(testToken, receiptURL, f))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := receiptURL
			if tt.url != "" {
				u = tt.url
			}
			rc, err := sms.ParseTwilioReceipt(tt.req(), testToken, u)
			if err == nil {
				t.Fatalf("accepted: %+v", rc)
			}
			if got := errors.Is(err, sms.ErrSignature); got != tt.signature {
				t.Errorf("error %v: wraps ErrSignature %v, want %v", err, got, tt.signature)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the auth token: %v", err)
			}
		})
	}
}

func TestParseTwilioInbound(t *testing.T) {
	const inboundURL = "https://care.example.org/notify/inbound/twilio/org1"
	tests := []struct {
		body string
		want sms.Keyword
	}{
		{"STOP", sms.Stop}, {" stop ", sms.Stop}, {"Unsubscribe", sms.Stop}, {"PARAR", sms.Stop},
		{"START", sms.Start}, {"unstop", sms.Start}, {"Sí", sms.Start},
		{"help", sms.Help}, {"AYUDA", sms.Help},
		{"please stop texting me", sms.None}, {"Thanks!", sms.None},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			form := url.Values{"From": {"+15551234567"}, "To": {"+15557654321"}, "Body": {tt.body}, "MessageSid": {"SM9"}, "NumMedia": {"0"}}
			r := httptest.NewRequest(http.MethodPost, "/notify/inbound/twilio/org1", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			r.Header.Set("X-Twilio-Signature", expectTwilioSignature(testToken, inboundURL, form))
			in, err := sms.ParseTwilioInbound(r, testToken, inboundURL)
			if err != nil {
				t.Fatal(err)
			}
			want := sms.Inbound{From: "+15551234567", To: "+15557654321", Body: tt.body, Keyword: tt.want}
			if in != want {
				t.Errorf("inbound %+v, want %+v", in, want)
			}
		})
	}
	t.Run("forged", func(t *testing.T) {
		form := url.Values{"From": {"+15551234567"}, "To": {"+15557654321"}, "Body": {"START"}}
		r := httptest.NewRequest(http.MethodPost, "/notify/inbound/twilio/org1", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", expectTwilioSignature("guessed", inboundURL, form))
		if in, err := sms.ParseTwilioInbound(r, testToken, inboundURL); !errors.Is(err, sms.ErrSignature) {
			t.Fatalf("forged reply: %+v, %v", in, err)
		}
	})
}
