package signin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/session"
)

// Accounts finds accounts by email, with their password hashes.
type Accounts interface {
	ByEmail(ctx context.Context, orgID, email string) (*identity.Account, string, error)
}

// Factors verifies the second factors of accounts.
type Factors interface {
	Factors(ctx context.Context, orgID, accountID string) (identity.FactorSummary, error)
	VerifyTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) error
	UseRecoveryCodeTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) (left int, err error)
}

// Passkeys tells whether an account has passkeys, which count as a second
// factor.
type Passkeys interface {
	HasPasskeys(ctx context.Context, orgID, accountID string) (bool, error)
}

// Notifier tells people about sign-in events that may not have been them.
type Notifier interface {
	// RepeatedFailures is called when an account is blocked after failed
	// sign-ins.
	RepeatedFailures(ctx context.Context, a *identity.Account, address string)
	// NewDevice is called after a sign-in from a browser and address the
	// account has not used before.
	NewDevice(ctx context.Context, a *identity.Account, userAgent, address string)
}

// Service carries people through signing in: a password, then a second
// factor where one is enrolled, then a session.
type Service struct {
	DB       *db.DB
	Accounts Accounts
	Factors  Factors
	Passkeys Passkeys
	Sessions *session.Store
	Throttle *Throttle
	Notices  Notifier // nil: none
	Audit    Auditor  // nil: sign-ins are not recorded
	Log      *slog.Logger
	// AccountLimit and AddressLimit default to the package's.
	AccountLimit, AddressLimit Limit

	dummyOnce sync.Once
	dummy     string // a hash to verify against when no account matches
}

// Attempt is what a person typed on the sign-in page, and where from.
type Attempt struct {
	OrgID, Email, Password string
	Address, UserAgent     string
}

// Outcome is where a sign-in step leaves the person.
type Outcome struct {
	Account *identity.Account
	Session *session.Session
	Secret  string // the session's secret, for the cookie
	// NeedsFactor: the password was right; the session awaits the second
	// factor (SecondFactor) and opens nothing else.
	NeedsFactor bool
	// MustEnroll: staff without a second factor, who may do nothing but
	// enroll one (the policy point holds them to it).
	MustEnroll bool
}

// WrongCredentials is the one answer to a wrong email or password, whether
// or not the account exists.
func WrongCredentials() error {
	return errs.E(errs.Unauthorized, "The email or password is not right.")
}

// staff reports whether a role is a staff role, which must use a second
// factor.
func staff(r identity.Role) bool { return r != identity.RolePatient && r != identity.RoleCaregiver }

func accountKey(id string) string   { return "account:" + id }
func addressKey(addr string) string { return "address:" + addr }

func (s *Service) limits() (Limit, Limit) {
	a, b := s.AccountLimit, s.AddressLimit
	if a.Failures == 0 {
		a = AccountLimit
	}
	if b.Failures == 0 {
		b = AddressLimit
	}
	return a, b
}

// Password checks an email and password. A wrong email and a wrong password
// get the same errs.Unauthorized, after the same password-hashing work; a
// blocked account or address an errs.RateLimited saying when to try again.
// On success the outcome holds a session: open, or awaiting the second
// factor when the account has one.
func (s *Service) Password(ctx context.Context, at Attempt) (*Outcome, error) {
	acctLimit, addrLimit := s.limits()
	failed := Event{OrgID: at.OrgID, Method: "password", Address: at.Address, UserAgent: at.UserAgent}
	if err := s.Throttle.Check(ctx, at.OrgID, addressKey(at.Address)); err != nil {
		failed.Reason = reasonOf(err)
		s.auditFailure(ctx, failed)
		return nil, err
	}
	acct, hash, err := s.Accounts.ByEmail(ctx, at.OrgID, strings.TrimSpace(at.Email))
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return nil, err
	}
	if acct != nil {
		failed.AccountID, failed.Role = acct.ID, string(acct.Role)
		if err := s.Throttle.Check(ctx, at.OrgID, accountKey(acct.ID)); err != nil {
			failed.Reason = reasonOf(err)
			s.auditFailure(ctx, failed)
			return nil, err
		}
	} else {
		// Spend the same work on a missing account as on a real one.
		hash = s.dummyHash()
	}
	ok, err := identity.VerifyPassword(hash, at.Password)
	if err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	if !ok || acct == nil {
		if _, _, err := s.Throttle.Fail(ctx, at.OrgID, addressKey(at.Address), addrLimit); err != nil {
			return nil, err
		}
		if acct != nil {
			if _, blocked, err := s.Throttle.Fail(ctx, at.OrgID, accountKey(acct.ID), acctLimit); err != nil {
				return nil, err
			} else if blocked && s.Notices != nil {
				s.Notices.RepeatedFailures(ctx, acct, at.Address)
			}
		}
		failed.Reason = "wrong email or password"
		s.auditFailure(ctx, failed)
		return nil, WrongCredentials()
	}
	has, err := s.hasSecondFactor(ctx, acct)
	if err != nil {
		return nil, err
	}
	if err := s.Throttle.Reset(ctx, at.OrgID, accountKey(acct.ID)); err != nil {
		return nil, err
	}
	se, secret, err := s.Sessions.Open(ctx, session.New{OrgID: acct.OrgID, AccountID: acct.ID, Role: string(acct.Role),
		AwaitFactor: has, UserAgent: at.UserAgent, Address: at.Address})
	if err != nil {
		return nil, err
	}
	out := &Outcome{Account: acct, Session: se, Secret: secret, NeedsFactor: has, MustEnroll: !has && staff(acct.Role)}
	if !has {
		if err := s.auditSignIn(ctx, acct, se, secret, "password"); err != nil {
			return nil, err
		}
		s.noticeNewDevice(ctx, acct, se)
	}
	return out, nil
}

func (s *Service) hasSecondFactor(ctx context.Context, acct *identity.Account) (bool, error) {
	sum, err := s.Factors.Factors(ctx, acct.OrgID, acct.ID)
	if err != nil {
		return false, err
	}
	if sum.HasSecondFactor() {
		return true, nil
	}
	if s.Passkeys == nil {
		return false, nil
	}
	return s.Passkeys.HasPasskeys(ctx, acct.OrgID, acct.ID)
}

// SecondFactor completes a sign-in awaiting its second factor with a code
// from the authenticator app or, failing that, a recovery code. A wrong
// code counts as a failed sign-in of the account.
func (s *Service) SecondFactor(ctx context.Context, secret, code, address string) (*Outcome, error) {
	acctLimit, _ := s.limits()
	se, err := s.Sessions.FindAwaiting(ctx, secret)
	if err != nil {
		return nil, err
	}
	failed := Event{OrgID: se.OrgID, AccountID: se.AccountID, Role: se.Role, Method: "password and second factor",
		Address: address, UserAgent: se.UserAgent}
	if err := s.Throttle.Check(ctx, se.OrgID, accountKey(se.AccountID)); err != nil {
		failed.Reason = reasonOf(err)
		s.auditFailure(ctx, failed)
		return nil, err
	}
	code = strings.TrimSpace(code)
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if digits := strings.ReplaceAll(code, " ", ""); len(digits) == identity.TOTPDigits {
			return s.Factors.VerifyTOTPTx(ctx, tx, se.OrgID, se.AccountID, code)
		}
		_, err := s.Factors.UseRecoveryCodeTx(ctx, tx, se.OrgID, se.AccountID, code)
		return err
	})
	if err != nil {
		if errs.CodeOf(err) == errs.Unauthorized {
			if _, _, ferr := s.Throttle.Fail(ctx, se.OrgID, accountKey(se.AccountID), acctLimit); ferr != nil {
				return nil, ferr
			}
			failed.Reason = "wrong second factor"
			s.auditFailure(ctx, failed)
		}
		return nil, err
	}
	if err := s.Throttle.Reset(ctx, se.OrgID, accountKey(se.AccountID)); err != nil {
		return nil, err
	}
	done, fresh, err := s.Sessions.Complete(ctx, secret)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Session: done, Secret: fresh}
	acct := &identity.Account{OrgID: done.OrgID, ID: done.AccountID, Role: identity.Role(done.Role)}
	if err := s.auditSignIn(ctx, acct, done, fresh, "password and second factor"); err != nil {
		return nil, err
	}
	s.noticeNewDevice(ctx, acct, done)
	return out, nil
}

// noticeNewDevice tells the account's owner about a sign-in from a browser
// and address that none of their earlier sessions used. The very first
// sign-in of an account is not news.
func (s *Service) noticeNewDevice(ctx context.Context, acct *identity.Account, se *session.Session) {
	if s.Notices == nil {
		return
	}
	known, first, err := s.Sessions.KnownDevice(ctx, se)
	if err != nil {
		if s.Log != nil {
			s.Log.Warn("sign-in: cannot look up earlier sessions for the new-device notice", "err", err)
		}
		return
	}
	if !known && !first {
		s.Notices.NewDevice(ctx, acct, se.UserAgent, se.Address)
	}
}

// dummyHash returns an argon2id hash, made once, of a random password:
// verifying against it costs what verifying a real password costs.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := identity.HashPassword(rand.Text(), identity.DefaultPasswordParams)
		if err != nil {
			panic(fmt.Errorf("signin: cannot make the dummy hash: %w", err))
		}
		s.dummy = h
	})
	return s.dummy
}

// StepUp verifies a code from the authenticator app in the open session of
// secret and gives the session a new secret with a second factor verified
// now: the step-up before sensitive changes. A wrong code counts against
// the account as a failed sign-in does, and a blocked account gets an
// errs.RateLimited.
func (s *Service) StepUp(ctx context.Context, secret, code string) (fresh string, err error) {
	se, err := s.Sessions.Find(ctx, secret)
	if err != nil {
		return "", err
	}
	acctLimit, _ := s.limits()
	key := accountKey(se.AccountID)
	if err := s.Throttle.Check(ctx, se.OrgID, key); err != nil {
		return "", err
	}
	if code = strings.TrimSpace(code); code == "" {
		return "", errs.Invalidf("code", "Enter the 6-digit code from your authenticator app.")
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		return s.Factors.VerifyTOTPTx(ctx, tx, se.OrgID, se.AccountID, code)
	})
	if err != nil {
		if errs.CodeOf(err) == errs.Unauthorized {
			if _, _, ferr := s.Throttle.Fail(ctx, se.OrgID, key, acctLimit); ferr != nil {
				return "", ferr
			}
		}
		return "", err
	}
	if err := s.Throttle.Reset(ctx, se.OrgID, key); err != nil {
		return "", err
	}
	_, fresh, err = s.Sessions.Renew(ctx, secret, true)
	return fresh, err
}
