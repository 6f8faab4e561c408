package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// APIKey is a bearer credential of a system that calls the FHIR API for one
// organisation. Only a hash of its token is stored.
type APIKey struct {
	OrgID     string
	ID        string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// apiKeyPrefix marks careloop tokens so that secret scanners can find them.
const apiKeyPrefix = "clk_"

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKeyTx stores a new key named name for the organisation and
// returns it with its token, which is shown once and never stored.
func (s *Store) CreateAPIKeyTx(ctx context.Context, tx *sql.Tx, orgID, name string) (*APIKey, string, error) {
	return s.createAPIKey(ctx, tx, orgID, name, apiKeyPrefix+rand.Text()+rand.Text())
}

// CreateAPIKeyWithTokenTx stores a key with a token chosen by the caller;
// demo seeding uses it to give the demo a token it can print on every run.
// The token must be at least 32 characters.
func (s *Store) CreateAPIKeyWithTokenTx(ctx context.Context, tx *sql.Tx, orgID, name, token string) (*APIKey, error) {
	if len(token) < 32 {
		return nil, errs.Invalidf("token", "a token needs at least 32 characters")
	}
	k, _, err := s.createAPIKey(ctx, tx, orgID, name, token)
	return k, err
}

func (s *Store) createAPIKey(ctx context.Context, tx *sql.Tx, orgID, name, token string) (*APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, "", errs.Invalidf("name", "an API key needs a name of 1 to 200 characters, such as the system that uses it")
	}
	k := &APIKey{OrgID: orgID, ID: rand.Text()[:16], Name: name, CreatedAt: time.Now().UTC()}
	if _, err := tx.ExecContext(ctx, "INSERT INTO api_keys (org_id, id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
		k.OrgID, k.ID, k.Name, hashToken(token), k.CreatedAt); err != nil {
		return nil, "", fmt.Errorf("identity: create API key: %w", err)
	}
	return k, token, nil
}

// apiKeyCacheTTL is how long a process trusts an API key it has looked up:
// a key revoked elsewhere stops working within it.
const apiKeyCacheTTL = 10 * time.Second

// AuthenticateAPIKey returns the live key whose token this is, or an
// errs.Unauthorized that says nothing about why. Keys found are trusted
// for apiKeyCacheTTL without asking the database again.
func (s *Store) AuthenticateAPIKey(ctx context.Context, token string) (*APIKey, error) {
	if !strings.HasPrefix(token, apiKeyPrefix) {
		return nil, errs.E(errs.Unauthorized, "the bearer token is not valid")
	}
	hash := hashToken(token)
	now := time.Now()
	if k, ok := s.apiKeys.Get(hash, now); ok {
		return k, nil
	}
	k := &APIKey{}
	err := s.db.Read.QueryRowContext(ctx, "SELECT org_id, id, name, created_at FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL",
		hash).Scan(&k.OrgID, &k.ID, &k.Name, &k.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.Unauthorized, "the bearer token is not valid")
	}
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate API key: %w", err)
	}
	s.apiKeys.Put(hash, k, now, now.Add(apiKeyCacheTTL))
	return k, nil
}

// APIKeys lists the organisation's keys, newest first.
func (s *Store) APIKeys(ctx context.Context, orgID string) ([]APIKey, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT org_id, id, name, created_at, revoked_at FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id", orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: list API keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var revoked sql.NullTime
		if err := rows.Scan(&k.OrgID, &k.ID, &k.Name, &k.CreatedAt, &revoked); err != nil {
			return nil, fmt.Errorf("identity: list API keys: %w", err)
		}
		if revoked.Valid {
			t := revoked.Time.UTC()
			k.RevokedAt = &t
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKeyTx revokes a key of the organisation; an unknown key is an
// errs.NotFound.
func (s *Store) RevokeAPIKeyTx(ctx context.Context, tx *sql.Tx, orgID, id string) error {
	res, err := tx.ExecContext(ctx, "UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL", time.Now().UTC(), orgID, id)
	if err != nil {
		return fmt.Errorf("identity: revoke API key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("no live API key %q", id)
	}
	s.apiKeys.DeleteFunc(func(k *APIKey) bool { return k.OrgID == orgID && k.ID == id })
	return nil
}
