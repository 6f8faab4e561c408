package sms

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxRetryAfter caps the wait a provider can ask for, so that a wrong
// header cannot park a message for days.
const maxRetryAfter = time.Hour

// ProviderError is a provider's refusal of a message: its HTTP status,
// its own error code and message when it gave them, whether sending the
// message again is pointless (Permanent), and how long the provider asked
// careloop to wait before trying again (RetryAfter, zero when it did not
// say).
type ProviderError struct {
	HTTPStatus int
	Code       string
	Message    string
	Permanent  bool
	RetryAfter time.Duration
}

// Error describes the refusal, without any secret of careloop's.
func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider answered %d", e.HTTPStatus)
	if t := http.StatusText(e.HTTPStatus); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (code %s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Permanent {
		b.WriteString("; permanent")
	} else if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// IsPermanent reports whether err means the message can never be sent as
// it is, so that trying again is pointless: a ProviderError marked
// permanent (400, 401, 403, 404 and other 4xx answers but 408, 425 and
// 429), or a message or setting refused before sending (ErrInvalid).
// Network errors, timeouts, 408, 425, 429 and 5xx answers are not.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalid) {
		return true
	}
	var pe *ProviderError
	return errors.As(err, &pe) && pe.Permanent
}

// RetryAfter returns how long the provider asked careloop to wait before
// sending the message of err again (its Retry-After header, at most an
// hour), or zero when it did not say.
func RetryAfter(err error) time.Duration {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// permanentStatus reports whether an HTTP answer means the request will
// never succeed as it is.
func permanentStatus(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return false
	case status >= 500:
		return false
	default: // 3xx (not followed: a wrong URL) and the other 4xx
		return true
	}
}

// refusal builds the ProviderError of a non-2xx answer whose body (at most
// maxRequest bytes) may hold {"code": …, "message": …}.
func refusal(resp *http.Response, body []byte, now time.Time) *ProviderError {
	e := &ProviderError{HTTPStatus: resp.StatusCode, Permanent: permanentStatus(resp.StatusCode)}
	var parsed struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &parsed) == nil {
		e.Code = clean(strings.Trim(string(parsed.Code), `"`), 40)
		e.Message = clean(parsed.Message, 200)
	}
	if !e.Permanent {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date. It
// returns zero for an absent or unreadable header and at most
// maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}

// clean makes text from a provider safe to log: control characters
// become spaces, and it is cut to n runes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}
