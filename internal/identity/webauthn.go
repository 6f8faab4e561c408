package identity

// Passkeys and security keys (WebAuthn Level 3) for accounts.
//
// The ceremonies follow the specification's two steps: Begin returns the
// options the browser passes to navigator.credentials.create or get, and
// Finish verifies what the browser returns. The state between the two (the
// challenge and what it was issued for) lives in the database under an
// opaque ceremony id, so any careloop node can finish a ceremony another
// began; it expires after a few minutes and is deleted by the first Finish
// that names it, so a challenge is answered at most once.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// DefaultCeremonyTTL is how long a begun passkey ceremony may be finished
// when PasskeyConfig.CeremonyTTL is zero.
const DefaultCeremonyTTL = 5 * time.Minute

// passkeyRPName is the relying party name authenticators show.
const passkeyRPName = "careloop"

// maxPasskeyName bounds the user-chosen name of a passkey, in characters.
const maxPasskeyName = 100

// The kinds of ceremony; a ceremony is finished only by the Finish of its kind.
const (
	ceremonyRegister     = "register"
	ceremonySignIn       = "sign-in"
	ceremonySecondFactor = "second-factor"
)

// Messages clients see. Sign-in failures all read the same, whatever failed,
// so that a response tells an attacker nothing about which credentials exist.
const (
	msgPasskeyNotVerified = "The passkey could not be verified."
	msgPasskeyExpired     = "The passkey request has expired or was already used; please try again."
	msgPasskeyCloned      = "This passkey has been blocked because it may have been copied. Sign in another way and remove it."
	msgPasskeyNotFound    = "No such passkey."
	msgRegisterFailed     = "The passkey could not be registered."
)

// PasskeyConfig configures a Passkeys service.
type PasskeyConfig struct {
	// RPID is the WebAuthn relying party id: the host name careloop is
	// served at (careloop.example.org), without scheme or port. Every
	// passkey is bound to it; changing it makes registered passkeys unusable.
	RPID string
	// Origins are the origins (scheme://host[:port]) whose pages may run a
	// ceremony. Client data naming another origin is refused.
	Origins []string
	// CeremonyTTL is how long a begun ceremony may be finished; zero means
	// DefaultCeremonyTTL. It is also the timeout the browser is given.
	CeremonyTTL time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// PasskeyConfigFromBaseURL returns the configuration for a careloop served
// at base: its host name is the relying party id and its origin the one
// allowed origin. WebAuthn binds credentials to domain names, so a base URL
// whose host is an IP address is an error (use localhost for development);
// browsers also require https except on localhost.
func PasskeyConfigFromBaseURL(base *url.URL) (PasskeyConfig, error) {
	if base == nil || base.Host == "" {
		return PasskeyConfig{}, errors.New("identity: passkeys: the base URL has no host")
	}
	host := base.Hostname()
	if net.ParseIP(host) != nil {
		return PasskeyConfig{}, fmt.Errorf("identity: passkeys: the base URL host %s is an IP address; passkeys need a domain name (localhost for development)", host)
	}
	if base.Scheme != "https" && !(base.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost"))) {
		return PasskeyConfig{}, fmt.Errorf("identity: passkeys: browsers allow passkeys only on https (or http on localhost), not %s", base.Scheme)
	}
	origin := base.Scheme + "://" + strings.ToLower(base.Host)
	return PasskeyConfig{RPID: strings.ToLower(host), Origins: []string{origin}}, nil
}

// Passkeys registers WebAuthn credentials (passkeys and security keys) for
// accounts and signs people in with them. It is safe for concurrent use,
// including by several careloop nodes over one database.
type Passkeys struct {
	db  *db.DB
	wa  *webauthn.WebAuthn
	ttl time.Duration
	now func() time.Time
	// Audit, if not nil, records passkeys registered and removed, in the
	// change's transaction. Set it before use.
	Audit SecurityRecorder
}

// NewPasskeys returns a Passkeys service over d configured by cfg. It
// returns an error when cfg has no valid relying party id or no origin.
func NewPasskeys(d *db.DB, cfg PasskeyConfig) (*Passkeys, error) {
	ttl := cfg.CeremonyTTL
	if ttl <= 0 {
		ttl = DefaultCeremonyTTL
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.RPID == "" {
		return nil, errors.New("identity: passkeys: no relying party id")
	}
	timeout := webauthn.TimeoutConfig{Timeout: ttl, TimeoutUVD: ttl}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         passkeyRPName,
		RPOrigins:             cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("identity: passkeys: %w", err)
	}
	return &Passkeys{db: d, wa: wa, ttl: ttl, now: now}, nil
}

// Passkey is a WebAuthn credential registered to an account: a passkey
// (synced or on one device) or a security key.
type Passkey struct {
	OrgID     string
	AccountID string
	// ID is the credential id in unpadded base64url, as browsers show it.
	ID string
	// Name is what the person called it ("Work laptop").
	Name string
	// AAGUID names the authenticator model; all zeros when not disclosed.
	AAGUID string
	// Transports are how the browser may reach the authenticator
	// ("internal", "hybrid", "usb", "nfc", "ble").
	Transports []string
	// Attachment is "platform", "cross-platform" or empty when unknown.
	Attachment string
	// SignCount is the authenticator's signature counter at its last use;
	// authenticators that do not count keep it at zero.
	SignCount uint32
	// UserVerified tells that the authenticator has verified the person
	// (PIN, biometrics) for this credential at least once.
	UserVerified bool
	// BackupEligible tells that the credential may be synced to other
	// devices; BackedUp that it was at its last use.
	BackupEligible bool
	BackedUp       bool
	// PossiblyCloned is set when the signature counter went backwards: two
	// copies of the private key may exist. Such a passkey cannot sign in.
	PossiblyCloned bool
	CreatedAt      time.Time
	// LastUsedAt is the last successful sign-in with it, or nil.
	LastUsedAt *time.Time
}

// PasskeyCeremony is a begun registration or sign-in.
type PasskeyCeremony struct {
	// ID names the ceremony at Finish. The caller keeps it on the server
	// side of its own session (not in the page) until then.
	ID string
	// Options is the JSON the browser passes, after
	// PublicKeyCredential.parseCreationOptionsFromJSON or
	// parseRequestOptionsFromJSON, as the publicKey member to
	// navigator.credentials.create or get.
	Options json.RawMessage
	// ExpiresAt is when the ceremony can no longer be finished.
	ExpiresAt time.Time
}

// PasskeySignIn is the outcome of a successful passkey sign-in.
type PasskeySignIn struct {
	Account *Account
	Passkey *Passkey
	// UserVerified tells that the authenticator verified the person (PIN,
	// biometrics) in this ceremony, which makes the passkey alone a
	// multi-factor sign-in. When false the sign-in proved possession of the
	// authenticator only, and policy may ask for another factor.
	UserVerified bool
}

// passkeyUser is an account as the WebAuthn library sees it.
type passkeyUser struct {
	handle      []byte
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// BeginRegistration begins registering a new passkey for the signed-in
// account a. The options ask for a discoverable credential and user
// verification, both preferred, and exclude the account's registered
// credentials so an authenticator is not registered twice.
func (p *Passkeys) BeginRegistration(ctx context.Context, a *Account) (*PasskeyCeremony, error) {
	var c *PasskeyCeremony
	err := p.db.InTx(ctx, func(tx *sql.Tx) error {
		handle, err := passkeyUserHandleTx(ctx, tx, a.OrgID, a.ID, p.now())
		if err != nil {
			return err
		}
		creds, err := passkeyCredentialsQ(ctx, tx, a.OrgID, a.ID)
		if err != nil {
			return err
		}
		exclude := make([]protocol.CredentialDescriptor, 0, len(creds))
		for _, cr := range creds {
			exclude = append(exclude, cr.Descriptor())
		}
		user := &passkeyUser{handle: handle, name: a.Email, displayName: cmp.Or(a.DisplayName, a.Email)}
		creation, session, err := p.wa.BeginRegistration(user, webauthn.WithExclusions(exclude))
		if err != nil {
			return fmt.Errorf("identity: begin passkey registration: %w", err)
		}
		c, err = p.saveCeremonyTx(ctx, tx, a.OrgID, ceremonyRegister, a.ID, session, creation.Response)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FinishRegistration verifies the browser's answer (the
// RegistrationResponseJSON, as PublicKeyCredential.toJSON gives it) to the
// registration ceremony begun for a, and stores the credential under name
// ("Passkey" when empty). Once the name is accepted, the ceremony is used up
// whatever the outcome. It returns an errs.Invalid for a name of more than
// 100 characters or with control characters, for a ceremony that is
// unknown, expired, of another kind or not a's, and for an answer that does
// not verify (wrong origin, challenge or relying party, malformed); an
// errs.Conflict when the credential is already registered in the
// organisation.
func (p *Passkeys) FinishRegistration(ctx context.Context, a *Account, ceremonyID string, response []byte, name string) (*Passkey, error) {
	name, err := passkeyName(name, "Passkey")
	if err != nil {
		return nil, err
	}
	session, err := p.takeCeremony(ctx, a.OrgID, ceremonyID, ceremonyRegister, a.ID)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, msgPasskeyExpired)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, errs.Wrap(fmt.Errorf("identity: finish passkey registration: %w", webauthnCause(err)), errs.Invalid, msgRegisterFailed)
	}
	var pk *Passkey
	err = p.db.InTx(ctx, func(tx *sql.Tx) error {
		handle, err := passkeyUserHandleTx(ctx, tx, a.OrgID, a.ID, p.now())
		if err != nil {
			return err
		}
		user := &passkeyUser{handle: handle, name: a.Email, displayName: cmp.Or(a.DisplayName, a.Email)}
		cred, err := p.wa.CreateCredential(user, *session, parsed)
		if err != nil {
			return errs.Wrap(fmt.Errorf("identity: finish passkey registration: %w", webauthnCause(err)), errs.Invalid, msgRegisterFailed)
		}
		id := base64.RawURLEncoding.EncodeToString(cred.ID)
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webauthn_credentials WHERE org_id = $1 AND id = $2", a.OrgID, id).Scan(&n); err != nil {
			return fmt.Errorf("identity: finish passkey registration: %w", err)
		}
		if n > 0 {
			return errs.Conflictf("This passkey is already registered.")
		}
		aaguid, err := uuid.FromBytes(cred.Authenticator.AAGUID)
		if err != nil {
			return errs.Wrap(fmt.Errorf("identity: finish passkey registration: AAGUID: %w", err), errs.Invalid, msgRegisterFailed)
		}
		transports := make([]string, 0, len(cred.Transport))
		for _, t := range cred.Transport {
			transports = append(transports, string(t))
		}
		pk = &Passkey{
			OrgID: a.OrgID, AccountID: a.ID, ID: id, Name: name, AAGUID: aaguid.String(),
			Transports: transports, Attachment: string(cred.Authenticator.Attachment),
			SignCount: cred.Authenticator.SignCount, UserVerified: cred.Flags.UserVerified,
			BackupEligible: cred.Flags.BackupEligible, BackedUp: cred.Flags.BackupState,
			CreatedAt: p.now().UTC(),
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webauthn_credentials (org_id, id, account_id, name, public_key, sign_count,
			transports, aaguid, attachment, user_verified, backup_eligible, backup_state, attestation_format,
			attestation_object, client_data_json, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			pk.OrgID, pk.ID, pk.AccountID, pk.Name, cred.PublicKey, int64(pk.SignCount),
			strings.Join(pk.Transports, ","), pk.AAGUID, pk.Attachment, pk.UserVerified, pk.BackupEligible, pk.BackedUp,
			cred.AttestationFormat, cred.Attestation.Object, cred.Attestation.ClientDataJSON, pk.CreatedAt); err != nil {
			return fmt.Errorf("identity: store passkey: %w", err)
		}
		return record(ctx, p.Audit, tx, a.OrgID, a.ID, "passkey registered: "+pk.Name)
	})
	if err != nil {
		return nil, err
	}
	return pk, nil
}

// BeginSignIn begins a sign-in with a passkey and no user name in the
// organisation: the options carry no allowCredentials, so the browser
// offers the discoverable credentials it holds for careloop.
func (p *Passkeys) BeginSignIn(ctx context.Context, orgID string) (*PasskeyCeremony, error) {
	assertion, session, err := p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("identity: begin passkey sign-in: %w", err)
	}
	var c *PasskeyCeremony
	err = p.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err = p.saveCeremonyTx(ctx, tx, orgID, ceremonySignIn, "", session, assertion.Response)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FinishSignIn verifies the browser's answer (the
// AuthenticationResponseJSON) to the sign-in ceremony begun for the
// organisation and returns who signed in. The credential is looked up by
// its id within the organisation and must belong to the account its user
// handle names; the signature, challenge, origin and relying party must
// verify; and the signature counter must advance unless the authenticator
// does not count. A counter that does not advance flags the passkey as
// possibly cloned and refuses it, now and afterwards. On success the
// counter and last use are stored. The ceremony is used up whatever the
// outcome. Every failure is an errs.Unauthorized; an unknown credential, one
// of another organisation and a removed one fail alike.
func (p *Passkeys) FinishSignIn(ctx context.Context, orgID, ceremonyID string, response []byte) (*PasskeySignIn, error) {
	session, err := p.takeCeremony(ctx, orgID, ceremonyID, ceremonySignIn, "")
	if err != nil {
		return nil, errs.Wrap(err, errs.Unauthorized, msgPasskeyExpired)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, errs.Wrap(fmt.Errorf("identity: passkey sign-in: %w", webauthnCause(err)), errs.Unauthorized, msgPasskeyNotVerified)
	}
	var owner *passkeyOwner
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		o, err := p.credentialOwner(ctx, orgID, rawID)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(o.user.handle, userHandle) {
			return nil, errors.New("the user handle is not the credential owner's")
		}
		owner = o
		return o.user, nil
	}
	_, cred, err := p.wa.ValidatePasskeyLogin(handler, *session, parsed)
	if err != nil {
		return nil, p.signInError(ctx, orgID, parsed.RawID, err)
	}
	return p.recordUse(ctx, owner, cred, parsed)
}

// BeginSecondFactor begins a sign-in with one of a's registered passkeys,
// for a person who has already named their account (a second factor after
// the password, or a step-up). The options list a's credentials in
// allowCredentials. It returns an errs.NotFound when a has no usable passkey.
func (p *Passkeys) BeginSecondFactor(ctx context.Context, a *Account) (*PasskeyCeremony, error) {
	var c *PasskeyCeremony
	err := p.db.InTx(ctx, func(tx *sql.Tx) error {
		user, err := p.accountUserQ(ctx, tx, a)
		if err != nil {
			return err
		}
		if len(user.creds) == 0 {
			return errs.NotFoundf("This account has no passkey.")
		}
		assertion, session, err := p.wa.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationPreferred))
		if err != nil {
			return fmt.Errorf("identity: begin passkey second factor: %w", err)
		}
		c, err = p.saveCeremonyTx(ctx, tx, a.OrgID, ceremonySecondFactor, a.ID, session, assertion.Response)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FinishSecondFactor verifies the browser's answer to the ceremony begun by
// BeginSecondFactor for a, with the same checks and counter rule as
// FinishSignIn, and the credential must be one of a's. Every failure is an
// errs.Unauthorized.
func (p *Passkeys) FinishSecondFactor(ctx context.Context, a *Account, ceremonyID string, response []byte) (*PasskeySignIn, error) {
	session, err := p.takeCeremony(ctx, a.OrgID, ceremonyID, ceremonySecondFactor, a.ID)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unauthorized, msgPasskeyExpired)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, errs.Wrap(fmt.Errorf("identity: passkey second factor: %w", webauthnCause(err)), errs.Unauthorized, msgPasskeyNotVerified)
	}
	user, err := p.accountUserQ(ctx, p.db.Read, a)
	if err != nil {
		return nil, err
	}
	cred, err := p.wa.ValidateLogin(user, *session, parsed)
	if err != nil {
		return nil, p.signInError(ctx, a.OrgID, parsed.RawID, err)
	}
	return p.recordUse(ctx, &passkeyOwner{orgID: a.OrgID, accountID: a.ID, user: user}, cred, parsed)
}

// List returns the account's passkeys, oldest first. An account of another
// organisation has none.
func (p *Passkeys) List(ctx context.Context, orgID, accountID string) ([]Passkey, error) {
	rows, err := p.db.Read.QueryContext(ctx, `SELECT id, name, transports, aaguid, attachment, sign_count, user_verified,
		backup_eligible, backup_state, possibly_cloned, created_at, last_used_at
		FROM webauthn_credentials WHERE org_id = $1 AND account_id = $2 ORDER BY created_at, id`, orgID, accountID)
	if err != nil {
		return nil, fmt.Errorf("identity: list passkeys: %w", err)
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		pk := Passkey{OrgID: orgID, AccountID: accountID}
		var transports string
		var count int64
		var lastUsed sql.NullTime
		if err := rows.Scan(&pk.ID, &pk.Name, &transports, &pk.AAGUID, &pk.Attachment, &count, &pk.UserVerified,
			&pk.BackupEligible, &pk.BackedUp, &pk.PossiblyCloned, &pk.CreatedAt, &lastUsed); err != nil {
			return nil, fmt.Errorf("identity: list passkeys: %w", err)
		}
		pk.SignCount = uint32(count)
		pk.Transports = splitTransports(transports)
		pk.CreatedAt = pk.CreatedAt.UTC()
		if lastUsed.Valid {
			t := lastUsed.Time.UTC()
			pk.LastUsedAt = &t
		}
		out = append(out, pk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: list passkeys: %w", err)
	}
	return out, nil
}

// Rename sets the name of the account's passkey id. It returns an
// errs.Invalid for an empty or overlong name and an errs.NotFound when the
// account has no such passkey.
func (p *Passkeys) Rename(ctx context.Context, orgID, accountID, id, name string) error {
	name, err := passkeyName(name, "")
	if err != nil {
		return err
	}
	res, err := p.db.Write.ExecContext(ctx, "UPDATE webauthn_credentials SET name = $4 WHERE org_id = $1 AND account_id = $2 AND id = $3",
		orgID, accountID, id, name)
	return passkeyChanged(res, err, "rename")
}

// Remove deletes the account's passkey id; it can no longer sign in. It
// returns an errs.NotFound when the account has no such passkey.
func (p *Passkeys) Remove(ctx context.Context, orgID, accountID, id string) error {
	return p.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webauthn_credentials WHERE org_id = $1 AND account_id = $2 AND id = $3",
			orgID, accountID, id)
		if err := passkeyChanged(res, err, "remove"); err != nil {
			return err
		}
		return record(ctx, p.Audit, tx, orgID, accountID, "passkey removed")
	})
}

func passkeyChanged(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("identity: %s passkey: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("identity: %s passkey: %w", what, err)
	}
	if n == 0 {
		return errs.NotFoundf(msgPasskeyNotFound)
	}
	return nil
}

// saveCeremonyTx stores session under a new ceremony id and returns the
// ceremony with options as its JSON. It also deletes expired ceremonies.
func (p *Passkeys) saveCeremonyTx(ctx context.Context, tx *sql.Tx, orgID, kind, accountID string, session *webauthn.SessionData, options any) (*PasskeyCeremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("identity: passkey options: %w", err)
	}
	state, err := json.Marshal(session)
	if err != nil {
		return nil, fmt.Errorf("identity: passkey ceremony: %w", err)
	}
	now := p.now().UTC()
	c := &PasskeyCeremony{ID: rand.Text(), Options: opts, ExpiresAt: now.Add(p.ttl)}
	if _, err := tx.ExecContext(ctx, "DELETE FROM webauthn_ceremonies WHERE expires_at < $1", now); err != nil {
		return nil, fmt.Errorf("identity: purge passkey ceremonies: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (org_id, id, kind, account_id, session_data, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, orgID, c.ID, kind, accountID, string(state), c.ExpiresAt); err != nil {
		return nil, fmt.Errorf("identity: save passkey ceremony: %w", err)
	}
	return c, nil
}

// takeCeremony deletes the ceremony and returns its session if it is of the
// kind, for the account, and not expired. The deletion stands whatever the
// outcome, so a ceremony is finished at most once. Errors are internal
// causes; callers pick the code.
func (p *Passkeys) takeCeremony(ctx context.Context, orgID, id, kind, accountID string) (*webauthn.SessionData, error) {
	var gotKind, gotAccount, state string
	var expires time.Time
	err := p.db.Write.QueryRowContext(ctx, `DELETE FROM webauthn_ceremonies WHERE org_id = $1 AND id = $2
		RETURNING kind, account_id, session_data, expires_at`, orgID, id).Scan(&gotKind, &gotAccount, &state, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("identity: passkey ceremony unknown or already finished")
	}
	if err != nil {
		return nil, fmt.Errorf("identity: take passkey ceremony: %w", err)
	}
	switch {
	case gotKind != kind:
		return nil, fmt.Errorf("identity: passkey ceremony is a %s, not a %s", gotKind, kind)
	case gotAccount != accountID:
		return nil, errors.New("identity: passkey ceremony was begun for another account")
	case !p.now().Before(expires):
		return nil, fmt.Errorf("identity: passkey ceremony expired at %s", expires.UTC().Format(time.RFC3339))
	}
	session := new(webauthn.SessionData)
	if err := json.Unmarshal([]byte(state), session); err != nil {
		return nil, fmt.Errorf("identity: passkey ceremony: %w", err)
	}
	return session, nil
}

// passkeyOwner is the account a credential belongs to, with that one
// credential.
type passkeyOwner struct {
	orgID, accountID string
	user             *passkeyUser
}

// errUnknownPasskey is the cause for a credential not in the organisation.
var errUnknownPasskey = errors.New("no such credential in the organisation")

// errClonedPasskey is the cause for a credential flagged as possibly cloned.
var errClonedPasskey = errors.New("the credential is flagged as possibly cloned")

// credentialOwner looks up the credential rawID in the organisation and
// its account's user handle.
func (p *Passkeys) credentialOwner(ctx context.Context, orgID string, rawID []byte) (*passkeyOwner, error) {
	id := base64.RawURLEncoding.EncodeToString(rawID)
	var accountID string
	var handle []byte
	var cloned bool
	err := p.db.Read.QueryRowContext(ctx, `SELECT c.account_id, h.user_handle, c.possibly_cloned
		FROM webauthn_credentials c JOIN webauthn_user_handles h ON h.org_id = c.org_id AND h.account_id = c.account_id
		WHERE c.org_id = $1 AND c.id = $2`, orgID, id).Scan(&accountID, &handle, &cloned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnknownPasskey
	}
	if err != nil {
		return nil, fmt.Errorf("identity: look up passkey: %w", err)
	}
	if cloned {
		return nil, errClonedPasskey
	}
	cred, err := passkeyCredentialQ(ctx, p.db.Read, orgID, id)
	if err != nil {
		return nil, err
	}
	return &passkeyOwner{orgID: orgID, accountID: accountID, user: &passkeyUser{handle: handle, creds: []webauthn.Credential{*cred}}}, nil
}

// accountUserQ returns a as the library's user with its usable credentials.
func (p *Passkeys) accountUserQ(ctx context.Context, q passkeyQuerier, a *Account) (*passkeyUser, error) {
	var handle []byte
	err := q.QueryRowContext(ctx, "SELECT user_handle FROM webauthn_user_handles WHERE org_id = $1 AND account_id = $2",
		a.OrgID, a.ID).Scan(&handle)
	if errors.Is(err, sql.ErrNoRows) {
		return &passkeyUser{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: passkey user handle: %w", err)
	}
	creds, err := passkeyCredentialsQ(ctx, q, a.OrgID, a.ID)
	if err != nil {
		return nil, err
	}
	return &passkeyUser{handle: handle, name: a.Email, displayName: cmp.Or(a.DisplayName, a.Email), creds: creds}, nil
}

// signInError turns a failed assertion into the errs.Unauthorized clients
// see. A credential flagged as possibly cloned is told so.
func (p *Passkeys) signInError(ctx context.Context, orgID string, rawID []byte, err error) error {
	cause := fmt.Errorf("identity: passkey sign-in in %s with credential %s: %w", orgID,
		base64.RawURLEncoding.EncodeToString(rawID), webauthnCause(err))
	if errors.Is(err, errClonedPasskey) {
		return errs.Wrap(cause, errs.Unauthorized, msgPasskeyCloned)
	}
	return errs.Wrap(cause, errs.Unauthorized, msgPasskeyNotVerified)
}

// recordUse applies the counter rule to a verified assertion and stores the
// new counter, flags and last use, then returns the sign-in.
func (p *Passkeys) recordUse(ctx context.Context, o *passkeyOwner, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (*PasskeySignIn, error) {
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	count := parsed.Response.AuthenticatorData.Counter
	cloned := func(why string) error {
		if _, err := p.db.Write.ExecContext(ctx, "UPDATE webauthn_credentials SET possibly_cloned = $3 WHERE org_id = $1 AND id = $2",
			o.orgID, id, true); err != nil {
			return fmt.Errorf("identity: flag passkey %s as cloned: %w", id, err)
		}
		return errs.Wrap(fmt.Errorf("identity: passkey %s of account %s in %s: %s", id, o.accountID, o.orgID, why), errs.Unauthorized, msgPasskeyCloned)
	}
	if cred.Authenticator.CloneWarning {
		return nil, cloned(fmt.Sprintf("signature counter %d does not advance the stored one", count))
	}
	now := p.now().UTC()
	// The counter condition is checked again in the update, so two
	// assertions racing with one counter value cannot both succeed.
	res, err := p.db.Write.ExecContext(ctx, `UPDATE webauthn_credentials SET sign_count = $3, backup_state = $4,
		user_verified = $5, last_used_at = $6
		WHERE org_id = $1 AND id = $2 AND possibly_cloned = $7 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))`,
		o.orgID, id, int64(cred.Authenticator.SignCount), cred.Flags.BackupState, cred.Flags.UserVerified, now, false)
	if err != nil {
		return nil, fmt.Errorf("identity: record passkey use: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("identity: record passkey use: %w", err)
	} else if n == 0 {
		// Removed meanwhile, or another assertion with this counter value
		// got there first.
		if _, err := passkeyCredentialQ(ctx, p.db.Read, o.orgID, id); errors.Is(err, errUnknownPasskey) {
			return nil, errs.Wrap(fmt.Errorf("identity: passkey %s removed during sign-in", id), errs.Unauthorized, msgPasskeyNotVerified)
		}
		return nil, cloned(fmt.Sprintf("signature counter %d lost a race with another assertion", count))
	}
	acct, err := passkeyAccountQ(ctx, p.db.Read, o.orgID, o.accountID)
	if err != nil {
		return nil, err
	}
	pks, err := p.List(ctx, o.orgID, o.accountID)
	if err != nil {
		return nil, err
	}
	out := &PasskeySignIn{Account: acct, UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified()}
	for i := range pks {
		if pks[i].ID == id {
			out.Passkey = &pks[i]
		}
	}
	if out.Passkey == nil {
		return nil, errs.Wrap(fmt.Errorf("identity: passkey %s removed during sign-in", id), errs.Unauthorized, msgPasskeyNotVerified)
	}
	return out, nil
}

// passkeyQuerier is what both *sql.DB and *sql.Tx offer.
type passkeyQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// passkeyUserHandleTx returns the account's user handle, creating a random
// one on first use.
func passkeyUserHandleTx(ctx context.Context, tx *sql.Tx, orgID, accountID string, now time.Time) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("identity: passkey user handle: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webauthn_user_handles (org_id, account_id, user_handle, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, account_id) DO NOTHING`, orgID, accountID, fresh, now.UTC()); err != nil {
		return nil, fmt.Errorf("identity: passkey user handle: %w", err)
	}
	var handle []byte
	if err := tx.QueryRowContext(ctx, "SELECT user_handle FROM webauthn_user_handles WHERE org_id = $1 AND account_id = $2",
		orgID, accountID).Scan(&handle); err != nil {
		return nil, fmt.Errorf("identity: passkey user handle: %w", err)
	}
	return handle, nil
}

const passkeyCredentialColumns = `id, public_key, sign_count, transports, aaguid, attachment, user_verified,
	backup_eligible, backup_state, attestation_format, attestation_object, client_data_json`

// passkeyCredentialsQ returns the account's credentials that may sign in,
// in the library's form.
func passkeyCredentialsQ(ctx context.Context, q passkeyQuerier, orgID, accountID string) ([]webauthn.Credential, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+passkeyCredentialColumns+` FROM webauthn_credentials
		WHERE org_id = $1 AND account_id = $2 AND possibly_cloned = $3 ORDER BY created_at, id`, orgID, accountID, false)
	if err != nil {
		return nil, fmt.Errorf("identity: read passkeys: %w", err)
	}
	defer rows.Close()
	var out []webauthn.Credential
	for rows.Next() {
		c, err := scanPasskeyCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: read passkeys: %w", err)
	}
	return out, nil
}

func passkeyCredentialQ(ctx context.Context, q passkeyQuerier, orgID, id string) (*webauthn.Credential, error) {
	c, err := scanPasskeyCredential(q.QueryRowContext(ctx, "SELECT "+passkeyCredentialColumns+
		" FROM webauthn_credentials WHERE org_id = $1 AND id = $2", orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnknownPasskey
	}
	return c, err
}

func scanPasskeyCredential(row interface{ Scan(...any) error }) (*webauthn.Credential, error) {
	var id, transports, aaguid, attachment, format string
	var count int64
	var uv, be, bs bool
	c := &webauthn.Credential{}
	if err := row.Scan(&id, &c.PublicKey, &count, &transports, &aaguid, &attachment, &uv, &be, &bs,
		&format, &c.Attestation.Object, &c.Attestation.ClientDataJSON); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("identity: read passkey: %w", err)
	}
	rawID, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return nil, fmt.Errorf("identity: read passkey %s: %w", id, err)
	}
	g, err := uuid.Parse(aaguid)
	if err != nil {
		return nil, fmt.Errorf("identity: read passkey %s: AAGUID: %w", id, err)
	}
	flags := protocol.FlagUserPresent
	if uv {
		flags |= protocol.FlagUserVerified
	}
	if be {
		flags |= protocol.FlagBackupEligible
	}
	if bs {
		flags |= protocol.FlagBackupState
	}
	c.ID = rawID
	c.AttestationFormat = format
	c.Flags = webauthn.NewCredentialFlags(flags)
	c.Authenticator = webauthn.Authenticator{AAGUID: g[:], SignCount: uint32(count), Attachment: protocol.AuthenticatorAttachment(attachment)}
	for _, t := range splitTransports(transports) {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c, nil
}

// passkeyAccountQ reads an account by id.
func passkeyAccountQ(ctx context.Context, q passkeyQuerier, orgID, accountID string) (*Account, error) {
	var a Account
	var role string
	err := q.QueryRowContext(ctx, `SELECT org_id, id, email, display_name, role, fhir_ref, created_at
		FROM accounts WHERE org_id = $1 AND id = $2`, orgID, accountID).
		Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.Wrap(fmt.Errorf("identity: passkey owner %s gone", accountID), errs.Unauthorized, msgPasskeyNotVerified)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read passkey owner: %w", err)
	}
	a.Role = Role(role)
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

func splitTransports(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// passkeyName checks a user-chosen passkey name; an empty one becomes def,
// or is an error when def is empty.
func passkeyName(name, def string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = def
	}
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxPasskeyName ||
		strings.ContainsFunc(name, unicode.IsControl) {
		return "", errs.Invalidf("name", "a passkey needs a name of 1 to %d characters", maxPasskeyName)
	}
	return name, nil
}

// webauthnCause adds the library's developer detail, which its Error
// method leaves out, to err for the logs.
func webauthnCause(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w (%s)", err, strings.Join(strings.Fields(pe.DevInfo), " "))
	}
	return err
}
