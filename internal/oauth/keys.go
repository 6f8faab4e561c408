package oauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a fetched JWK Set.
const maxJWKSBytes = 256 << 10

// refetchInterval is the least time between two fetches of a JWK Set URL
// caused by an unknown kid.
const refetchInterval = 30 * time.Second

// keyCache holds the JWK Sets fetched from clients' URLs.
type keyCache struct {
	mu   sync.Mutex
	sets map[string]*fetchedKeys
}

type fetchedKeys struct {
	set *jose.JSONWebKeySet
	at  time.Time
}

func (c *keyCache) get(u string) *fetchedKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[u]
}

func (c *keyCache) put(u string, f *fetchedKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets[u] = f
}

// clientKeys returns the client's keys with the key id kid: those given
// at registration, or those published at its URL, fetched when the cached
// set is older than Config.JWKSCacheTTL or lacks kid (at most every 30 s).
// When a fetch fails the keys fetched before are used.
func (s *Service) clientKeys(ctx context.Context, c *Client, kid string) ([]jose.JSONWebKey, error) {
	if c.JWKSURL == "" {
		return c.Keys.Key(kid), nil
	}
	now := s.now()
	f := s.keys.get(c.JWKSURL)
	stale := f == nil || now.Sub(f.at) > s.jwksTTL
	if !stale && len(f.set.Key(kid)) == 0 && now.Sub(f.at) > refetchInterval {
		stale = true
	}
	if stale {
		set, err := s.fetchKeys(ctx, c.JWKSURL)
		switch {
		case err == nil:
			f = &fetchedKeys{set: set, at: now}
			s.keys.put(c.JWKSURL, f)
		case f == nil:
			return nil, err
		default:
			s.log.Warn("JWK Set URL could not be read; using the keys fetched before", "client", c.ID, "url", c.JWKSURL, "error", err)
		}
	}
	return f.set.Key(kid), nil
}

// fetchKeys reads the JWK Set at u, within the HTTP client's timeout.
func (s *Service) fetchKeys(ctx context.Context, u string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("oauth: fetch JWK Set: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth: fetch JWK Set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth: fetch JWK Set %s: status %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("oauth: fetch JWK Set %s: %w", u, err)
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("oauth: fetch JWK Set %s: larger than %d bytes", u, maxJWKSBytes)
	}
	set, err := ParseKeys(b, false)
	if err != nil {
		return nil, fmt.Errorf("oauth: JWK Set %s: %w", u, err)
	}
	return set, nil
}
