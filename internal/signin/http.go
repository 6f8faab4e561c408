package signin

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// Orgs finds organisations by slug.
type Orgs interface {
	BySlug(ctx context.Context, slug string) (*tenant.Organization, error)
}

// Enrollment enrolls second factors.
type Enrollment interface {
	BeginTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) (*identity.TOTPEnrollment, error)
	ConfirmTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) error
	GenerateRecoveryCodesTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) ([]string, error)
}

// StepUpWithin is how recent a second factor must be before sensitive
// actions: changing factors, ending other sessions.
const StepUpWithin = 10 * time.Minute

// API serves sign-in, second factors and sessions as JSON under /auth.
type API struct {
	Service  *Service
	Orgs     Orgs
	Accounts AccountsByID
	Enroll   Enrollment
	Passkeys PasskeyService // nil: no passkey routes
	Cookies  session.Cookies
	// Lifecycle: invitations, activation, registration, email
	// verification and recovery; nil: none of their routes.
	Lifecycle *Lifecycle
}

// Register adds the routes to mux. Every route but sign-in needs the
// session cookie that sign-in sets.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /auth/signin", a.signIn)
	mux.HandleFunc("POST /auth/signin/factor", a.factor)
	mux.HandleFunc("POST /auth/signout", a.signOut)
	mux.HandleFunc("GET /auth/sessions", a.withSession(a.listSessions))
	mux.HandleFunc("DELETE /auth/sessions/{id}", a.withSession(a.endSession))
	mux.HandleFunc("POST /auth/sessions/end-others", a.withSession(a.endOthers))
	mux.HandleFunc("POST /auth/factors/totp", a.withSession(a.beginTOTP))
	mux.HandleFunc("POST /auth/factors/totp/confirm", a.withSession(a.confirmTOTP))
	mux.HandleFunc("POST /auth/factors/recovery-codes", a.withSession(a.recoveryCodes))
	a.registerPasskeys(mux)
	a.registerLifecycle(mux)
}

type signInRequest struct {
	Org      string `json:"org"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// signInResponse says where the sign-in stands.
type signInResponse struct {
	// Stage is "factor" (enter a code next) or "signed-in".
	Stage      string `json:"stage"`
	MustEnroll bool   `json:"must_enroll,omitempty"`
	Session    string `json:"session,omitempty"` // public id
}

func (a *API) signIn(w http.ResponseWriter, r *http.Request) {
	var in signInRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if in.Org == "" || in.Email == "" || in.Password == "" {
		httpx.WriteError(w, r, errs.Invalidf("", "Enter your organisation, email and password."))
		return
	}
	org, err := a.Orgs.BySlug(r.Context(), in.Org)
	if err != nil {
		// Same answer as a wrong password: no probing for organisations.
		if errs.CodeOf(err) == errs.NotFound {
			err = WrongCredentials()
		}
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Service.Password(r.Context(), Attempt{OrgID: org.ID, Email: in.Email, Password: in.Password,
		Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	a.answer(w, out)
}

func (a *API) answer(w http.ResponseWriter, out *Outcome) {
	resp := signInResponse{Stage: "signed-in", MustEnroll: out.MustEnroll}
	if out.NeedsFactor {
		resp.Stage = "factor"
	} else {
		resp.Session = out.Session.ID
	}
	_ = httpx.WriteJSON(w, http.StatusOK, resp)
}

func (a *API) factor(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Service.SecondFactor(r.Context(), a.Cookies.Secret(r), in.Code, httpx.RemoteHost(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	a.answer(w, out)
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request) {
	if secret := a.Cookies.Secret(r); secret != "" {
		if err := a.Service.SignOut(r.Context(), secret, httpx.RemoteHost(r)); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
	}
	a.Cookies.Clear(w)
	w.WriteHeader(http.StatusNoContent)
}

// withSession runs h with the request's open session, or answers 401.
func (a *API) withSession(h func(w http.ResponseWriter, r *http.Request, se *session.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The cookie stays: it may belong to a sign-in awaiting its factor.
		se, err := a.Service.Sessions.Find(r.Context(), a.Cookies.Secret(r))
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		h(w, r, se)
	}
}

// stepUp refuses a sensitive action unless a second factor was verified in
// the session within StepUpWithin. An account with no factor yet may
// enroll its first one.
func (a *API) stepUp(ctx context.Context, se *session.Session) error {
	if se.FactorWithin(a.Service.Sessions.Now(), StepUpWithin) {
		return nil
	}
	has, err := a.Service.hasSecondFactor(ctx, &identity.Account{OrgID: se.OrgID, ID: se.AccountID})
	if err != nil {
		return err
	}
	if !has {
		return nil
	}
	return errs.E(errs.Forbidden, "For your security, confirm it is you: sign in again with your second factor, then retry within 10 minutes.")
}

type sessionView struct {
	ID           string    `json:"id"`
	Current      bool      `json:"current"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	UserAgent    string    `json:"user_agent"`
	Address      string    `json:"address"`
	SecondFactor bool      `json:"second_factor"`
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request, se *session.Session) {
	list, err := a.Service.Sessions.List(r.Context(), se.OrgID, se.AccountID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]sessionView, 0, len(list))
	for _, s := range list {
		out = append(out, sessionView{ID: s.ID, Current: s.ID == se.ID, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt,
			ExpiresAt: s.ExpiresAt, UserAgent: s.UserAgent, Address: s.Address, SecondFactor: !s.FactorAt.IsZero()})
	}
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (a *API) endSession(w http.ResponseWriter, r *http.Request, se *session.Session) {
	id := r.PathValue("id")
	if err := a.Service.Sessions.End(r.Context(), se.OrgID, se.AccountID, id); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if id == se.ID {
		a.Cookies.Clear(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) endOthers(w http.ResponseWriter, r *http.Request, se *session.Session) {
	n, err := a.Service.Sessions.EndAll(r.Context(), se.OrgID, se.AccountID, se.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"ended": n})
}

func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.stepUp(r.Context(), se); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var e *identity.TOTPEnrollment
	err := a.Service.DB.InTx(r.Context(), func(tx *sql.Tx) (err error) {
		e, err = a.Enroll.BeginTOTPTx(r.Context(), tx, se.OrgID, se.AccountID)
		return err
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"secret": e.Secret, "uri": e.URI, "expires": e.Expires})
}

func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	err := a.Service.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		return a.Enroll.ConfirmTOTPTx(r.Context(), tx, se.OrgID, se.AccountID, in.Code)
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// A privilege change: a new secret, with the factor just proven.
	_, fresh, err := a.Service.Sessions.Renew(r.Context(), a.Cookies.Secret(r), true)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, fresh)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) recoveryCodes(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if !se.FactorWithin(a.Service.Sessions.Now(), StepUpWithin) {
		httpx.WriteError(w, r, errs.E(errs.Forbidden, "Set up an authenticator app first, or sign in again with your second factor, then retry within 10 minutes."))
		return
	}
	var codes []string
	err := a.Service.DB.InTx(r.Context(), func(tx *sql.Tx) (err error) {
		codes, err = a.Enroll.GenerateRecoveryCodesTx(r.Context(), tx, se.OrgID, se.AccountID)
		return err
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"codes": codes})
}
