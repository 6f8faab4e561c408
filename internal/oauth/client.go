package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Client is a registered backend client of one organisation.
type Client struct {
	OrgID string
	// ID is the client_id: the iss and sub of the client's assertions.
	ID   string
	Name string
	// JWKSURL is where the client publishes its public keys, or empty when
	// the keys were given at registration (Keys).
	JWKSURL string
	// Keys are the public keys given at registration; nil with JWKSURL.
	Keys *jose.JSONWebKeySet
	// Scopes are the most the client may be granted, in canonical form.
	Scopes    []Scope
	CreatedAt time.Time
	RevokedAt *time.Time
}

// NewClient describes a client to register.
type NewClient struct {
	Name string
	// JWKS is a JWK Set (JSON) of the client's public keys; or
	JWKS []byte
	// JWKSURL is the https URL where the client publishes them (http is
	// accepted for loopback addresses only).
	JWKSURL string
	// Scopes are the system scopes the client may be granted, space
	// separated: "system/Observation.rs system/Patient.r".
	Scopes string
}

// CreateClient registers a client for the organisation and returns it. It
// checks the keys (every key public, with a kid, RSA of at least 2048 bits
// or EC on P-256, P-384 or P-521) and, for a JWK Set URL, fetches it once
// to prove it answers with such keys. Mistakes are errs.Invalid errors
// naming the field.
func (s *Service) CreateClient(ctx context.Context, orgID string, nc NewClient) (*Client, error) {
	c := &Client{OrgID: orgID, ID: strings.ToLower(rand.Text()), Name: strings.TrimSpace(nc.Name), CreatedAt: s.now().UTC().Truncate(time.Second)}
	if c.Name == "" || len(c.Name) > 200 {
		return nil, errs.Invalidf("name", "a client needs a name of 1 to 200 characters, such as the system that uses it")
	}
	scopes, err := ParseAllowedScopes(nc.Scopes)
	if err != nil {
		return nil, err
	}
	c.Scopes = scopes
	var jwksText string
	switch {
	case (len(nc.JWKS) == 0) == (nc.JWKSURL == ""):
		return nil, errs.Invalidf("jwks", "give the client's public keys either as a JWK Set or as the URL of one, not both")
	case nc.JWKSURL != "":
		if err := checkJWKSURL(nc.JWKSURL); err != nil {
			return nil, err
		}
		if _, err := s.fetchKeys(ctx, nc.JWKSURL); err != nil {
			return nil, errs.Invalidf("jwks-url", "the JWK Set at %s cannot be used: %v", nc.JWKSURL, err)
		}
		c.JWKSURL = nc.JWKSURL
	default:
		set, err := ParseKeys(nc.JWKS, true)
		if err != nil {
			return nil, errs.Invalidf("jwks", "the JWK Set cannot be used: %v", err)
		}
		b, err := json.Marshal(set)
		if err != nil {
			return nil, fmt.Errorf("oauth: create client: encode keys: %w", err)
		}
		c.Keys, jwksText = set, string(b)
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO oauth_clients (org_id, id, name, jwks, jwks_url, scopes, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.OrgID, c.ID, c.Name, jwksText, c.JWKSURL, FormatScopes(c.Scopes), c.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("oauth: create client: %w", err)
	}
	return c, nil
}

// ParseAllowedScopes parses the scopes a client may be granted: system
// scopes on "*" or R4 resource types, at least one. Mistakes are
// errs.Invalid errors of the field "scopes".
func ParseAllowedScopes(s string) ([]Scope, error) {
	scopes, err := ParseScopes(s)
	if err != nil {
		return nil, errs.Invalidf("scopes", "%v", err)
	}
	if len(scopes) == 0 {
		return nil, errs.Invalidf("scopes", "a client needs at least one scope, such as system/Observation.rs")
	}
	for _, sc := range scopes {
		if sc.Context != "system" {
			return nil, errs.Invalidf("scopes", "%s: a backend client gets system scopes only (system/%s.%s)", sc, sc.Type, sc.Perms)
		}
		if sc.Type != "*" && !spec.IsResourceType(sc.Type) {
			return nil, errs.Invalidf("scopes", "%s: %q is not an R4 resource type", sc, sc.Type)
		}
	}
	return scopes, nil
}

// checkJWKSURL accepts https URLs, and http ones on loopback addresses.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errs.Invalidf("jwks-url", "%q is not an absolute https URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errs.Invalidf("jwks-url", "%q: a JWK Set URL must use https (http only on loopback addresses)", raw)
}

// ParseKeys reads a JWK Set of a client's public signing keys. Every key
// must have a kid, unique in the set, and be an RSA key of at least 2048
// bits or an EC key on P-256, P-384 or P-521, with no private part; an alg,
// when given, must be one of SigningAlgorithms and fit the key. With strict
// false (a set fetched from a URL, which may hold keys for other uses)
// keys that fail are left out, except private keys, which refuse the whole
// set; either way a set without a usable key is refused.
func ParseKeys(b []byte, strict bool) (*jose.JSONWebKeySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a JWK Set (JSON with \"keys\"): %w", err)
	}
	out := &jose.JSONWebKeySet{}
	seen := map[string]bool{}
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			if strict {
				return nil, fmt.Errorf("key %d: %w", i+1, err)
			}
			continue
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %d (kid %q) holds a private key: give only the public keys", i+1, k.KeyID)
		}
		if err := checkKey(&k); err != nil {
			if strict {
				return nil, fmt.Errorf("key %d (kid %q): %w", i+1, k.KeyID, err)
			}
			continue
		}
		if seen[k.KeyID] {
			return nil, fmt.Errorf("key %d: kid %q appears twice", i+1, k.KeyID)
		}
		seen[k.KeyID] = true
		out.Keys = append(out.Keys, k)
	}
	if len(out.Keys) == 0 {
		return nil, errors.New("no usable public signing key (RSA or EC with a kid)")
	}
	return out, nil
}

func checkKey(k *jose.JSONWebKey) error {
	if k.KeyID == "" {
		return errors.New("no kid: each key needs one, and assertions name it")
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use %q: the key must be for signatures", k.Use)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits: at least 2048 are needed", pub.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errors.New("EC key on an unsupported curve: use P-256, P-384 or P-521")
		}
	default:
		return fmt.Errorf("key type %T is not supported: use RSA or EC", k.Key)
	}
	if k.Algorithm != "" && !keyFits(k, k.Algorithm) {
		return fmt.Errorf("alg %q does not fit the key or is not supported (%s)", k.Algorithm, strings.Join(SigningAlgorithms, ", "))
	}
	return nil
}

// keyFits reports whether the public key k can verify signatures of alg.
func keyFits(k *jose.JSONWebKey, alg string) bool {
	if !slices.Contains(SigningAlgorithms, alg) || (k.Algorithm != "" && k.Algorithm != alg) {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	}
	return false
}

// Client returns the client with the client_id id, revoked or not, or an
// errs.NotFound.
func (s *Service) Client(ctx context.Context, id string) (*Client, error) {
	row := s.db.Read.QueryRowContext(ctx, "SELECT org_id, id, name, jwks, jwks_url, scopes, created_at, revoked_at FROM oauth_clients WHERE id = $1", id)
	c, err := scanClient(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no client %q", id)
	}
	return c, err
}

// Clients lists the organisation's clients, newest first.
func (s *Service) Clients(ctx context.Context, orgID string) ([]Client, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT org_id, id, name, jwks, jwks_url, scopes, created_at, revoked_at FROM oauth_clients WHERE org_id = $1 ORDER BY created_at DESC, id", orgID)
	if err != nil {
		return nil, fmt.Errorf("oauth: list clients: %w", err)
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		c, err := scanClient(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("oauth: list clients: %w", err)
	}
	return out, nil
}

func scanClient(scan func(...any) error) (*Client, error) {
	var c Client
	var jwks, scopes string
	var revoked sql.NullTime
	if err := scan(&c.OrgID, &c.ID, &c.Name, &jwks, &c.JWKSURL, &scopes, &c.CreatedAt, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("oauth: read client: %w", err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if revoked.Valid {
		t := revoked.Time.UTC()
		c.RevokedAt = &t
	}
	var err error
	if c.Scopes, err = ParseScopes(scopes); err != nil {
		return nil, fmt.Errorf("oauth: client %s: stored scopes: %w", c.ID, err)
	}
	if jwks != "" {
		if c.Keys, err = ParseKeys([]byte(jwks), true); err != nil {
			return nil, fmt.Errorf("oauth: client %s: stored keys: %w", c.ID, err)
		}
	}
	return &c, nil
}

// RevokeClient revokes a client of the organisation and deletes its
// access tokens: they stop working at once in this process, and within
// Config.CacheTTL in others. An unknown or already revoked client is an
// errs.NotFound.
func (s *Service) RevokeClient(ctx context.Context, orgID, id string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE oauth_clients SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL", s.now().UTC(), orgID, id)
		if err != nil {
			return fmt.Errorf("oauth: revoke client: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("no live client %q", id)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM oauth_tokens WHERE org_id = $1 AND client_id = $2", orgID, id); err != nil {
			return fmt.Errorf("oauth: revoke client: delete tokens: %w", err)
		}
		return nil
	})
	// Forget cached tokens after the commit, so that no request can cache
	// them again from rows about to be deleted.
	s.tokens.DeleteFunc(func(t *AccessToken) bool { return t.ClientID == id })
	return err
}
