package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ParseTwilioReceipt reads a status callback of the Twilio adapter: a form
// POST signed with X-Twilio-Signature under authToken for publicURL, the
// full URL the provider posted to as it knows it (scheme, host, path and
// query). It returns the receipt with the message SID as ProviderRef and
// the status normalised; MessageID and At are left empty, as the provider
// does not report them. An unsigned or wrongly signed request is an error
// wrapping ErrSignature; an unknown status or a missing SID is an error
// too.
func ParseTwilioReceipt(r *http.Request, authToken, publicURL string) (Receipt, error) {
	form, err := twilioForm(r, authToken, publicURL)
	if err != nil {
		return Receipt{}, fmt.Errorf("sms: twilio receipt: %w", err)
	}
	sid := first(form, "MessageSid", "SmsSid")
	if sid == "" {
		return Receipt{}, fmt.Errorf("sms: twilio receipt: %w: no MessageSid", ErrInvalid)
	}
	raw := first(form, "MessageStatus", "SmsStatus")
	status, known := twilioStatus(raw)
	if !known {
		return Receipt{}, fmt.Errorf("sms: twilio receipt for %s: %w: unknown status %q", sid, ErrInvalid, clean(raw, 40))
	}
	return Receipt{ProviderRef: sid, Status: status, ErrorCode: clean(form.Get("ErrorCode"), 40)}, nil
}

// ParseTwilioInbound reads a message a person sent to a number of the
// Twilio account: a form POST signed as for ParseTwilioReceipt, with From,
// To and Body. The Keyword is that of the body (see KeywordOf).
func ParseTwilioInbound(r *http.Request, authToken, publicURL string) (Inbound, error) {
	form, err := twilioForm(r, authToken, publicURL)
	if err != nil {
		return Inbound{}, fmt.Errorf("sms: twilio inbound message: %w", err)
	}
	in := Inbound{From: form.Get("From"), To: form.Get("To"), Body: form.Get("Body")}
	if in.From == "" {
		return Inbound{}, fmt.Errorf("sms: twilio inbound message: %w: no From", ErrInvalid)
	}
	in.Keyword = KeywordOf(in.Body)
	return in, nil
}

// twilioForm reads the form of a signed POST and checks its signature.
func twilioForm(r *http.Request, authToken, publicURL string) (url.Values, error) {
	if authToken == "" {
		return nil, fmt.Errorf("%w: no auth token to check it with", ErrSignature)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: method %s, want POST", ErrInvalid, r.Method)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: content type %q, want a form", ErrInvalid, r.Header.Get("Content-Type"))
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: the form does not parse", ErrInvalid)
	}
	got := r.Header.Get("X-Twilio-Signature")
	if got == "" {
		return nil, fmt.Errorf("%w: no X-Twilio-Signature", ErrSignature)
	}
	want := twilioSignature(authToken, publicURL, form)
	if !hmac.Equal([]byte(got), []byte(want)) {
		return nil, fmt.Errorf("%w: X-Twilio-Signature does not match", ErrSignature)
	}
	return form, nil
}

// twilioSignature returns the X-Twilio-Signature of a form POST to
// publicURL: base64 of HMAC-SHA1 under authToken of the URL followed by
// each parameter's name and value, sorted by name (the values of a
// repeated name in sorted order).
func twilioSignature(authToken, publicURL string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, publicURL)
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(form[name])
		slices.Sort(values)
		for _, v := range values {
			io.WriteString(mac, name)
			io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// readBody reads the body of a provider's request, at most maxRequest
// bytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, fmt.Errorf("%w: no body", ErrInvalid)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	if len(body) > maxRequest {
		return nil, fmt.Errorf("%w: the body is larger than %d bytes", ErrInvalid, maxRequest)
	}
	return body, nil
}

// first returns the first non-empty value of the names in form.
func first(form url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(form.Get(n)); v != "" {
			return v
		}
	}
	return ""
}
