package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Purpose says what a Token is for.
type Purpose string

// The purposes of tokens, with how long each lives.
const (
	// PurposeInvitation: a staff member's invitation link (72 hours).
	PurposeInvitation Purpose = "invitation"
	// PurposeVerifyEmail: a link that proves an address reaches the
	// account's owner (24 hours).
	PurposeVerifyEmail Purpose = "verify-email"
	// PurposeRecovery: a link to set a new password (30 minutes).
	PurposeRecovery Purpose = "recovery"
	// PurposeActivation: a code from the clinic that opens a patient's
	// record to a new account (30 days).
	PurposeActivation Purpose = "activation"
)

// TTL returns how long a token of the purpose is valid.
func (p Purpose) TTL() time.Duration {
	switch p {
	case PurposeInvitation:
		return 72 * time.Hour
	case PurposeVerifyEmail:
		return 24 * time.Hour
	case PurposeRecovery:
		return 30 * time.Minute
	case PurposeActivation:
		return 30 * 24 * time.Hour
	}
	return 0
}

// TokenKeySize is the length in bytes of the key tokens are hashed with.
const TokenKeySize = 32

// MaxActivationFailures is how many wrong dates of birth an activation
// code survives: the next one voids it, so that someone who holds a stolen
// letter cannot try dates for 30 days.
const MaxActivationFailures = 10

// ErrTokenInvalid is the internal cause of the errs.Error for a token that
// is unknown, used, revoked or expired: callers count these as failures.
var ErrTokenInvalid = errors.New("identity: token not valid")

// Token is a single-use secret sent to a person, as stored: the secret
// itself is never kept.
type Token struct {
	OrgID       string
	ID          string // public handle, for listing and revoking
	Purpose     Purpose
	AccountID   string // the account it acts on; empty for invitations and activation codes
	Email       string // the address invited, or to be verified
	Role        Role   // the role an invitation gives
	DisplayName string // the name an invitation suggests
	Subject     string // Patient/ID, for activation codes
	CreatedBy   string // account id, or "cli"
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Failures    int
}

// Tokens keeps single-use tokens: invitation, verification and recovery
// links (256 random bits) and activation codes (ten characters a person
// types). Only an HMAC-SHA256 of each secret, under a key kept outside the
// database, is stored: a copy of the database alone neither reveals a
// secret nor lets anyone search the 50 bits of an activation code offline.
//
// Methods ending in Tx work in the caller's transaction. A Tokens is safe
// for concurrent use; each token is consumed at most once, even by
// concurrent requests, because consuming it is one DELETE.
type Tokens struct {
	db  *db.DB
	key []byte

	// Now returns the current time; nil means time.Now. Tests set it
	// before the first call.
	Now func() time.Time
}

// NewTokens returns Tokens on d that hash secrets with key, TokenKeySize
// bytes drawn from careloop's secret key. Every process of one database
// needs the same key.
func NewTokens(d *db.DB, key []byte) (*Tokens, error) {
	if len(key) != TokenKeySize {
		return nil, fmt.Errorf("identity: the token key has %d bytes, want %d", len(key), TokenKeySize)
	}
	return &Tokens{db: d, key: append([]byte(nil), key...)}, nil
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}

// Hash returns the stored form of a canonical secret of the purpose. It
// is exported so that callers answering for an unknown account can spend
// the same work as for a known one.
func (t *Tokens) Hash(p Purpose, secret string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(string(p) + "\x00" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// NewSecret returns a new secret of the purpose in the form the person
// gets: an activation code for PurposeActivation, a link token otherwise.
func NewSecret(p Purpose) string {
	if p == PurposeActivation {
		return FormatActivationCode(newActivationCode())
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// canonical returns the secret as hashed, or false for input that cannot
// be a secret of the purpose.
func canonical(p Purpose, secret string) (string, bool) {
	if p == PurposeActivation {
		return ParseActivationCode(secret)
	}
	secret = strings.TrimSpace(secret)
	if len(secret) != 43 {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", false
	}
	return secret, true
}

// replaceKey returns the column and value that name the one open token of
// its kind: issuing a token replaces the earlier open one with the same.
func replaceKey(tok *Token) (string, string) {
	switch tok.Purpose {
	case PurposeInvitation:
		return "email", tok.Email
	case PurposeActivation:
		return "subject", tok.Subject
	}
	return "account_id", tok.AccountID
}

// IssueTx stores a new token and returns its secret, to be sent to the
// person and never stored or logged. It fills in ID, CreatedAt and
// ExpiresAt (from the purpose's TTL). An open token of the same purpose
// for the same email (invitations), record (activation codes) or account
// (other purposes) is replaced; expired tokens of the organisation are
// cleared on the way.
func (t *Tokens) IssueTx(ctx context.Context, tx *sql.Tx, tok *Token) (string, error) {
	if tok.OrgID == "" || tok.Purpose.TTL() == 0 {
		return "", fmt.Errorf("identity: issue token: organisation and purpose needed, got %q %q", tok.OrgID, tok.Purpose)
	}
	col, val := replaceKey(tok)
	if val == "" {
		return "", fmt.Errorf("identity: issue %s token: %s is empty", tok.Purpose, col)
	}
	now := t.now()
	if _, err := tx.ExecContext(ctx, "DELETE FROM account_tokens WHERE org_id = $1 AND ((purpose = $2 AND "+col+" = $3) OR expires_at <= $4)",
		tok.OrgID, string(tok.Purpose), val, now); err != nil {
		return "", fmt.Errorf("identity: issue token: %w", err)
	}
	secret := NewSecret(tok.Purpose)
	c, _ := canonical(tok.Purpose, secret)
	tok.ID = rand.Text()[:16]
	tok.CreatedAt, tok.ExpiresAt, tok.Failures = now, now.Add(tok.Purpose.TTL()), 0
	_, err := tx.ExecContext(ctx, `INSERT INTO account_tokens (org_id, id, purpose, token_hash, account_id, email, role, display_name, subject,
		created_by, created_at, expires_at, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0)`,
		tok.OrgID, tok.ID, string(tok.Purpose), t.Hash(tok.Purpose, c), tok.AccountID, tok.Email, string(tok.Role), tok.DisplayName,
		tok.Subject, tok.CreatedBy, tok.CreatedAt, tok.ExpiresAt)
	if err != nil {
		return "", fmt.Errorf("identity: issue token: %w", err)
	}
	return secret, nil
}

// The one answer to a token that opens nothing, whatever the reason
// (unknown, expired, spent, replaced), so that the answer tells nothing.
const (
	InvalidLinkMessage     = "This link is not valid: it has expired, has been used already, or was replaced by a newer one."
	WrongActivationMessage = "The activation code or the date of birth is not right, or the code has expired."
)

// InvalidLink returns the answer to an emailed link that opens nothing: an
// errs.Unauthorized with cause ErrTokenInvalid.
func InvalidLink() error {
	return errs.Wrap(ErrTokenInvalid, errs.Unauthorized, InvalidLinkMessage)
}

// WrongActivation returns the answer to a wrong activation code or date of
// birth: an errs.Unauthorized with cause ErrTokenInvalid.
func WrongActivation() error {
	return errs.Wrap(ErrTokenInvalid, errs.Unauthorized, WrongActivationMessage)
}

func invalidToken(p Purpose) error {
	if p == PurposeActivation {
		return WrongActivation()
	}
	return InvalidLink()
}

const tokenColumns = "org_id, id, purpose, account_id, email, role, display_name, subject, created_by, created_at, expires_at, failures"

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var tok Token
	var purpose, role string
	if err := row.Scan(&tok.OrgID, &tok.ID, &purpose, &tok.AccountID, &tok.Email, &role, &tok.DisplayName, &tok.Subject,
		&tok.CreatedBy, &tok.CreatedAt, &tok.ExpiresAt, &tok.Failures); err != nil {
		return nil, err
	}
	tok.Purpose, tok.Role = Purpose(purpose), Role(role)
	tok.CreatedAt, tok.ExpiresAt = tok.CreatedAt.UTC(), tok.ExpiresAt.UTC()
	return &tok, nil
}

// FindTx returns the open token of a secret without consuming it, so that
// a caller can check what comes with it (a password, a date of birth)
// before anything changes. An unknown, used, replaced or expired secret,
// or input that cannot be one, is an errs.Unauthorized wrapping
// ErrTokenInvalid.
func (t *Tokens) FindTx(ctx context.Context, tx *sql.Tx, orgID string, p Purpose, secret string) (*Token, error) {
	c, ok := canonical(p, secret)
	if !ok {
		return nil, invalidToken(p)
	}
	q := "SELECT " + tokenColumns + " FROM account_tokens WHERE org_id = $1 AND token_hash = $2 AND purpose = $3 AND expires_at > $4"
	if t.db.Dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	tok, err := scanToken(tx.QueryRowContext(ctx, q, orgID, t.Hash(p, c), string(p), t.now()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, invalidToken(p)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: find token: %w", err)
	}
	return tok, nil
}

// ConsumeTx spends the token found by FindTx. It is one conditional
// DELETE: of two transactions consuming the same token, one succeeds and
// the other gets the errs.Unauthorized of an invalid token. If tx rolls
// back, the token is not spent.
func (t *Tokens) ConsumeTx(ctx context.Context, tx *sql.Tx, tok *Token) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM account_tokens WHERE org_id = $1 AND id = $2 AND expires_at > $3", tok.OrgID, tok.ID, t.now())
	if err != nil {
		return fmt.Errorf("identity: consume token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("identity: consume token: %w", err)
	} else if n != 1 {
		return invalidToken(tok.Purpose)
	}
	return nil
}

// FailTx records a wrong date of birth given with an activation code and
// reports whether the code is now void (MaxActivationFailures reached), in
// which case it is deleted.
func (t *Tokens) FailTx(ctx context.Context, tx *sql.Tx, tok *Token) (void bool, err error) {
	if _, err := tx.ExecContext(ctx, "UPDATE account_tokens SET failures = failures + 1 WHERE org_id = $1 AND id = $2", tok.OrgID, tok.ID); err != nil {
		return false, fmt.Errorf("identity: token failure: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM account_tokens WHERE org_id = $1 AND id = $2 AND failures >= $3", tok.OrgID, tok.ID, MaxActivationFailures)
	if err != nil {
		return false, fmt.Errorf("identity: token failure: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Open returns the organisation's open tokens of a purpose, newest first.
func (t *Tokens) Open(ctx context.Context, orgID string, p Purpose) ([]Token, error) {
	rows, err := t.db.Read.QueryContext(ctx, "SELECT "+tokenColumns+` FROM account_tokens
		WHERE org_id = $1 AND purpose = $2 AND expires_at > $3 ORDER BY created_at DESC, id`, orgID, string(p), t.now())
	if err != nil {
		return nil, fmt.Errorf("identity: list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("identity: list tokens: %w", err)
		}
		out = append(out, *tok)
	}
	return out, rows.Err()
}

// RevokeTx deletes an open token of a purpose by its public id. An
// unknown id is an errs.NotFound.
func (t *Tokens) RevokeTx(ctx context.Context, tx *sql.Tx, orgID string, p Purpose, id string) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM account_tokens WHERE org_id = $1 AND purpose = $2 AND id = $3 AND expires_at > $4",
		orgID, string(p), id, t.now())
	if err != nil {
		return fmt.Errorf("identity: revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("no open %s %q", p, id)
	}
	return nil
}

// Activation codes are ten characters of Crockford's base32 (50 bits),
// shown in upper case in two groups of five: "7K2M9-QC4XR". The parser
// ignores case, spaces and hyphens and reads i and l as 1, o as 0.
const activationCodeChars = 10

func newActivationCode() string {
	var b [activationCodeChars]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, activationCodeChars)
	for i, v := range b {
		out[i] = crockfordAlphabet[v&31] // 256 is a multiple of 32: no bias
	}
	return string(out)
}

// FormatActivationCode writes a canonical activation code for display.
func FormatActivationCode(code string) string {
	u := strings.ToUpper(code)
	if len(u) != activationCodeChars {
		return u
	}
	return u[:5] + "-" + u[5:]
}

// ParseActivationCode returns the canonical form of an activation code as
// a person may type it, or false for anything that cannot be one.
func ParseActivationCode(s string) (string, bool) {
	return parseCrockford(s, activationCodeChars)
}
