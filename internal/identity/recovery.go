package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// RecoveryCodeCount is how many recovery codes an account gets at a time.
const RecoveryCodeCount = 10

// A recovery code is 15 random bytes (120 bits) written as 24 characters of
// Crockford's base32, lower case, shown in four groups of six:
// "7k2m9q-c4xr0d-…". Crockford's alphabet leaves out i, l, o and u, so what
// a person reads back from paper is unambiguous; the parser maps i and l to
// 1 and o to 0, ignores case, spaces and hyphens.
const (
	recoveryCodeBytes = 15
	recoveryCodeChars = 24
	recoveryCodeGroup = 6
	crockfordAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
)

var recoveryEncoding = base32.NewEncoding(crockfordAlphabet).WithPadding(base32.NoPadding)

// GenerateRecoveryCodesTx gives the account RecoveryCodeCount new recovery
// codes, replacing all its earlier ones (used or not), and returns them
// formatted for display. They are stored only as salted hashes: show them
// once and never log them. Concurrent generations for one account happen
// one after the other, so the account ends with exactly one set. An
// unknown account is an errs.NotFound.
func (s *FactorStore) GenerateRecoveryCodesTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) ([]string, error) {
	if _, err := s.lockAccount(ctx, tx, orgID, accountID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2", orgID, accountID); err != nil {
		return nil, fmt.Errorf("identity: replace recovery codes: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("identity: recovery code salt: %w", err)
	}
	saltHex := hex.EncodeToString(salt)
	now := s.now()
	codes := make([]string, 0, RecoveryCodeCount)
	for range RecoveryCodeCount {
		raw := make([]byte, recoveryCodeBytes)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("identity: recovery code: %w", err)
		}
		code := recoveryEncoding.EncodeToString(raw)
		if _, err := tx.ExecContext(ctx, "INSERT INTO account_recovery_codes (org_id, account_id, code_hash, salt, created_at) VALUES ($1, $2, $3, $4, $5)",
			orgID, accountID, recoveryCodeHash(saltHex, code), saltHex, now); err != nil {
			return nil, fmt.Errorf("identity: store recovery code: %w", err)
		}
		codes = append(codes, formatRecoveryCode(code))
	}
	if err := record(ctx, s.Audit, tx, orgID, accountID, "recovery codes replaced"); err != nil {
		return nil, err
	}
	return codes, nil
}

// UseRecoveryCodeTx spends one of the account's recovery codes and returns
// how many are left. Finding and deleting the code is one DELETE, so a code
// works once even when it is tried twice at the same moment. If tx rolls
// back, the code is not spent.
//
// Errors, all *errs.Error: errs.Invalid (field "code") for input that cannot
// be a recovery code; errs.Unauthorized (cause ErrCodeInvalid) for a code
// that is not, or no longer, one of the account's. The caller must limit
// failed attempts per account.
func (s *FactorStore) UseRecoveryCodeTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) (left int, err error) {
	c, ok := parseRecoveryCode(code)
	if !ok {
		return 0, errs.Invalidf("code", "A recovery code has %d letters and digits, like 7k2m9q-c4xr0d-h8tvwa-3pz5ye.", recoveryCodeChars)
	}
	// One generation has one salt; GenerateRecoveryCodesTx locks the
	// account so generations never mix, but a code is checked against
	// every salt found all the same.
	salts, err := recoverySalts(ctx, tx, orgID, accountID)
	if err != nil {
		return 0, err
	}
	spent := false
	for _, salt := range salts {
		res, err := tx.ExecContext(ctx, "DELETE FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2 AND code_hash = $3",
			orgID, accountID, recoveryCodeHash(salt, c))
		if err != nil {
			return 0, fmt.Errorf("identity: use recovery code: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("identity: use recovery code: %w", err)
		}
		if n == 1 {
			spent = true
			break
		}
	}
	if !spent {
		return 0, errs.Wrap(ErrCodeInvalid, errs.Unauthorized, "That recovery code is not valid or has been used already.")
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2", orgID, accountID).Scan(&left); err != nil {
		return 0, fmt.Errorf("identity: count recovery codes: %w", err)
	}
	return left, nil
}

// recoverySalts returns the salts of the account's recovery codes.
func recoverySalts(ctx context.Context, tx *sql.Tx, orgID, accountID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT salt FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2", orgID, accountID)
	if err != nil {
		return nil, fmt.Errorf("identity: use recovery code: %w", err)
	}
	defer rows.Close()
	var salts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("identity: use recovery code: %w", err)
		}
		salts = append(salts, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: use recovery code: %w", err)
	}
	return salts, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the account has.
func (s *FactorStore) RecoveryCodesLeft(ctx context.Context, orgID, accountID string) (int, error) {
	var n int
	if err := s.db.Read.QueryRowContext(ctx, "SELECT count(*) FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2",
		orgID, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("identity: count recovery codes: %w", err)
	}
	return n, nil
}

// recoveryCodeHash returns the stored form of a canonical code: hex
// SHA-256 of the salt and the code.
//
// Why a fast hash is enough here, unlike for passwords: a recovery code is
// 120 random bits chosen by careloop, not by a person, so there is no
// dictionary to try, and a stolen hash can only be attacked by searching
// 2^120 values, far beyond reach however fast SHA-256 is. OWASP ASVS 5.0
// asks for a slow password hash only for lookup secrets of fewer than 112
// bits. The salt (random per generation and account) keeps equal codes from
// giving equal hashes and rules out precomputation; a slow hash would only
// cost every sign-in attempt with a recovery code a full argon2 run.
func recoveryCodeHash(salt, code string) string {
	sum := sha256.Sum256([]byte("careloop recovery code\x00" + salt + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// formatRecoveryCode groups a canonical code for display.
func formatRecoveryCode(code string) string {
	var b strings.Builder
	for i := 0; i < len(code); i += recoveryCodeGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+recoveryCodeGroup, len(code))])
	}
	return b.String()
}

// parseRecoveryCode returns the canonical form of a recovery code as a
// person may type it: any case, with or without spaces and hyphens, with i
// or l for 1 and o for 0. It reports false for anything that cannot be a
// code: other characters, or not exactly recoveryCodeChars of them.
func parseRecoveryCode(s string) (string, bool) {
	return parseCrockford(s, recoveryCodeChars)
}

// parseCrockford returns the canonical form of a code of n characters of
// the Crockford alphabet as a person may type it (see parseRecoveryCode),
// or false.
func parseCrockford(s string, n int) (string, bool) {
	if len(s) > 4*n {
		return "", false
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '\t', '-':
			continue
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if strings.IndexByte(crockfordAlphabet, c) < 0 || len(b) == n {
			return "", false
		}
		b = append(b, c)
	}
	if len(b) != n {
		return "", false
	}
	return string(b), true
}
