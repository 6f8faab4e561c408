package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// AssertionType is the client_assertion_type of private_key_jwt.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// tokenPrefix marks careloop access tokens, so that the policy knows them
// from API keys and secret scanners can find them.
const tokenPrefix = "clt_"

// AccessToken is what an access token stands for. Values returned by
// AuthenticateToken are shared: do not modify them.
type AccessToken struct {
	OrgID    string
	ClientID string
	// Subject names the client for policies and logs: "client/" + ClientID.
	Subject string
	// Scopes are the granted scopes in canonical v2 form
	// (system/Observation.rs), for Permits.
	Scopes    []string
	ExpiresAt time.Time
}

// tokenResponse is the successful answer of the token endpoint.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// handleToken is POST /auth/token: the client credentials grant with a
// private_key_jwt client assertion.
func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.exchange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if err := httpx.WriteJSON(w, http.StatusOK, resp); err != nil {
		s.log.Debug("token response not sent", "error", err)
	}
}

// exchange checks the token request and issues the token.
func (s *Service) exchange(r *http.Request) (*tokenResponse, error) {
	ctx := r.Context()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, oauthErr("invalid_request", "send the token request as application/x-www-form-urlencoded", nil)
	}
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, oauthErr("invalid_request", "the form cannot be read", err)
	}
	form := r.PostForm
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, oauthErr("invalid_request", fmt.Sprintf("%.40q is given more than once", name), nil)
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return nil, oauthErr("invalid_request", "grant_type is missing: send grant_type=client_credentials", nil)
	default:
		return nil, oauthErr("unsupported_grant_type", fmt.Sprintf("grant_type %.40q is not supported: send client_credentials", gt), nil)
	}
	if at := form.Get("client_assertion_type"); at != AssertionType {
		return nil, oauthErr("invalid_request", "client_assertion_type must be "+AssertionType, nil)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, oauthErr("invalid_request", "client_assertion is missing: send a JWT signed with the client's private key", nil)
	}
	c, claims, err := s.verifyAssertion(ctx, assertion)
	if err != nil {
		return nil, err
	}
	if id := form.Get("client_id"); id != "" && id != c.ID {
		return nil, oauthErr("invalid_client", "client_id differs from the assertion's issuer", nil)
	}
	scope := form.Get("scope")
	if strings.TrimSpace(scope) == "" {
		return nil, oauthErr("invalid_scope", "scope is missing: ask for system scopes such as system/Observation.rs", nil)
	}
	var requested []Scope
	for _, f := range strings.Fields(scope) {
		// Scopes that are not resource scopes (openid, launch, ...) or are
		// malformed are not granted; RFC 6749 lets the server narrow the
		// request, and the response says what was granted.
		if sc, err := ParseScope(f); err == nil {
			requested = append(requested, sc)
		}
	}
	granted := Grant(requested, c.Scopes)
	if len(granted) == 0 {
		return nil, oauthErr("invalid_scope", fmt.Sprintf("none of the requested scopes is allowed to this client; it may have %s", FormatScopes(c.Scopes)), nil)
	}
	return s.issue(ctx, c, claims, granted)
}

// verifyAssertion checks a client assertion as SMART Backend Services
// require and returns its client: a compact JWS signed with one of
// SigningAlgorithms by the client's key named by kid, whose iss and sub are
// the client_id of a live client, whose aud is the token endpoint, which
// expires within five minutes and has a jti. Whether the jti was used
// before is checked when the token is stored.
func (s *Service) verifyAssertion(ctx context.Context, assertion string) (*Client, *jwt.Claims, error) {
	algs := make([]jose.SignatureAlgorithm, len(SigningAlgorithms))
	for i, a := range SigningAlgorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(assertion, algs)
	if err != nil {
		return nil, nil, oauthErr("invalid_client", "client_assertion is not a JWT signed with one of "+strings.Join(SigningAlgorithms, ", "), err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" {
		return nil, nil, oauthErr("invalid_client", "the assertion's header has no kid naming the signing key", nil)
	}
	var unverified jwt.Claims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, nil, oauthErr("invalid_client", "the assertion's claims are not a JSON object of JWT claims", err)
	}
	if unverified.Issuer == "" || unverified.Issuer != unverified.Subject {
		return nil, nil, oauthErr("invalid_client", "the assertion's iss and sub must both be the client_id", nil)
	}
	c, err := s.Client(ctx, unverified.Issuer)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && c.RevokedAt != nil) {
		return nil, nil, oauthErr("invalid_client", "unknown or revoked client", err)
	}
	if err != nil {
		return nil, nil, err
	}
	if jku, ok := h.ExtraHeaders["jku"]; ok && (c.JWKSURL == "" || jku != any(c.JWKSURL)) {
		return nil, nil, oauthErr("invalid_client", "the assertion's jku is not the JWK Set URL registered for the client", nil)
	}
	keys, err := s.clientKeys(ctx, c, h.KeyID)
	if err != nil {
		return nil, nil, oauthErr("invalid_client", "the client's JWK Set URL cannot be read", err)
	}
	if len(keys) == 0 {
		return nil, nil, oauthErr("invalid_client", fmt.Sprintf("the client has no key with kid %.64q", h.KeyID), nil)
	}
	var payload []byte
	for i := range keys {
		if !keyFits(&keys[i], h.Algorithm) {
			continue
		}
		if payload, err = jws.Verify(&keys[i]); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, nil, oauthErr("invalid_client", fmt.Sprintf("the assertion's signature does not verify with the client's key %.64q and alg %s", h.KeyID, h.Algorithm), err)
	}
	var claims jwt.Claims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, nil, oauthErr("invalid_client", "the assertion's claims are not a JSON object of JWT claims", err)
	}
	if claims.Issuer != c.ID || claims.Subject != c.ID {
		return nil, nil, oauthErr("invalid_client", "the assertion's iss and sub must both be the client_id", nil)
	}
	if !claims.Audience.Contains(s.TokenEndpoint()) {
		return nil, nil, oauthErr("invalid_client", "the assertion's aud must be the token endpoint "+s.TokenEndpoint(), nil)
	}
	now := s.now()
	switch {
	case claims.Expiry == nil:
		return nil, nil, oauthErr("invalid_client", "the assertion has no exp", nil)
	case now.After(claims.Expiry.Time().Add(clockSkew)):
		return nil, nil, oauthErr("invalid_client", "the assertion has expired", nil)
	case claims.Expiry.Time().After(now.Add(MaxAssertionLifetime + clockSkew)):
		return nil, nil, oauthErr("invalid_client", "the assertion's exp is more than five minutes ahead", nil)
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(clockSkew)):
		return nil, nil, oauthErr("invalid_client", "the assertion is not valid yet (nbf)", nil)
	case claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(clockSkew)):
		return nil, nil, oauthErr("invalid_client", "the assertion was issued in the future (iat)", nil)
	case claims.ID == "" || len(claims.ID) > 255:
		return nil, nil, oauthErr("invalid_client", "the assertion needs a jti of 1 to 255 characters, new for every assertion", nil)
	}
	return c, &claims, nil
}

// issue records the assertion's jti, refusing one used before, and stores
// a new token, in one transaction.
func (s *Service) issue(ctx context.Context, c *Client, claims *jwt.Claims, granted []Scope) (*tokenResponse, error) {
	now := s.now().UTC().Truncate(time.Second)
	token := tokenPrefix + rand.Text() + rand.Text()
	expires := now.Add(s.lifetime)
	jtiExpires := claims.Expiry.Time().Add(clockSkew).Unix()
	scope := FormatScopes(granted)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// A jti row that outlived its assertion may be taken over: the
		// assertion carrying it again would have expired anyway.
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_assertion_ids (org_id, client_id, jti, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, client_id, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE oauth_assertion_ids.expires_at < $5`,
			c.OrgID, c.ID, claims.ID, jtiExpires, now.Unix())
		if err != nil {
			return fmt.Errorf("oauth: record jti: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("oauth: record jti: %w", err)
		}
		if n == 0 {
			return oauthErr("invalid_client", "this assertion's jti was used before: sign a new assertion for every token request", nil)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_tokens (org_id, token_hash, client_id, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.OrgID, hashToken(token), c.ID, scope, now, expires.Unix()); err != nil {
			return fmt.Errorf("oauth: store token: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cleanup(ctx, now)
	return &tokenResponse{AccessToken: token, TokenType: "bearer", ExpiresIn: int64(expires.Sub(now) / time.Second), Scope: scope}, nil
}

// cleanup removes expired jtis and tokens, at most once a minute per
// process. Failures are logged: the rows are removed next time.
func (s *Service) cleanup(ctx context.Context, now time.Time) {
	last := s.lastCleanup.Load()
	if now.Unix()-last < 60 || !s.lastCleanup.CompareAndSwap(last, now.Unix()) {
		return
	}
	for _, q := range []string{"DELETE FROM oauth_assertion_ids WHERE expires_at < $1", "DELETE FROM oauth_tokens WHERE expires_at < $1"} {
		if _, err := s.db.Write.ExecContext(ctx, q, now.Unix()); err != nil {
			s.log.Warn("expired OAuth rows not removed", "error", err)
		}
	}
}

// sha256Of hashes a token of at most maxTokenLen bytes without
// allocating: converting the string to a slice directly would escape.
func sha256Of(token string) [32]byte {
	var buf [maxTokenLen]byte
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

// maxTokenLen bounds the bearer tokens AuthenticateToken considers; the
// tokens it issues have 56 characters.
const maxTokenLen = 128

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// errInvalidToken is what every unusable token gets: the caller learns
// nothing about why.
var errInvalidToken = errs.E(errs.Unauthorized, "the bearer token is not valid or has expired")

// IsToken reports whether s looks like an access token of this package,
// so that a policy knows it from other bearer credentials.
func IsToken(s string) bool { return strings.HasPrefix(s, tokenPrefix) }

// AuthenticateToken returns what the access token stands for, or an
// errs.Unauthorized when it is unknown, expired or its client revoked.
// Tokens found are kept in memory for Config.CacheTTL at most, never past
// their expiry.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (*AccessToken, error) {
	if !IsToken(token) || len(token) > maxTokenLen {
		return nil, errInvalidToken
	}
	sum := sha256Of(token)
	now := s.now()
	if t, ok := s.tokens.Get(sum, now); ok {
		return t, nil
	}
	var t AccessToken
	var scopes string
	var expires int64
	err := s.db.Read.QueryRowContext(ctx, `SELECT t.org_id, t.client_id, t.scopes, t.expires_at FROM oauth_tokens t
		JOIN oauth_clients c ON c.org_id = t.org_id AND c.id = t.client_id
		WHERE t.token_hash = $1 AND c.revoked_at IS NULL`, hex.EncodeToString(sum[:])).Scan(&t.OrgID, &t.ClientID, &scopes, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: authenticate token: %w", err)
	}
	t.Subject = "client/" + t.ClientID
	t.ExpiresAt = time.Unix(expires, 0).UTC()
	if !now.Before(t.ExpiresAt) {
		return nil, errInvalidToken
	}
	t.Scopes = strings.Fields(scopes)
	until := now.Add(s.cacheTTL)
	if t.ExpiresAt.Before(until) {
		until = t.ExpiresAt
	}
	s.tokens.Put(sum, &t, now, until)
	return &t, nil
}

// maxCachedTokens bounds the token cache.
const maxCachedTokens = 10000

// Error is a failure of the token endpoint, answered as RFC 6749 gives it:
// {"error": Code, "error_description": Description}.
type Error struct {
	// Code is the OAuth error: invalid_request, invalid_client,
	// invalid_scope or unsupported_grant_type. Every failed check of a
	// client assertion is invalid_client, as RFC 7523 (section 3.2) says;
	// invalid_grant is for grants this endpoint does not take.
	Code string
	// Description is safe to show to the client.
	Description string
	// Err is the internal cause, logged only.
	Err error
}

func oauthErr(code, desc string, cause error) *Error {
	return &Error{Code: code, Description: desc, Err: cause}
}

// Error returns the code, the description and the cause, for logs.
func (e *Error) Error() string {
	s := "oauth: " + e.Code + ": " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

type oauthCodeKey struct{}

// writeError answers err through httpx.WriteError, which logs it and sets
// the status: 401 for invalid_client, 400 for the other OAuth errors.
// RenderError gives the body its RFC 6749 shape.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *Error
	if errors.As(err, &oe) {
		code := errs.Invalid
		if oe.Code == "invalid_client" {
			code = errs.Unauthorized
		}
		err = errs.Wrap(err, code, oe.Description)
		r = r.WithContext(context.WithValue(r.Context(), oauthCodeKey{}, oe.Code))
	}
	httpx.WriteError(w, r, err)
}

// oauthError is the error body of RFC 6749, section 5.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// RenderError is the httpx.ErrorRenderer of the token endpoint: it writes
// {"error": "...", "error_description": "..."} (RFC 6749, section 5.2).
// The error code is the one the endpoint chose, or follows from the status
// for failures outside it: invalid_client for 401, server_error for 5xx,
// temporarily_unavailable for 503, invalid_request otherwise.
func RenderError(w http.ResponseWriter, r *http.Request, status int, e *errs.Error) {
	code, _ := r.Context().Value(oauthCodeKey{}).(string)
	if code == "" {
		switch {
		case status == http.StatusUnauthorized:
			code = "invalid_client"
		case status == http.StatusServiceUnavailable:
			code = "temporarily_unavailable"
		case status >= 500:
			code = "server_error"
		default:
			code = "invalid_request"
		}
	}
	b, err := json.Marshal(oauthError{Error: code, Description: e.Message})
	if err != nil { // cannot happen with string fields
		b = []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
