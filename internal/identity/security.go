package identity

import (
	"context"
	"database/sql"
)

// SecurityEvent is a change of an account's security settings: a second
// factor added or removed, new recovery codes, a new password or email,
// the account linked to a patient's record.
type SecurityEvent struct {
	OrgID, AccountID string
	// What says what changed, in words: "authenticator app enrolled".
	What string
}

// SecurityRecorder records security events in the transaction of the
// change they describe, so that a change and its record commit together.
type SecurityRecorder interface {
	SecurityEventTx(ctx context.Context, tx *sql.Tx, ev SecurityEvent) error
}

// record stores ev through r in tx, when there is a recorder.
func record(ctx context.Context, r SecurityRecorder, tx *sql.Tx, orgID, accountID, what string) error {
	if r == nil {
		return nil
	}
	return r.SecurityEventTx(ctx, tx, SecurityEvent{OrgID: orgID, AccountID: accountID, What: what})
}
