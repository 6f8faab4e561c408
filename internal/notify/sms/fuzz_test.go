package sms_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/careloop/careloop/internal/notify/sms"
)

func FuzzParseWebhookReceipt(f *testing.F) {
	f.Add(`{"id":"gw-1","message_id":"msg-1","status":"delivered","error_code":"30003","at":"2026-03-04T11:59:30Z"}`, int64(0), true)
	f.Add(`{"id":"gw-1","status":"failed","error_code":4001}`, int64(-299), true)
	f.Add(`{"status":"sent"}`, int64(301), true)
	f.Add(`[1,2]`, int64(0), false)
	f.Add(`{"id":"x","status":"bounced"}{}`, int64(0), true)
	f.Fuzz(func(t *testing.T, body string, offset int64, sign bool) {
		signedAt := now.Add(time.Duration(offset%100000) * time.Second)
		r := signedRequest(body, testSecret, signedAt)
		if !sign {
			r.Header.Set("Careloop-Signature", "t="+strconv.FormatInt(signedAt.Unix(), 10)+",v1="+expectWebhookMAC("other", "0", []byte(body)))
		}
		rc, err := sms.ParseWebhookReceipt(r, testSecret, now)
		if err != nil {
			if rc != (sms.Receipt{}) {
				t.Fatalf("a receipt %+v with the error %v", rc, err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error shows the secret: %v", err)
			}
			return
		}
		if !sign || now.Sub(signedAt).Abs() > 5*time.Minute {
			t.Fatalf("accepted a bad or stale signature (signed %s from now): %+v", signedAt.Sub(now), rc)
		}
		switch rc.Status {
		case sms.Queued, sms.Sent, sms.Delivered, sms.Failed, sms.Bounced:
		default:
			t.Fatalf("status %q is not normalised", rc.Status)
		}
		if rc.ProviderRef == "" && rc.MessageID == "" {
			t.Fatalf("a receipt that names no message: %+v", rc)
		}
		for _, r := range rc.ErrorCode {
			if unicode.IsControl(r) {
				t.Fatalf("error code %q holds a control character", rc.ErrorCode)
			}
		}
	})
}

func FuzzKeywordOf(f *testing.F) {
	for _, s := range []string{"STOP", " stop. ", "Sí", "si\u0301", "¡Basta!", "opt out", "help me", "", "UNSUBSCRIBE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		k := sms.KeywordOf(body)
		if k < sms.None || k > sms.Help {
			t.Fatalf("KeywordOf(%q) = %d, not a keyword", body, k)
		}
		if got := sms.KeywordOf("  " + body + "\n"); got != k {
			t.Fatalf("surrounding spaces change %q from %v to %v", body, k, got)
		}
		if got := sms.KeywordOf(strings.ToUpper(body)); got != k {
			t.Fatalf("upper case changes %q from %v to %v", body, k, got)
		}
		if k != sms.None && strings.Contains(strings.ToLower(body), "please") {
			t.Fatalf("%q is more than a keyword but is %v", body, k)
		}
	})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+1 (555) 123-4567", "+44 20 7946 0958", "555-1234", "+0123456789", "++1", "+1 555 ١٢٣ 4567", "+１２３４５６７８９"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := sms.NormalizePhone(raw)
		if err != nil {
			if got != "" {
				t.Fatalf("NormalizePhone(%q) = %q with the error %v", raw, got, err)
			}
			if err.Error() == "" {
				t.Fatalf("an empty error for %q", raw)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", raw, got)
		}
		if again, err := sms.NormalizePhone(got); err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v: not stable", got, again, err)
		}
		var digits strings.Builder
		for _, r := range raw {
			if r >= '0' && r <= '9' {
				digits.WriteRune(r)
			}
		}
		if "+"+digits.String() != got {
			t.Fatalf("NormalizePhone(%q) = %q: digits changed", raw, got)
		}
	})
}
