package access

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// StepUpWithin is how recent a second factor must be before a proxy grant.
const StepUpWithin = 10 * time.Minute

// AccountsByEmail finds an account of an organisation by email.
type AccountsByEmail interface {
	ByEmail(ctx context.Context, orgID, email string) (*identity.Account, string, error)
}

// API serves proxy grants and break-glass as JSON under /access, for
// signed-in people.
type API struct {
	Users  *Users
	Emails AccountsByEmail
	Log    *slog.Logger
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /access/proxies", a.with(a.grantProxy))
	mux.HandleFunc("GET /access/proxies", a.with(a.listProxies))
	mux.HandleFunc("DELETE /access/proxies/{id}", a.with(a.revokeProxy))
	mux.HandleFunc("POST /access/break-glass", a.with(a.breakGlass))
	mux.HandleFunc("GET /access/break-glass", a.with(a.breakGlassLog))
	mux.HandleFunc("POST /access/break-glass/{id}/review", a.with(a.reviewBreakGlass))
}

func (a *API) with(h func(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := a.Service()
		p, err := s.Authenticate(r)
		if err == nil {
			err = h(w, r, s, p)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

// Service returns the rules the API applies, on the API's dependencies.
func (a *API) Service() *Service {
	return &Service{Users: a.Users, Emails: a.Emails, Log: a.Log}
}

type proxyRequest struct {
	CaregiverEmail string     `json:"caregiver_email"`
	Patient        string     `json:"patient"`
	Reason         string     `json:"reason"`
	ExpiresAt      *time.Time `json:"expires_at"`
}

// grantProxy gives a caregiver access to a patient's record
// (Service.GrantProxy).
func (a *API) grantProxy(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	var in proxyRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	pr, err := s.GrantProxy(r.Context(), p, ProxyGrant(in))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, pr)
}

// listProxies lists grants (Service.ListProxies); staff name the record
// with ?patient=.
func (a *API) listProxies(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	out, err := s.ListProxies(r.Context(), p, r.URL.Query().Get("patient"))
	if err != nil {
		return err
	}
	if out == nil {
		out = []Proxy{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"proxies": out})
}

// revokeProxy ends a grant (Service.RevokeProxy).
func (a *API) revokeProxy(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	if err := s.RevokeProxy(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type breakGlassRequest struct {
	Patient string `json:"patient"`
	Reason  string `json:"reason"`
}

// breakGlass opens a patient's record for emergency access
// (Service.BreakGlass).
func (a *API) breakGlass(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	var in breakGlassRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	b, err := s.BreakGlass(r.Context(), p, in.Patient, in.Reason, httpx.RemoteHost(r))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, b)
}

// breakGlassLog lists emergency accesses for compliance officers;
// ?unreviewed=true keeps those not reviewed yet.
func (a *API) breakGlassLog(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	log, err := s.BreakGlassLog(r.Context(), p, r.URL.Query().Get("unreviewed") == "true")
	if err != nil {
		return err
	}
	if log == nil {
		log = []BreakGlass{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"break_glass": log})
}

// reviewBreakGlass marks an emergency access reviewed, with a note.
func (a *API) reviewBreakGlass(w http.ResponseWriter, r *http.Request, s *Service, p *fhir.Principal) error {
	var in struct {
		Note string `json:"note"`
	}
	if c, ok := callerFrom(p); ok && c.account.Role != identity.RoleCompliance {
		// Refused before the body is read, as before the service existed.
		return errs.Forbiddenf("only compliance officers review emergency access")
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.ReviewBreakGlass(r.Context(), p, r.PathValue("id"), in.Note); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
