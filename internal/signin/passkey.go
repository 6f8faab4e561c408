package signin

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// PasskeyService runs WebAuthn ceremonies; *identity.Passkeys is one.
type PasskeyService interface {
	BeginRegistration(ctx context.Context, a *identity.Account) (*identity.PasskeyCeremony, error)
	FinishRegistration(ctx context.Context, a *identity.Account, ceremonyID string, response []byte, name string) (*identity.Passkey, error)
	BeginSignIn(ctx context.Context, orgID string) (*identity.PasskeyCeremony, error)
	FinishSignIn(ctx context.Context, orgID, ceremonyID string, response []byte) (*identity.PasskeySignIn, error)
	List(ctx context.Context, orgID, accountID string) ([]identity.Passkey, error)
	Remove(ctx context.Context, orgID, accountID, id string) error
}

// AccountsByID finds accounts by id.
type AccountsByID interface {
	ByID(ctx context.Context, orgID, id string) (*identity.Account, error)
}

// PasskeyFactor adapts a PasskeyService to the Passkeys the sign-in
// service asks: a registered passkey counts as a second factor.
type PasskeyFactor struct{ Passkeys PasskeyService }

// HasPasskeys reports whether the account has a usable passkey.
func (f PasskeyFactor) HasPasskeys(ctx context.Context, orgID, accountID string) (bool, error) {
	list, err := f.Passkeys.List(ctx, orgID, accountID)
	if err != nil {
		return false, err
	}
	for _, p := range list {
		if !p.PossiblyCloned {
			return true, nil
		}
	}
	return false, nil
}

// Passkey opens a session for a finished passkey sign-in. A passkey whose
// authenticator verified the person (PIN, biometrics) is a sign-in with two
// factors; one that did not proves possession only, and the session then
// awaits the authenticator-app code when the account has one.
func (s *Service) Passkey(ctx context.Context, in *identity.PasskeySignIn, userAgent, address string) (*Outcome, error) {
	acct := in.Account
	if err := s.Throttle.Check(ctx, acct.OrgID, accountKey(acct.ID)); err != nil {
		return nil, err
	}
	awaits := false
	if !in.UserVerified {
		sum, err := s.Factors.Factors(ctx, acct.OrgID, acct.ID)
		if err != nil {
			return nil, err
		}
		awaits = sum.HasSecondFactor()
	}
	se, secret, err := s.Sessions.Open(ctx, session.New{OrgID: acct.OrgID, AccountID: acct.ID, Role: string(acct.Role),
		FactorVerified: in.UserVerified, AwaitFactor: awaits, UserAgent: userAgent, Address: address})
	if err != nil {
		return nil, err
	}
	out := &Outcome{Account: acct, Session: se, Secret: secret, NeedsFactor: awaits, MustEnroll: !in.UserVerified && !awaits && staff(acct.Role)}
	if !awaits {
		method := "passkey (possession only)"
		if in.UserVerified {
			method = "passkey with user verification"
		}
		if err := s.auditSignIn(ctx, acct, se, secret, method); err != nil {
			return nil, err
		}
		s.noticeNewDevice(ctx, acct, se)
	}
	return out, nil
}

// ceremonyCookie holds the id of a passkey ceremony between its begin and
// finish requests, so that the id never sits in the page.
const ceremonyCookie = "careloop_passkey"

func (a *API) setCeremony(w http.ResponseWriter, c *identity.PasskeyCeremony) {
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: c.ID, Path: "/auth/passkeys", HttpOnly: true,
		Secure: a.Cookies.Secure, SameSite: http.SameSiteStrictMode, Expires: c.ExpiresAt})
}

func (a *API) takeCeremony(w http.ResponseWriter, r *http.Request) string {
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: "", Path: "/auth/passkeys", MaxAge: -1, HttpOnly: true,
		Secure: a.Cookies.Secure, SameSite: http.SameSiteStrictMode})
	if c, err := r.Cookie(ceremonyCookie); err == nil {
		return c.Value
	}
	return ""
}

func (a *API) registerPasskeys(mux *http.ServeMux) {
	if a.Passkeys == nil {
		return
	}
	mux.HandleFunc("POST /auth/passkeys/signin/begin", a.passkeySignInBegin)
	mux.HandleFunc("POST /auth/passkeys/signin/finish", a.passkeySignInFinish)
	mux.HandleFunc("POST /auth/passkeys/register/begin", a.withSession(a.passkeyRegisterBegin))
	mux.HandleFunc("POST /auth/passkeys/register/finish", a.withSession(a.passkeyRegisterFinish))
	mux.HandleFunc("GET /auth/passkeys", a.withSession(a.passkeyList))
	mux.HandleFunc("DELETE /auth/passkeys/{id}", a.withSession(a.passkeyRemove))
}

// orgOf finds the organisation of a slug, or answers the error itself.
func (a *API) orgOf(w http.ResponseWriter, r *http.Request, slug string) (*tenant.Organization, bool) {
	org, err := a.Orgs.BySlug(r.Context(), slug)
	if err != nil {
		httpx.WriteError(w, r, err)
		return nil, false
	}
	return org, true
}

func (a *API) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org string `json:"org"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	org, ok := a.orgOf(w, r, in.Org)
	if !ok {
		return
	}
	c, err := a.Passkeys.BeginSignIn(r.Context(), org.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.setCeremony(w, c)
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"publicKey": c.Options})
}

func (a *API) passkeySignInFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org        string          `json:"org"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	org, ok := a.orgOf(w, r, in.Org)
	if !ok {
		return
	}
	done, err := a.Passkeys.FinishSignIn(r.Context(), org.ID, a.takeCeremony(w, r), in.Credential)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Service.Passkey(r.Context(), done, r.UserAgent(), httpx.RemoteHost(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	a.answer(w, out)
}

func (a *API) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.stepUp(r.Context(), se); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	acct, err := a.Accounts.ByID(r.Context(), se.OrgID, se.AccountID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Passkeys.BeginRegistration(r.Context(), acct)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.setCeremony(w, c)
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"publicKey": c.Options})
}

func (a *API) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	acct, err := a.Accounts.ByID(r.Context(), se.OrgID, se.AccountID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pk, err := a.Passkeys.FinishRegistration(r.Context(), acct, a.takeCeremony(w, r), in.Credential, in.Name)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// A new factor is a privilege change: a new session secret.
	_, fresh, err := a.Service.Sessions.Renew(r.Context(), a.Cookies.Secret(r), false)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, fresh)
	_ = httpx.WriteJSON(w, http.StatusCreated, passkeyView(pk))
}

func passkeyView(p *identity.Passkey) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "created_at": p.CreatedAt.Format(time.RFC3339),
		"last_used_at": p.LastUsedAt, "possibly_cloned": p.PossiblyCloned, "synced": p.BackupEligible}
}

func (a *API) passkeyList(w http.ResponseWriter, r *http.Request, se *session.Session) {
	list, err := a.Passkeys.List(r.Context(), se.OrgID, se.AccountID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for i := range list {
		out = append(out, passkeyView(&list[i]))
	}
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"passkeys": out})
}

func (a *API) passkeyRemove(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.stepUp(r.Context(), se); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Passkeys.Remove(r.Context(), se.OrgID, se.AccountID, r.PathValue("id")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
