package sms

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// NewClient returns an HTTP client for many concurrent sends to one
// provider: kept-alive connections (up to 128 idle per host), bounded
// connect, TLS, header and overall times, and redirects not followed (a
// provider's API does not redirect a POST; a redirect means a wrong URL
// and is reported as a permanent refusal).
func NewClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// exchange sends req and returns the answer with its body, at most
// maxRequest bytes. A failure to get an answer (network, timeout, the
// context) is returned without the URL's credentials or query.
func exchange(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	if client == nil {
		return nil, nil, fmt.Errorf("%w: no HTTP client (use NewClient)", ErrInvalid)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return nil, nil, fmt.Errorf("POST %s: %w", redact(req.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRequest))
	if err != nil {
		return nil, nil, fmt.Errorf("POST %s: reading the answer: %w", redact(req.URL), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so that the connection is reused
	return resp, body, nil
}

// redact returns u without user information, query or fragment.
func redact(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}

// checkURL reports why raw is not an absolute http(s) URL, or nil.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("is not an http(s) URL")
	}
	return nil
}
