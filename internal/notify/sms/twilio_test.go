package sms_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/notify/sms"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tw1l10-auth-t0ken"
)

// fakeTwilio is a Messages API on loopback: it checks the account, the
// basic authentication and the form, records what it was sent, and
// answers with the status, headers and body of the test.
type fakeTwilio struct {
	*httptest.Server
	status int
	header http.Header
	body   string

	mu    sync.Mutex
	forms []url.Values
}

func startTwilio(t *testing.T, status int, header http.Header, body string) *fakeTwilio {
	f := &fakeTwilio{status: status, header: header, body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" || !ok || user != testSID || pass != testToken {
			http.Error(w, `{"code":20003,"message":"Authenticate"}`, http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.mu.Unlock()
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		fmt.Fprint(w, f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTwilio) received() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

func twilioFor(f *fakeTwilio) *sms.Twilio {
	return &sms.Twilio{BaseURL: f.URL, AccountSID: testSID, AuthToken: testToken, From: "+15557654321", Client: sms.NewClient()}
}

var hello = sms.Message{ID: "msg-1", To: "+1 (555) 123-4567", Body: "You have a new message. Sign in to see it.", StatusCallback: "https://care.example.org/notify/receipts/twilio/org1?m=msg-1"}

func TestTwilioSendAccepted(t *testing.T) {
	f := startTwilio(t, http.StatusCreated, nil, `{"sid":"SM42","status":"queued","account_sid":"`+testSID+`"}`)
	tw := twilioFor(f)
	tw.MessagingServiceSID = "MG42"
	res, err := tw.Send(context.Background(), hello)
	if err != nil {
		t.Fatal(err)
	}
	if res != (sms.Result{ProviderRef: "SM42", Status: sms.Queued}) {
		t.Errorf("result %+v", res)
	}
	forms := f.received()
	if len(forms) != 1 {
		t.Fatalf("%d requests, want 1", len(forms))
	}
	want := url.Values{"To": {"+15551234567"}, "From": {"+15557654321"}, "MessagingServiceSid": {"MG42"},
		"Body": {hello.Body}, "StatusCallback": {hello.StatusCallback}}
	if got := forms[0]; got.Encode() != want.Encode() {
		t.Errorf("form %v, want %v", got, want)
	}
}

func TestTwilioSendStatusNormalised(t *testing.T) {
	tests := []struct{ name, status, want string }{
		{name: "accepted", status: "accepted", want: sms.Queued},
		{name: "scheduled", status: "scheduled", want: sms.Queued},
		{name: "sending", status: "sending", want: sms.Sent},
		{name: "sent", status: "sent", want: sms.Sent},
		{name: "failed at once", status: "failed", want: sms.Failed},
		{name: "unknown status", status: "pondering", want: sms.Queued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startTwilio(t, http.StatusCreated, nil, `{"sid":"SM1","status":"`+tt.status+`"}`)
			res, err := twilioFor(f).Send(context.Background(), hello)
			if err != nil || res.Status != tt.want {
				t.Fatalf("result %+v, %v; want status %s", res, err, tt.want)
			}
		})
	}
}

func TestTwilioSendRefusals(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		permanent  bool
		retryAfter time.Duration
		wantText   string
	}{
		{name: "400 invalid number", status: 400, body: `{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}`, permanent: true, wantText: "code 21211"},
		{name: "401 wrong credentials", status: 401, body: `{"code":20003,"message":"Authenticate"}`, permanent: true, wantText: "401"},
		{name: "403 forbidden", status: 403, body: `{"code":20403,"message":"Forbidden"}`, permanent: true, wantText: "20403"},
		{name: "404 no such account", status: 404, body: `{"code":20404,"message":"not found"}`, permanent: true, wantText: "not found"},
		{name: "408 timeout", status: 408, body: ``, wantText: "408"},
		{name: "429 with Retry-After seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, body: `{"code":20429,"message":"Too Many Requests"}`, retryAfter: 7 * time.Second, wantText: "retry after 7s"},
		{name: "429 with a Retry-After too far", status: 429, header: http.Header{"Retry-After": {"86400"}}, retryAfter: time.Hour},
		{name: "429 with an unreadable Retry-After", status: 429, header: http.Header{"Retry-After": {"soon"}}},
		{name: "500 server error", status: 500, body: `<html>oops</html>`, wantText: "500"},
		{name: "503 with a Retry-After date", status: 503, header: http.Header{"Retry-After": {time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)}}, retryAfter: 2 * time.Minute},
		{name: "302 redirect is a wrong URL", status: 302, header: http.Header{"Location": {"/elsewhere"}}, permanent: true},
		{name: "200 without a sid", status: 200, body: `<html>welcome</html>`, permanent: true, wantText: "message SID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startTwilio(t, tt.status, tt.header, tt.body)
			_, err := twilioFor(f).Send(context.Background(), hello)
			var pe *sms.ProviderError
			if !errors.As(err, &pe) || pe.HTTPStatus != tt.status {
				t.Fatalf("error %v, want a ProviderError with %d", err, tt.status)
			}
			if got := sms.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			got := sms.RetryAfter(err)
			if tt.retryAfter >= time.Minute {
				// An HTTP date has a one-second resolution.
				if got < tt.retryAfter-2*time.Second || got > tt.retryAfter {
					t.Errorf("RetryAfter = %s, want about %s", got, tt.retryAfter)
				}
			} else if got != tt.retryAfter {
				t.Errorf("RetryAfter = %s, want %s", got, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "msg-1") {
				t.Errorf("error %q lacks %q or the message id", err, tt.wantText)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the auth token: %v", err)
			}
		})
	}
}

func TestTwilioSendNetworkErrorIsTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	tw := &sms.Twilio{BaseURL: base, AccountSID: testSID, AuthToken: testToken, From: "+15557654321", Client: sms.NewClient()}
	_, err = tw.Send(context.Background(), hello)
	if err == nil || sms.IsPermanent(err) || sms.RetryAfter(err) != 0 {
		t.Fatalf("error %v: want a transient error without Retry-After", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the auth token: %v", err)
	}
}

func TestTwilioSendRefusesBeforeSending(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sms.Twilio, *sms.Message)
		want   string
	}{
		{name: "number without country code", change: func(_ *sms.Twilio, m *sms.Message) { m.To = "555 123 4567" }, want: "recipient"},
		{name: "empty text", change: func(_ *sms.Twilio, m *sms.Message) { m.Body = "  " }, want: "empty"},
		{name: "text too long", change: func(_ *sms.Twilio, m *sms.Message) { m.Body = strings.Repeat("a", 1601) }, want: "1601 characters"},
		{name: "status callback not a URL", change: func(_ *sms.Twilio, m *sms.Message) { m.StatusCallback = "/receipts" }, want: "status callback"},
		{name: "neither From nor service", change: func(tw *sms.Twilio, _ *sms.Message) { tw.From = "" }, want: "MessagingServiceSID"},
		{name: "no auth token", change: func(tw *sms.Twilio, _ *sms.Message) { tw.AuthToken = "" }, want: "auth token"},
		{name: "account SID with a slash", change: func(tw *sms.Twilio, _ *sms.Message) { tw.AccountSID = "AC1/../x" }, want: "account SID"},
		{name: "no client", change: func(tw *sms.Twilio, _ *sms.Message) { tw.Client = nil }, want: "NewClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startTwilio(t, http.StatusCreated, nil, `{"sid":"SM1","status":"queued"}`)
			tw, m := twilioFor(f), hello
			tt.change(tw, &m)
			_, err := tw.Send(context.Background(), m)
			if !errors.Is(err, sms.ErrInvalid) || !sms.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a permanent ErrInvalid about %q", err, tt.want)
			}
			if n := len(f.received()); n != 0 {
				t.Errorf("%d requests reached the provider", n)
			}
		})
	}
}

func TestAdaptersHideSecrets(t *testing.T) {
	tw := sms.Twilio{BaseURL: "https://user:pw@api.example.test/?k=v", AccountSID: testSID, AuthToken: testToken, From: "+15557654321"}
	wh := sms.Webhook{URL: "https://gw.example.test/send?key=url-key", Secret: "wh-s3cret", From: "+15557654321"}
	for _, out := range []string{
		tw.String(), fmt.Sprintf("%v", tw), fmt.Sprintf("%+v", tw), fmt.Sprintf("%#v", tw), fmt.Sprintf("%v", &tw), fmt.Sprintf("%+v", &tw), (&tw).String(),
		wh.String(), fmt.Sprintf("%v", wh), fmt.Sprintf("%+v", wh), fmt.Sprintf("%#v", wh), fmt.Sprintf("%v", &wh), fmt.Sprintf("%+v", &wh),
	} {
		for _, secret := range []string{testToken, "wh-s3cret", "url-key", "pw"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows a secret", out)
			}
		}
	}
	if !strings.Contains(tw.String(), testSID) || !strings.Contains(wh.String(), "gw.example.test/send") {
		t.Errorf("descriptions say too little: %q, %q", tw.String(), wh.String())
	}
}
