package signin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// PatientBirthDates reads dates of birth from Patient records.
type PatientBirthDates interface {
	// BirthDate returns the birthDate of Patient/id as recorded
	// ("1980-05-17", or a partial "1980-05"), "" when the record has
	// none, and an errs.NotFound when there is no such Patient.
	BirthDate(ctx context.Context, orgID, id string) (string, error)
}

// LifecycleAccounts is the account store behind invitations, activation,
// registration, verification and recovery; *identity.Store is one.
type LifecycleAccounts interface {
	ByEmail(ctx context.Context, orgID, email string) (*identity.Account, string, error)
	ByID(ctx context.Context, orgID, id string) (*identity.Account, error)
	CreateTx(ctx context.Context, tx *sql.Tx, a *identity.Account, passwordHash string) error
	SetPasswordTx(ctx context.Context, tx *sql.Tx, orgID, accountID, passwordHash string) error
	MarkEmailVerifiedTx(ctx context.Context, tx *sql.Tx, orgID, accountID string, at time.Time) error
	ChangeEmailTx(ctx context.Context, tx *sql.Tx, orgID, accountID, email string, verifiedAt time.Time) error
	EmailVerifiedAt(ctx context.Context, orgID, accountID string) (time.Time, error)
	LinkPatientTx(ctx context.Context, tx *sql.Tx, orgID, accountID, patientID string) error
	PatientFreeTx(ctx context.Context, tx *sql.Tx, orgID, patientID string) error
	AddRegistrationTx(ctx context.Context, tx *sql.Tx, orgID, accountID, birthDate string, at time.Time) error
	Registrations(ctx context.Context, orgID string) ([]identity.Registration, error)
	RegistrationTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) (*identity.Registration, error)
}

// Limits of the account lifecycle, counted per network address or account
// with the sign-in Throttle: every request counts, not only failures.
var (
	// RecoveryAddressLimit: recovery links asked for from one address.
	RecoveryAddressLimit = Limit{Failures: 10, Window: time.Hour, Block: time.Hour}
	// RecoveryAccountLimit: recovery links sent to one account; beyond it
	// requests are answered as usual and nothing is sent.
	RecoveryAccountLimit = Limit{Failures: 3, Window: time.Hour, Block: time.Hour}
	// RegisterAddressLimit: registrations from one address.
	RegisterAddressLimit = Limit{Failures: 10, Window: time.Hour, Block: time.Hour}
	// EmailAccountLimit: verification links one account asks for.
	EmailAccountLimit = Limit{Failures: 5, Window: time.Hour, Block: time.Hour}
)

// Lifecycle is how people get and recover accounts: staff invitations,
// patient activation codes, self-registration and its match to a record,
// email verification and change, and recovery by an email link that never
// bypasses the second factor.
//
// Every email is a durable job (Mailer) inserted in the same transaction
// as the state it announces. Answers that could tell whether an account
// exists (registration, recovery) are the same either way, after the same
// work on the request's path: the request inserts one job with what the
// person typed, and the job's worker does what differs (AddWorkers).
type Lifecycle struct {
	Service  *Service // database, sessions, throttle, second factors
	Accounts LifecycleAccounts
	Tokens   *identity.Tokens
	Patients PatientBirthDates
	Mail     *Mailer // queues the emails, and the requests that may lead to one, as jobs
	// BaseURL is the public URL of careloop, for the links in emails.
	BaseURL string
	// PasswordParams hash new passwords; zero means
	// identity.DefaultPasswordParams.
	PasswordParams identity.PasswordParams
}

func (l *Lifecycle) hash(password string) (string, error) {
	p := l.PasswordParams
	if p.MemoryKiB == 0 {
		p = identity.DefaultPasswordParams
	}
	h, err := identity.HashPassword(password, p)
	if err != nil {
		return "", fmt.Errorf("signin: %w", err)
	}
	return h, nil
}

func (l *Lifecycle) now() time.Time { return l.Service.Sessions.Now() }

// Keys of the throttle for the lifecycle's counts.
func recoveryAddressKey(addr string) string { return "recovery-address:" + addr }
func recoveryAccountKey(id string) string   { return "recovery-account:" + id }
func registerAddressKey(addr string) string { return "register-address:" + addr }
func emailAccountKey(id string) string      { return "email-account:" + id }

// countRequest counts a request against a limit and refuses it with an
// errs.RateLimited once the limit is reached.
func (l *Lifecycle) countRequest(ctx context.Context, orgID, key string, lim Limit) error {
	if err := l.Service.Throttle.Check(ctx, orgID, key); err != nil {
		return err
	}
	_, _, err := l.Service.Throttle.Fail(ctx, orgID, key, lim)
	return err
}

// failAddress counts a wrong token, code or date of birth against the
// network address, as a failed sign-in.
func (l *Lifecycle) failAddress(ctx context.Context, orgID, address string) error {
	_, addrLimit := l.Service.limits()
	_, _, err := l.Service.Throttle.Fail(ctx, orgID, addressKey(address), addrLimit)
	return err
}

// findToken returns the open token of a secret; a wrong one counts against
// the address.
func (l *Lifecycle) findToken(ctx context.Context, orgID string, p identity.Purpose, secret, address string) (*identity.Token, error) {
	if err := l.Service.Throttle.Check(ctx, orgID, addressKey(address)); err != nil {
		return nil, err
	}
	var tok *identity.Token
	err := l.Service.DB.InTx(ctx, func(tx *sql.Tx) (err error) {
		tok, err = l.Tokens.FindTx(ctx, tx, orgID, p, secret)
		return err
	})
	if errors.Is(err, identity.ErrTokenInvalid) {
		if ferr := l.failAddress(ctx, orgID, address); ferr != nil {
			return nil, ferr
		}
	}
	return tok, err
}

// spend runs fn in a transaction that first consumes the token: both
// happen, or neither.
func (l *Lifecycle) spend(ctx context.Context, tok *identity.Token, fn func(tx *sql.Tx) error) error {
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := l.Tokens.ConsumeTx(ctx, tx, tok); err != nil {
			return err
		}
		return fn(tx)
	})
}

// cleanName returns a person's name as they typed it, trimmed, or an
// errs.Invalid for an empty, overlong or control-character name.
func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errs.Invalidf("name", "Enter your name.")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", errs.Invalidf("name", "A name has at most 100 characters and no line breaks.")
	}
	return name, nil
}

// ParseBirthDate checks a date of birth as a person gives it: YYYY-MM-DD,
// a real date, not in the future.
func ParseBirthDate(s string, now time.Time) (string, error) {
	s = strings.TrimSpace(s)
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.After(now) || d.Year() < 1880 {
		return "", errs.Invalidf("birth_date", "Enter your date of birth as year-month-day, like 1980-05-17.")
	}
	return s, nil
}

var patientIDPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// patientID returns the id of "Patient/ID" or "ID", or an errs.Invalid.
func patientID(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(s), "Patient/")
	if !patientIDPattern.MatchString(id) {
		return "", errs.Invalidf("patient", "%q is not a Patient id (Patient/ID, or the ID).", s)
	}
	return id, nil
}

// --- Staff invitations ---------------------------------------------------

// StaffRoles returns the roles of staff, which an invitation may give and
// which must use a second factor, in the order pages offer them. The
// slice is the caller's.
func StaffRoles() []identity.Role {
	return []identity.Role{identity.RoleClinician, identity.RoleNurse, identity.RoleTechnician,
		identity.RoleCoordinator, identity.RoleCompliance, identity.RoleAdmin}
}

// staffRoleList names the staff roles for a message: "a, b or c".
func staffRoleList() string {
	roles := StaffRoles()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Invitation is what an administrator fills in to invite staff.
type Invitation struct {
	Email string
	Role  identity.Role
	Name  string // optional; the invitee may change it
	By    string // account id of the administrator, or "cli"
}

// Invite invites a person to join the organisation with a staff role and
// emails them a single-use link, valid 72 hours, that replaces any open
// invitation to the same address. It returns the invitation and its link
// (for the command line; never log it). An address that already has an
// account is an errs.Conflict.
func (l *Lifecycle) Invite(ctx context.Context, org *tenant.Organization, in Invitation) (*identity.Token, string, error) {
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return nil, "", err
	}
	if !slices.Contains(StaffRoles(), in.Role) {
		return nil, "", errs.Invalidf("role", "%q is not a staff role: %s.", in.Role, staffRoleList())
	}
	name := ""
	if strings.TrimSpace(in.Name) != "" {
		if name, err = cleanName(in.Name); err != nil {
			return nil, "", err
		}
	}
	if _, _, err := l.Accounts.ByEmail(ctx, org.ID, email); err == nil {
		return nil, "", errs.E(errs.Conflict, "An account with this email already exists in the organisation.")
	} else if errs.CodeOf(err) != errs.NotFound {
		return nil, "", err
	}
	tok := &identity.Token{OrgID: org.ID, Purpose: identity.PurposeInvitation, Email: email, Role: in.Role, DisplayName: name, CreatedBy: in.By}
	var secret string
	err = l.Service.DB.InTx(ctx, func(tx *sql.Tx) (err error) {
		if secret, err = l.Tokens.IssueTx(ctx, tx, tok); err != nil {
			return err
		}
		return l.Mail.queueTx(ctx, tx, org.ID, invitationEmail(l.BaseURL, org, tok, secret), tok.ExpiresAt)
	})
	if err != nil {
		return nil, "", err
	}
	return tok, link(l.BaseURL, invitationPath, org, secret), nil
}

// Invitations returns the organisation's open invitations, newest first.
func (l *Lifecycle) Invitations(ctx context.Context, orgID string) ([]identity.Token, error) {
	return l.Tokens.Open(ctx, orgID, identity.PurposeInvitation)
}

// RevokeInvitation withdraws an open invitation: its link opens nothing
// from then on. An unknown id is an errs.NotFound.
func (l *Lifecycle) RevokeInvitation(ctx context.Context, orgID, id string) error {
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		return l.Tokens.RevokeTx(ctx, tx, orgID, identity.PurposeInvitation, id)
	})
}

// Invitee is who an open invitation is for, as the invitation holds it.
type Invitee struct {
	Email     string
	Role      identity.Role
	Name      string // the name the administrator suggested; may be empty
	ExpiresAt time.Time
}

// Peek returns who the invitation link secret is for while it is still
// open, without spending it, so that a page can say at once that a link
// no longer works and can suggest the name. An unknown, used, revoked,
// replaced or expired link gets the one answer AcceptInvitation gives
// (identity.InvalidLink, an errs.Unauthorized) and counts against the
// network address as any wrong link does; an address paused for too many
// of them gets an errs.RateLimited before anything is looked up.
func (l *Lifecycle) Peek(ctx context.Context, org *tenant.Organization, secret, address string) (*Invitee, error) {
	tok, err := l.findToken(ctx, org.ID, identity.PurposeInvitation, secret, address)
	if err != nil {
		return nil, err
	}
	return &Invitee{Email: tok.Email, Role: tok.Role, Name: tok.DisplayName, ExpiresAt: tok.ExpiresAt}, nil
}

// Acceptance is what an invited person fills in.
type Acceptance struct {
	Token, Name, Password string
	Address, UserAgent    string
}

// AcceptInvitation creates the invited account, with its role and its
// email verified (the link reached it), and opens a session that may do
// nothing but enroll a second factor (MustEnroll). A wrong, used or
// expired link is an errs.Unauthorized counted against the address; a weak
// password an errs.Invalid that spends nothing.
func (l *Lifecycle) AcceptInvitation(ctx context.Context, org *tenant.Organization, in Acceptance) (*Outcome, error) {
	tok, err := l.findToken(ctx, org.ID, identity.PurposeInvitation, in.Token, in.Address)
	if err != nil {
		return nil, err
	}
	name := in.Name
	if strings.TrimSpace(name) == "" {
		name = tok.DisplayName
	}
	if name, err = cleanName(name); err != nil {
		return nil, err
	}
	if err := identity.CheckPassword(in.Password, name, tok.Email, org.Name); err != nil {
		return nil, err
	}
	hash, err := l.hash(in.Password)
	if err != nil {
		return nil, err
	}
	acct := &identity.Account{OrgID: org.ID, Email: tok.Email, DisplayName: name, Role: tok.Role}
	err = l.spend(ctx, tok, func(tx *sql.Tx) error {
		if err := l.Accounts.CreateTx(ctx, tx, acct, hash); err != nil {
			return err
		}
		return l.Accounts.MarkEmailVerifiedTx(ctx, tx, org.ID, acct.ID, l.now())
	})
	if err != nil {
		return nil, err
	}
	se, secret, err := l.Service.Sessions.Open(ctx, session.New{OrgID: org.ID, AccountID: acct.ID, Role: string(acct.Role),
		UserAgent: in.UserAgent, Address: in.Address})
	if err != nil {
		return nil, err
	}
	return &Outcome{Account: acct, Session: se, Secret: secret, MustEnroll: staff(acct.Role)}, nil
}

// --- Patient activation --------------------------------------------------

// ActivationCode is a code made for a patient, to hand over or post.
type ActivationCode struct {
	Code      string // "7K2M9-QC4XR": show it once, never log it
	Patient   string // Patient/ID
	ExpiresAt time.Time
}

// CreateActivationCode makes a code, valid 30 days, with which the person
// of Patient/patientID opens an account (with their date of birth). It
// replaces the record's earlier open code. A record that does not exist,
// has no full date of birth, or already has an account is refused.
func (l *Lifecycle) CreateActivationCode(ctx context.Context, orgID, patient, by string) (*ActivationCode, error) {
	id, err := patientID(patient)
	if err != nil {
		return nil, err
	}
	dob, err := l.Patients.BirthDate(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if _, err := time.Parse(time.DateOnly, dob); err != nil {
		return nil, errs.E(errs.Unprocessable, "The patient's record has no full date of birth, which activation checks: add it to the record first.")
	}
	tok := &identity.Token{OrgID: orgID, Purpose: identity.PurposeActivation, Subject: "Patient/" + id, CreatedBy: by}
	var code string
	err = l.Service.DB.InTx(ctx, func(tx *sql.Tx) (err error) {
		if err := l.Accounts.PatientFreeTx(ctx, tx, orgID, id); err != nil {
			return err
		}
		code, err = l.Tokens.IssueTx(ctx, tx, tok)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ActivationCode{Code: code, Patient: tok.Subject, ExpiresAt: tok.ExpiresAt}, nil
}

// checkActivation finds the activation code and checks the date of birth
// against the record. A wrong code or date gets one answer, counts against
// the address, and a wrong date against the code, which
// identity.MaxActivationFailures of them void.
func (l *Lifecycle) checkActivation(ctx context.Context, orgID, code, birthDate, address string) (*identity.Token, error) {
	tok, err := l.findToken(ctx, orgID, identity.PurposeActivation, code, address)
	if err != nil {
		if errors.Is(err, identity.ErrTokenInvalid) {
			return nil, identity.WrongActivation()
		}
		return nil, err
	}
	dob, err := l.Patients.BirthDate(ctx, orgID, strings.TrimPrefix(tok.Subject, "Patient/"))
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return nil, err
	}
	if err != nil || dob != birthDate {
		err := l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, err := l.Tokens.FailTx(ctx, tx, tok)
			return err
		})
		if err != nil {
			return nil, err
		}
		if err := l.failAddress(ctx, orgID, address); err != nil {
			return nil, err
		}
		return nil, identity.WrongActivation()
	}
	return tok, nil
}

// Activation is what a patient fills in with the code from the clinic.
type Activation struct {
	Code, BirthDate       string
	Email, Password, Name string
	Address, UserAgent    string
}

// Activate opens a patient account for the record of an activation code,
// once the date of birth matches the record's, and signs the person in; a
// second factor is offered, not required. A link to verify the email is
// sent. Bad input is refused before the code is looked at, and changes
// nothing; an email that already has an account is an errs.Conflict
// (only someone holding the code and the date learns it) and leaves the
// code unspent, to be entered from that account (Link).
func (l *Lifecycle) Activate(ctx context.Context, org *tenant.Organization, in Activation) (*Outcome, error) {
	dob, err := ParseBirthDate(in.BirthDate, l.now())
	if err != nil {
		return nil, err
	}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	name, err := cleanName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckPassword(in.Password, name, email, org.Name); err != nil {
		return nil, err
	}
	tok, err := l.checkActivation(ctx, org.ID, in.Code, dob, in.Address)
	if err != nil {
		return nil, err
	}
	hash, err := l.hash(in.Password)
	if err != nil {
		return nil, err
	}
	acct := &identity.Account{OrgID: org.ID, Email: email, DisplayName: name, Role: identity.RolePatient, FHIRRef: tok.Subject}
	verify := &identity.Token{OrgID: org.ID, Purpose: identity.PurposeVerifyEmail, Email: email, CreatedBy: "activation"}
	err = l.spend(ctx, tok, func(tx *sql.Tx) error {
		if err := l.Accounts.PatientFreeTx(ctx, tx, org.ID, strings.TrimPrefix(tok.Subject, "Patient/")); err != nil {
			return err
		}
		if err := l.Accounts.CreateTx(ctx, tx, acct, hash); err != nil {
			if errs.CodeOf(err) == errs.Conflict {
				return errs.E(errs.Conflict, "An account with this email exists already: sign in with it and enter the activation code there.")
			}
			return err
		}
		verify.AccountID = acct.ID
		secret, err := l.Tokens.IssueTx(ctx, tx, verify)
		if err != nil {
			return err
		}
		return l.Mail.queueTx(ctx, tx, org.ID, verifyEmail(l.BaseURL, org, email, secret), verify.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	se, cookie, err := l.Service.Sessions.Open(ctx, session.New{OrgID: org.ID, AccountID: acct.ID, Role: string(acct.Role),
		UserAgent: in.UserAgent, Address: in.Address})
	if err != nil {
		return nil, err
	}
	return &Outcome{Account: acct, Session: se, Secret: cookie}, nil
}

// Link matches the signed-in patient's account, not yet matched to a
// record (self-registered), to the record of an activation code, once the
// date of birth matches.
func (l *Lifecycle) Link(ctx context.Context, se *session.Session, code, birthDate, address string) error {
	dob, err := ParseBirthDate(birthDate, l.now())
	if err != nil {
		return err
	}
	acct, err := l.Accounts.ByID(ctx, se.OrgID, se.AccountID)
	if err != nil {
		return err
	}
	if acct.Role != identity.RolePatient || acct.FHIRRef != "" {
		return errs.E(errs.Conflict, "This account is already linked to a record, or is not a patient's account.")
	}
	tok, err := l.checkActivation(ctx, se.OrgID, code, dob, address)
	if err != nil {
		return err
	}
	return l.spend(ctx, tok, func(tx *sql.Tx) error {
		return l.Accounts.LinkPatientTx(ctx, tx, se.OrgID, acct.ID, strings.TrimPrefix(tok.Subject, "Patient/"))
	})
}

// --- Self-registration ---------------------------------------------------

// Registration is what a patient fills in to register.
type Registration struct {
	Email, Password, Name, BirthDate string
	Address                          string
}

// Register registers a patient account that sees no health data until it
// is matched to a record, and sends a link to verify the email. Whether or
// not the email has an account already, the answer (nil, or an error
// about the input or the address's rate) is the same and comes after the
// same work: the password is checked and hashed, and one job holding what
// the person typed (sealed, with the hash instead of the password) is
// stored before the answer. Its worker (RegistrationWorker) creates the
// account, or tells the owner of the existing one that someone tried.
func (l *Lifecycle) Register(ctx context.Context, org *tenant.Organization, in Registration) error {
	dob, err := ParseBirthDate(in.BirthDate, l.now())
	if err != nil {
		return err
	}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	name, err := cleanName(in.Name)
	if err != nil {
		return err
	}
	if err := identity.CheckPassword(in.Password, name, email, org.Name); err != nil {
		return err
	}
	if err := l.countRequest(ctx, org.ID, registerAddressKey(in.Address), RegisterAddressLimit); err != nil {
		return err
	}
	hash, err := l.hash(in.Password)
	if err != nil {
		return err
	}
	args := RegistrationArgs{OrgID: org.ID}
	args.Sealed, err = l.Mail.seal(args.Kind(), org.ID, registrationRequest{OrgSlug: org.Slug, OrgName: org.Name,
		Email: email, Name: name, BirthDate: dob, PasswordHash: hash, At: l.now()})
	if err != nil {
		return err
	}
	return l.Mail.insert(ctx, args)
}

// Registrations returns the self-registered patients with a verified
// email who await a match to their record.
func (l *Lifecycle) Registrations(ctx context.Context, orgID string) ([]identity.Registration, error) {
	return l.Accounts.Registrations(ctx, orgID)
}

// LinkRegistration matches a self-registered patient, whose email is
// verified, to Patient/patient, once the date of birth they gave equals
// the record's. A mismatch is an errs.Unprocessable and changes nothing.
func (l *Lifecycle) LinkRegistration(ctx context.Context, org *tenant.Organization, accountID, patient string) error {
	id, err := patientID(patient)
	if err != nil {
		return err
	}
	dob, err := l.Patients.BirthDate(ctx, org.ID, id)
	if err != nil {
		return err
	}
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		r, err := l.Accounts.RegistrationTx(ctx, tx, org.ID, accountID)
		if err != nil {
			return err
		}
		if !r.Verified {
			return errs.E(errs.Conflict, "This person has not verified their email yet; they can be matched once they have.")
		}
		if r.BirthDate != dob {
			return errs.E(errs.Unprocessable, "The date of birth this person gave does not match the record's: check that it is the right patient.")
		}
		if err := l.Accounts.LinkPatientTx(ctx, tx, org.ID, accountID, id); err != nil {
			return err
		}
		return l.Mail.queueTx(ctx, tx, org.ID, linkedEmail(l.BaseURL, org, r.Account.Email, r.Account.DisplayName), time.Time{})
	})
}

// --- Email verification and change ---------------------------------------

// VerifyEmail follows a verification link: the account's email is marked
// verified or, for a change of address, switched to the new one. A wrong,
// used or expired link is an errs.Unauthorized counted against the
// address.
func (l *Lifecycle) VerifyEmail(ctx context.Context, org *tenant.Organization, secret, address string) error {
	tok, err := l.findToken(ctx, org.ID, identity.PurposeVerifyEmail, secret, address)
	if err != nil {
		return err
	}
	acct, err := l.Accounts.ByID(ctx, org.ID, tok.AccountID)
	if err != nil {
		return err
	}
	return l.spend(ctx, tok, func(tx *sql.Tx) error {
		if tok.Email == acct.Email {
			return l.Accounts.MarkEmailVerifiedTx(ctx, tx, org.ID, acct.ID, l.now())
		}
		return l.Accounts.ChangeEmailTx(ctx, tx, org.ID, acct.ID, tok.Email, l.now())
	})
}

// ResendVerification sends the signed-in person a new link to verify
// their email, replacing the earlier one. It reports false when the email
// is verified already (nothing is sent).
func (l *Lifecycle) ResendVerification(ctx context.Context, org *tenant.Organization, se *session.Session) (bool, error) {
	at, err := l.Accounts.EmailVerifiedAt(ctx, org.ID, se.AccountID)
	if err != nil || !at.IsZero() {
		return false, err
	}
	acct, err := l.Accounts.ByID(ctx, org.ID, se.AccountID)
	if err != nil {
		return false, err
	}
	if err := l.countRequest(ctx, org.ID, emailAccountKey(acct.ID), EmailAccountLimit); err != nil {
		return false, err
	}
	return true, l.sendVerification(ctx, org, acct, acct.Email, nil)
}

// sendVerification makes a link to verify to for acct and queues the email
// with it, and notice when not nil, in one transaction.
func (l *Lifecycle) sendVerification(ctx context.Context, org *tenant.Organization, acct *identity.Account, to string, notice *mail.Message) error {
	tok := &identity.Token{OrgID: org.ID, Purpose: identity.PurposeVerifyEmail, AccountID: acct.ID, Email: to, CreatedBy: acct.ID}
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		secret, err := l.Tokens.IssueTx(ctx, tx, tok)
		if err != nil {
			return err
		}
		if err := l.Mail.queueTx(ctx, tx, org.ID, verifyEmail(l.BaseURL, org, to, secret), tok.ExpiresAt); err != nil {
			return err
		}
		if notice != nil {
			return l.Mail.queueTx(ctx, tx, org.ID, *notice, time.Time{})
		}
		return nil
	})
}

// ChangeEmail starts a change of the signed-in person's email: a link goes
// to the new address, and the email changes only when it is followed; the
// old address is told. The caller checks step-up first. The answer does
// not say whether another account uses the new address (following the
// link then fails).
func (l *Lifecycle) ChangeEmail(ctx context.Context, org *tenant.Organization, se *session.Session, newEmail string) error {
	email, err := identity.NormalizeEmail(newEmail)
	if err != nil {
		return err
	}
	acct, err := l.Accounts.ByID(ctx, org.ID, se.AccountID)
	if err != nil {
		return err
	}
	if email == acct.Email {
		return errs.Invalidf("email", "That is the email the account has already.")
	}
	if err := l.countRequest(ctx, org.ID, emailAccountKey(acct.ID), EmailAccountLimit); err != nil {
		return err
	}
	notice := emailChangeNotice(org, acct.Email, acct.DisplayName)
	return l.sendVerification(ctx, org, acct, email, &notice)
}

// --- Recovery --------------------------------------------------------------

// RequestRecovery asks for a link to set a new password. The answer is
// the same, after the same work, whether or not the organisation has an
// account with the email: one job holding the organisation and the email
// (sealed) is stored before the answer, and its worker (RecoveryWorker)
// looks the account up, stores the link and queues the email. Only the
// address's rate (RecoveryAddressLimit) and malformed input change the
// answer; an account's own limit (RecoveryAccountLimit) silently stops
// further emails.
func (l *Lifecycle) RequestRecovery(ctx context.Context, org *tenant.Organization, email, address string) error {
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if org == nil {
		// An unknown organisation: nothing to look up or send, and nothing
		// stored (the throttle has no organisation to count in). Which
		// organisations exist is no secret: their slugs are in every URL.
		return nil
	}
	if err := l.countRequest(ctx, org.ID, recoveryAddressKey(address), RecoveryAddressLimit); err != nil {
		return err
	}
	args := RecoveryArgs{OrgID: org.ID}
	if args.Sealed, err = l.Mail.seal(args.Kind(), org.ID, recoveryRequest{OrgSlug: org.Slug, OrgName: org.Name, Email: email}); err != nil {
		return err
	}
	return l.Mail.insert(ctx, args)
}

// Reset is what a person fills in after following a recovery link.
type Reset struct {
	Token, Password    string
	Address, UserAgent string
}

// CompleteRecovery sets a new password with a recovery link, ends every
// session of the account and opens one that, when the account has a
// second factor, awaits it (SecondFactor, as after a password): recovery
// never bypasses the second factor. A weak password is an errs.Invalid
// that spends nothing; a wrong, used or expired link an errs.Unauthorized
// counted against the address.
func (l *Lifecycle) CompleteRecovery(ctx context.Context, org *tenant.Organization, in Reset) (*Outcome, error) {
	tok, err := l.findToken(ctx, org.ID, identity.PurposeRecovery, in.Token, in.Address)
	if err != nil {
		return nil, err
	}
	acct, err := l.Accounts.ByID(ctx, org.ID, tok.AccountID)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckPassword(in.Password, acct.DisplayName, acct.Email, org.Name); err != nil {
		return nil, err
	}
	hash, err := l.hash(in.Password)
	if err != nil {
		return nil, err
	}
	err = l.spend(ctx, tok, func(tx *sql.Tx) error {
		if err := l.Accounts.SetPasswordTx(ctx, tx, org.ID, acct.ID, hash); err != nil {
			return err
		}
		if tok.Email == acct.Email {
			// The link reached the address: it is verified.
			if err := l.Accounts.MarkEmailVerifiedTx(ctx, tx, org.ID, acct.ID, l.now()); err != nil {
				return err
			}
		}
		return l.Mail.queueTx(ctx, tx, org.ID, passwordChangedEmail(org, acct.Email, acct.DisplayName), time.Time{})
	})
	if err != nil {
		return nil, err
	}
	if _, err := l.Service.Sessions.EndAll(ctx, org.ID, acct.ID, ""); err != nil {
		return nil, err
	}
	has, err := l.Service.hasSecondFactor(ctx, acct)
	if err != nil {
		return nil, err
	}
	se, secret, err := l.Service.Sessions.Open(ctx, session.New{OrgID: org.ID, AccountID: acct.ID, Role: string(acct.Role),
		AwaitFactor: has, UserAgent: in.UserAgent, Address: in.Address})
	if err != nil {
		return nil, err
	}
	return &Outcome{Account: acct, Session: se, Secret: secret, NeedsFactor: has, MustEnroll: !has && staff(acct.Role)}, nil
}
