package signin

import (
	"context"
	"errors"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/session"
)

// Event is a sign-in or sign-out, for the audit log.
type Event struct {
	OrgID     string
	AccountID string // "" when no account matched
	Role      string
	Logout    bool // a sign-out; otherwise a sign-in
	Failed    bool
	// Method says how the person proved who they are: "password",
	// "password and second factor", "passkey", "recovery link"...
	Method string
	// Reason says why a sign-in failed, in words.
	Reason    string
	Address   string
	UserAgent string
}

// Auditor records sign-in events in the audit log.
type Auditor interface {
	// SignInEvent records ev. For a successful sign-in an error fails the
	// sign-in: nobody signs in unrecorded.
	SignInEvent(ctx context.Context, ev Event) error
}

// auditFailure records a failed sign-in, best effort: the person gets
// the refusal whether or not it could be recorded.
func (s *Service) auditFailure(ctx context.Context, ev Event) {
	if s.Audit == nil {
		return
	}
	ev.Failed = true
	if err := s.Audit.SignInEvent(ctx, ev); err != nil && s.Log != nil {
		s.Log.Error("sign-in: cannot record a failed sign-in in the audit log", "err", err)
	}
}

// auditSignIn records a completed sign-in. When that fails, the session
// just opened is ended and the sign-in fails with it.
func (s *Service) auditSignIn(ctx context.Context, acct *identity.Account, se *session.Session, secret, method string) error {
	if s.Audit == nil {
		return nil
	}
	err := s.Audit.SignInEvent(ctx, Event{OrgID: se.OrgID, AccountID: se.AccountID, Role: se.Role, Method: method,
		Address: se.Address, UserAgent: se.UserAgent})
	if err == nil {
		return nil
	}
	if endErr := s.Sessions.EndSecret(ctx, secret); endErr != nil {
		err = errors.Join(err, endErr)
	}
	return errs.Wrap(err, errs.Unavailable, "Signing in is not possible right now; please try again in a minute.")
}

// reasonOf words a refused sign-in for the audit log.
func reasonOf(err error) string {
	switch errs.CodeOf(err) {
	case errs.RateLimited:
		return "blocked after repeated failures"
	case errs.Unauthorized:
		return errs.MessageOf(err)
	}
	return "error"
}

// SignOut ends the session of secret, whatever its stage, and records the
// sign-out. Ending an unknown or ended session does nothing.
func (s *Service) SignOut(ctx context.Context, secret, address string) error {
	se, err := s.Sessions.Find(ctx, secret)
	if err != nil && errs.CodeOf(err) != errs.Unauthorized {
		return err
	}
	if err := s.Sessions.EndSecret(ctx, secret); err != nil {
		return err
	}
	if se != nil && s.Audit != nil {
		ev := Event{OrgID: se.OrgID, AccountID: se.AccountID, Role: se.Role, Logout: true, Address: address, UserAgent: se.UserAgent}
		if err := s.Audit.SignInEvent(ctx, ev); err != nil && s.Log != nil {
			s.Log.Error("sign-in: cannot record a sign-out in the audit log", "err", err)
		}
	}
	return nil
}
