package signin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// Who may do what in the account lifecycle.
var (
	inviters   = []identity.Role{identity.RoleAdmin}
	codeMakers = []identity.Role{identity.RoleAdmin, identity.RoleCoordinator, identity.RoleClinician, identity.RoleNurse}
	matchers   = []identity.Role{identity.RoleAdmin, identity.RoleCoordinator}
)

func (a *API) registerLifecycle(mux *http.ServeMux) {
	if a.Lifecycle == nil {
		return
	}
	mux.HandleFunc("POST /auth/invitations", a.withSession(a.invite))
	mux.HandleFunc("GET /auth/invitations", a.withSession(a.listInvitations))
	mux.HandleFunc("DELETE /auth/invitations/{id}", a.withSession(a.revokeInvitation))
	mux.HandleFunc("POST /auth/invitations/accept", a.acceptInvitation)
	mux.HandleFunc("POST /auth/activation-codes", a.withSession(a.activationCode))
	mux.HandleFunc("POST /auth/activate", a.activate)
	mux.HandleFunc("POST /auth/activate/link", a.withSession(a.activateLink))
	mux.HandleFunc("POST /auth/register", a.register)
	mux.HandleFunc("GET /auth/registrations", a.withSession(a.listRegistrations))
	mux.HandleFunc("POST /auth/registrations/{id}/link", a.withSession(a.linkRegistration))
	mux.HandleFunc("POST /auth/email/verify", a.verifyEmail)
	mux.HandleFunc("POST /auth/email/resend", a.withSession(a.resendVerification))
	mux.HandleFunc("POST /auth/email/change", a.withSession(a.changeEmail))
	mux.HandleFunc("POST /auth/recovery", a.recovery)
	mux.HandleFunc("POST /auth/recovery/complete", a.completeRecovery)
}

// allow refuses an action to a session whose role is not among roles, or
// whose second factor was not verified in it (within StepUpWithin when
// recent): staff act on other people's accounts only with their own
// second factor.
func (a *API) allow(se *session.Session, recent bool, roles []identity.Role) error {
	if !slices.Contains(roles, identity.Role(se.Role)) {
		return errs.E(errs.Forbidden, "Your role does not allow this.")
	}
	switch {
	case se.FactorAt.IsZero():
		return errs.E(errs.Forbidden, "Enroll a second factor first, then sign in with it.")
	case recent && !se.FactorWithin(a.Service.Sessions.Now(), StepUpWithin):
		return errs.E(errs.Forbidden, "For your security, confirm it is you: sign in again with your second factor, then retry within 10 minutes.")
	}
	return nil
}

// orgLister lists organisations; *tenant.Store is one.
type orgLister interface {
	List(ctx context.Context) ([]tenant.Organization, error)
}

// orgByID returns the organisation of a session, for the links of emails.
func (a *API) orgByID(ctx context.Context, id string) (*tenant.Organization, error) {
	l, ok := a.Orgs.(orgLister)
	if !ok {
		return nil, fmt.Errorf("signin: the organisations given cannot be listed")
	}
	list, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == id {
			return &list[i], nil
		}
	}
	return nil, errs.NotFoundf("no organisation %q", id)
}

// orgBySlug returns the organisation of a request that names it, or the
// error given for an unknown one (the same as for a wrong token, so that
// nobody learns which organisations exist).
func (a *API) orgBySlug(ctx context.Context, slug string, unknown error) (*tenant.Organization, error) {
	if slug == "" {
		return nil, errs.Invalidf("org", "Say which organisation (org).")
	}
	o, err := a.Orgs.BySlug(ctx, slug)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, unknown
	}
	return o, err
}

// decode reads the JSON body into v, answering the error itself.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := httpx.DecodeJSON(w, r, v); err != nil {
		httpx.WriteError(w, r, err)
		return false
	}
	return true
}

type invitationView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Name      string    `json:"name,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func viewInvitation(t *identity.Token) invitationView {
	return invitationView{ID: t.ID, Email: t.Email, Role: string(t.Role), Name: t.DisplayName, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

func (a *API) invite(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Email string `json:"email"`
		Role  string `json:"role"`
		Name  string `json:"name"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.allow(se, true, inviters); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	org, err := a.orgByID(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tok, _, err := a.Lifecycle.Invite(r.Context(), org, Invitation{Email: in.Email, Role: identity.Role(in.Role), Name: in.Name, By: se.AccountID})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusCreated, viewInvitation(tok))
}

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.allow(se, false, inviters); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	list, err := a.Lifecycle.Invitations(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]invitationView, 0, len(list))
	for i := range list {
		out = append(out, viewInvitation(&list[i]))
	}
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"invitations": out})
}

func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.allow(se, true, inviters); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Lifecycle.RevokeInvitation(r.Context(), se.OrgID, r.PathValue("id")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org      string `json:"org"`
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !decode(w, r, &in) {
		return
	}
	org, err := a.orgBySlug(r.Context(), in.Org, identity.InvalidLink())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Lifecycle.AcceptInvitation(r.Context(), org, Acceptance{Token: in.Token, Name: in.Name, Password: in.Password,
		Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	a.answer(w, out)
}

func (a *API) activationCode(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Patient string `json:"patient"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.allow(se, false, codeMakers); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Lifecycle.CreateActivationCode(r.Context(), se.OrgID, in.Patient, se.AccountID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusCreated, map[string]any{"code": c.Code, "patient": c.Patient, "expires_at": c.ExpiresAt})
}

// activationResponse answers an activation: signed in, with a second
// factor offered.
type activationResponse struct {
	Stage       string `json:"stage"`
	Session     string `json:"session"`
	OfferFactor bool   `json:"offer_factor"`
}

func (a *API) activate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org       string `json:"org"`
		Code      string `json:"code"`
		BirthDate string `json:"birth_date"`
		Email     string `json:"email"`
		Password  string `json:"password"`
		Name      string `json:"name"`
	}
	if !decode(w, r, &in) {
		return
	}
	org, err := a.orgBySlug(r.Context(), in.Org, identity.WrongActivation())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Lifecycle.Activate(r.Context(), org, Activation{Code: in.Code, BirthDate: in.BirthDate, Email: in.Email,
		Password: in.Password, Name: in.Name, Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	_ = httpx.WriteJSON(w, http.StatusCreated, activationResponse{Stage: "signed-in", Session: out.Session.ID, OfferFactor: true})
}

func (a *API) activateLink(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Code      string `json:"code"`
		BirthDate string `json:"birth_date"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.Lifecycle.Link(r.Context(), se, in.Code, in.BirthDate, httpx.RemoteHost(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkEmail is the one answer to a registration and to a recovery
// request, whether or not an account exists.
func checkEmail(w http.ResponseWriter, msg string) {
	_ = httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "check-email", "message": msg})
}

const (
	registeredMessage = "Thank you. We sent an email to that address: follow its link to confirm it, then sign in."
	recoveryMessage   = "If an account uses that email, we sent it a link to set a new password. It works for 30 minutes."
)

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org       string `json:"org"`
		Email     string `json:"email"`
		Password  string `json:"password"`
		Name      string `json:"name"`
		BirthDate string `json:"birth_date"`
	}
	if !decode(w, r, &in) {
		return
	}
	org, err := a.orgBySlug(r.Context(), in.Org, errs.Invalidf("org", "There is no organisation %q on this careloop.", in.Org))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	err = a.Lifecycle.Register(r.Context(), org, Registration{Email: in.Email, Password: in.Password, Name: in.Name,
		BirthDate: in.BirthDate, Address: httpx.RemoteHost(r)})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	checkEmail(w, registeredMessage)
}

type registrationView struct {
	Account   string    `json:"account"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	BirthDate string    `json:"birth_date"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *API) listRegistrations(w http.ResponseWriter, r *http.Request, se *session.Session) {
	if err := a.allow(se, false, matchers); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	list, err := a.Lifecycle.Registrations(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]registrationView, 0, len(list))
	for _, g := range list {
		out = append(out, registrationView{Account: g.Account.ID, Email: g.Account.Email, Name: g.Account.DisplayName,
			BirthDate: g.BirthDate, CreatedAt: g.CreatedAt})
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"registrations": out})
}

func (a *API) linkRegistration(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Patient string `json:"patient"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.allow(se, false, matchers); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	org, err := a.orgByID(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Lifecycle.LinkRegistration(r.Context(), org, r.PathValue("id"), in.Patient); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org   string `json:"org"`
		Token string `json:"token"`
	}
	if !decode(w, r, &in) {
		return
	}
	org, err := a.orgBySlug(r.Context(), in.Org, identity.InvalidLink())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Lifecycle.VerifyEmail(r.Context(), org, in.Token, httpx.RemoteHost(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"verified": true})
}

func (a *API) resendVerification(w http.ResponseWriter, r *http.Request, se *session.Session) {
	org, err := a.orgByID(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	sent, err := a.Lifecycle.ResendVerification(r.Context(), org, se)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if !sent {
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"verified": true})
		return
	}
	_ = httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"verified": false, "sent": true})
}

func (a *API) changeEmail(w http.ResponseWriter, r *http.Request, se *session.Session) {
	var in struct {
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := a.stepUp(r.Context(), se); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	org, err := a.orgByID(r.Context(), se.OrgID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Lifecycle.ChangeEmail(r.Context(), org, se, in.Email); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	checkEmail(w, "We sent a link to the new address. Your email changes when you follow it.")
}

func (a *API) recovery(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org   string `json:"org"`
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Org == "" {
		httpx.WriteError(w, r, errs.Invalidf("org", "Say which organisation (org)."))
		return
	}
	org, err := a.Orgs.BySlug(r.Context(), in.Org)
	if errs.CodeOf(err) == errs.NotFound {
		org, err = nil, nil // answered like any other
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Lifecycle.RequestRecovery(r.Context(), org, in.Email, httpx.RemoteHost(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	checkEmail(w, recoveryMessage)
}

func (a *API) completeRecovery(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Org      string `json:"org"`
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if !decode(w, r, &in) {
		return
	}
	org, err := a.orgBySlug(r.Context(), in.Org, identity.InvalidLink())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Lifecycle.CompleteRecovery(r.Context(), org, Reset{Token: in.Token, Password: in.Password,
		Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.Cookies.Set(w, out.Secret)
	a.answer(w, out)
}
