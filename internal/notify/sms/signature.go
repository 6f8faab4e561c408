package sms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a webhook signature.
const SignatureHeader = "Careloop-Signature"

// maxSkew is how far a signature's time may be from the receiver's clock.
const maxSkew = 5 * time.Minute

// SignWebhook returns the Careloop-Signature header value for body sent
// at t: "t=<unix seconds>,v1=<hex HMAC-SHA256 under secret of "<t>." and
// the body>".
func SignWebhook(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + webhookMAC(secret, ts, body)
}

func webhookMAC(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyWebhook checks a Careloop-Signature header value for body against
// secret at now: its time within five minutes of now, and one of its v1
// values (a sender rotating secrets may give several) the HMAC of body.
// Errors wrap ErrSignature.
func verifyWebhook(secret, header string, body []byte, now time.Time) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret to check it with", ErrSignature)
	}
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrSignature, SignatureHeader)
	}
	var ts string
	var macs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two times in %s", ErrSignature, SignatureHeader)
			}
			ts = v
		case "v1":
			macs = append(macs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts != strconv.FormatInt(sec, 10) {
		return fmt.Errorf("%w: %s has no time t=<unix seconds>", ErrSignature, SignatureHeader)
	}
	if len(macs) == 0 {
		return fmt.Errorf("%w: %s has no v1 signature", ErrSignature, SignatureHeader)
	}
	at := time.Unix(sec, 0)
	if skew := now.Sub(at); skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("%w: signed at %s, more than %s from now", ErrSignature, at.UTC().Format(time.RFC3339), maxSkew)
	}
	want := []byte(webhookMAC(secret, ts, body))
	for _, m := range macs {
		if hmac.Equal([]byte(m), want) {
			return nil
		}
	}
	return fmt.Errorf("%w: the v1 signature does not match the body", ErrSignature)
}
