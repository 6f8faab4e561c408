// Package oauth lets other systems call careloop's FHIR API with OAuth 2.0
// client credentials, as SMART Backend Services (SMART App Launch v2)
// describe them.
//
// An organisation registers a backend client: a name, the public keys the
// client signs with (a JWK Set given at registration, or the URL where the
// client publishes it) and the SMART v2 system scopes it may be granted.
// The client proves who it is at POST /auth/token with a JWT it signs with
// its private key (private_key_jwt, RFC 7523) and receives an opaque bearer
// token, valid for five minutes, carrying the scopes both requested and
// allowed. Only a SHA-256 hash of the token is stored; the identifiers (jti)
// of the assertions used are stored until they expire, so an assertion is
// accepted once, whichever careloop node receives it.
//
// The FHIR API's policy (internal/access) authenticates the tokens with
// [Service.AuthenticateToken] and enforces their scopes with [Permits].
package oauth

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/ttlcache"
)

// Defaults of Config.
const (
	DefaultTokenLifetime = 5 * time.Minute
	DefaultCacheTTL      = 10 * time.Second
	DefaultJWKSCacheTTL  = 5 * time.Minute
	DefaultFetchTimeout  = 5 * time.Second
)

// MaxAssertionLifetime is how far in the future a client assertion may
// expire, as SMART Backend Services require.
const MaxAssertionLifetime = 5 * time.Minute

// clockSkew is the tolerance for clocks of clients that run a little
// ahead or behind careloop's.
const clockSkew = 30 * time.Second

// TokenPath is the path of the token endpoint.
const TokenPath = "/auth/token"

// Config is what a Service is built from. The zero value of every field
// but BaseURL means its default.
type Config struct {
	// BaseURL is careloop's public URL (https://careloop.example.org): the
	// token endpoint, which client assertions must name as their audience,
	// is BaseURL + "/auth/token".
	BaseURL string
	// TokenLifetime is how long an access token lives (default 5 minutes).
	TokenLifetime time.Duration
	// CacheTTL is how long a token found in the database is trusted from
	// memory (default 10 s, never past the token's expiry). A client
	// revoked through this Service loses its tokens at once; revoked by
	// another process (the careloop command, another node), within CacheTTL.
	CacheTTL time.Duration
	// JWKSCacheTTL is how long keys fetched from a client's JWK Set URL are
	// used before fetching them again (default 5 minutes). An unknown kid
	// triggers a fetch at most every 30 seconds, for key rotation.
	JWKSCacheTTL time.Duration
	// HTTPClient fetches JWK Set URLs; default a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives notices, such as a JWK Set URL that cannot be read.
	Log *slog.Logger
}

// Service registers clients, runs the token endpoint and authenticates
// the access tokens it issued. It is safe for concurrent use.
type Service struct {
	db       *db.DB
	base     string
	lifetime time.Duration
	cacheTTL time.Duration
	jwksTTL  time.Duration
	http     *http.Client
	now      func() time.Time
	log      *slog.Logger

	tokens      *ttlcache.Cache[[32]byte, *AccessToken]
	keys        keyCache
	lastCleanup atomic.Int64 // Unix seconds of the last removal of expired rows
}

// New returns the service over d.
func New(d *db.DB, c Config) *Service {
	s := &Service{
		db:       d,
		base:     strings.TrimSuffix(c.BaseURL, "/"),
		lifetime: c.TokenLifetime,
		cacheTTL: c.CacheTTL,
		jwksTTL:  c.JWKSCacheTTL,
		http:     c.HTTPClient,
		now:      c.Now,
		log:      c.Log,
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultTokenLifetime
	}
	if s.cacheTTL <= 0 {
		s.cacheTTL = DefaultCacheTTL
	}
	if s.jwksTTL <= 0 {
		s.jwksTTL = DefaultJWKSCacheTTL
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.tokens = ttlcache.New[[32]byte, *AccessToken](maxCachedTokens)
	s.keys.sets = map[string]*fetchedKeys{}
	return s
}

// SetClock replaces the service's clock. Tests use it to move time
// forward; call it before the service handles requests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// TokenEndpoint returns the URL of the token endpoint, the audience client
// assertions must name.
func (s *Service) TokenEndpoint() string { return s.base + TokenPath }

// Register adds the token endpoint and the SMART configuration to mux:
// POST /auth/token, GET /.well-known/smart-configuration and, where SMART
// clients look for it beside the FHIR base, GET
// /fhir/.well-known/smart-configuration. Errors of the token endpoint go
// through httpx.WriteError: serve mux through httpx.Handler with
// RenderError as the ErrorRenderer of "/auth/" so that they have the shape
// RFC 6749 gives them.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+TokenPath, s.handleToken)
	mux.HandleFunc("GET /.well-known/smart-configuration", s.handleConfiguration)
	mux.HandleFunc("GET /fhir/.well-known/smart-configuration", s.handleConfiguration)
}

// SigningAlgorithms are the JWS algorithms client assertions may use.
// SMART requires RS384 and ES384; none and the HMAC algorithms are refused,
// since a public key cannot verify them.
var SigningAlgorithms = []string{"RS384", "ES384", "RS256", "ES256", "RS512", "ES512", "PS256", "PS384", "PS512"}

// smartConfiguration is the SMART discovery document.
type smartConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Capabilities                      []string `json:"capabilities"`
}

func (s *Service) handleConfiguration(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	err := httpx.WriteJSON(w, http.StatusOK, smartConfiguration{
		TokenEndpoint:                     s.TokenEndpoint(),
		TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
		TokenEndpointAuthSigningAlgs:      SigningAlgorithms,
		GrantTypesSupported:               []string{"client_credentials"},
		ScopesSupported:                   []string{"system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*"},
		Capabilities:                      []string{"client-confidential-asymmetric", "permission-v2", "permission-v1"},
	})
	if err != nil {
		s.log.Debug("smart configuration not sent", "error", err)
	}
}
