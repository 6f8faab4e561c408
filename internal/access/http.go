package access

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

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

func (a *API) with(h func(w http.ResponseWriter, r *http.Request, c *caller) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Users.Authenticate(r)
		if err == nil {
			c, _ := callerFrom(p)
			err = h(w, r, c)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

// patientExists reports an errs.NotFound for an unknown Patient id.
func (a *API) patientExists(ctx context.Context, orgID, id string) error {
	if id == "" {
		return errs.Invalidf("patient", "Name the patient (a Patient id).")
	}
	res, err := a.Users.Records.Search(ctx, orgID, "Patient", url.Values{"_id": {id}}, false)
	if err != nil {
		return err
	}
	if len(res.Matches) == 0 {
		return errs.NotFoundf("Patient/%s is not known", id)
	}
	return nil
}

type proxyRequest struct {
	CaregiverEmail string     `json:"caregiver_email"`
	Patient        string     `json:"patient"`
	Reason         string     `json:"reason"`
	ExpiresAt      *time.Time `json:"expires_at"`
}

// grantProxy gives a caregiver access to a patient's record. Patients
// grant access to their own record; care coordinators, organisation admins
// and the clinicians and nurses who care for the patient grant it on the
// clinic's behalf. Either way the granter must have verified a second
// factor within StepUpWithin.
func (a *API) grantProxy(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in proxyRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	role := c.account.Role
	switch {
	case role == identity.RolePatient:
		if c.reach.self == "" {
			return errs.Forbiddenf("your account is not linked to your record yet")
		}
		if in.Patient != "" && in.Patient != c.reach.self {
			return errs.Forbiddenf("you may grant access to your own record only")
		}
		in.Patient = c.reach.self
	case role == identity.RoleCoordinator || role == identity.RoleAdmin:
	case role == identity.RoleClinician || role == identity.RoleNurse:
		if !c.reach.patients[in.Patient] || c.reach.glass[in.Patient] {
			return errs.Forbiddenf("only the patient's own care team may grant proxy access to their record")
		}
	default:
		return errs.Forbiddenf("a %s may not grant proxy access", role)
	}
	if !c.session.FactorWithin(c.now, StepUpWithin) {
		return errs.E(errs.Forbidden, "Granting proxy access needs a fresh second factor: sign in again with your authenticator app or passkey (enroll one first if you have none), then retry within 10 minutes.")
	}
	if err := a.patientExists(r.Context(), c.account.OrgID, in.Patient); err != nil {
		return err
	}
	email := strings.ToLower(strings.TrimSpace(in.CaregiverEmail))
	if email == "" {
		return errs.Invalidf("caregiver_email", "Enter the email of the caregiver's account.")
	}
	cg, _, err := a.Emails.ByEmail(r.Context(), c.account.OrgID, email)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return errs.Invalidf("caregiver_email", "No account uses %s here: the caregiver must have an account first.", email)
		}
		return err
	}
	if cg.Role != identity.RoleCaregiver && cg.Role != identity.RolePatient {
		return errs.Invalidf("caregiver_email", "%s is a staff account; proxy access is for caregivers and family.", email)
	}
	if cg.ID == c.account.ID || cg.FHIRRef == "Patient/"+in.Patient {
		return errs.Invalidf("caregiver_email", "A patient has access to their own record already.")
	}
	p, err := a.Users.Grants.GrantProxy(r.Context(), c.account.OrgID, cg.ID, in.Patient, c.account.ID, in.Reason, in.ExpiresAt)
	if err != nil {
		return err
	}
	a.Users.Forget(c.account.OrgID, cg.ID)
	a.log().Info("proxy access granted", "org", c.account.OrgID, "by", c.account.ID, "caregiver", cg.ID, "patient", in.Patient)
	return httpx.WriteJSON(w, http.StatusCreated, p)
}

// listProxies lists grants: a patient's to their record and those they
// hold, a caregiver's, or, for staff who reach the patient, those to the
// record named by ?patient=.
func (a *API) listProxies(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, org := r.Context(), c.account.OrgID
	var out []Proxy
	if patient := r.URL.Query().Get("patient"); patient != "" && isStaff(c.account.Role) {
		if c.account.Role != identity.RoleAdmin && c.reach.patients != nil && !c.reach.patients[patient] {
			return errs.NotFoundf("Patient/%s is not known", patient)
		}
		ps, err := a.Users.Grants.ProxiesOfPatient(ctx, org, patient)
		if err != nil {
			return err
		}
		out = ps
	} else {
		if c.reach.self != "" {
			ps, err := a.Users.Grants.ProxiesOfPatient(ctx, org, c.reach.self)
			if err != nil {
				return err
			}
			out = append(out, ps...)
		}
		held, err := a.Users.Grants.ProxiesOfCaregiver(ctx, org, c.account.ID)
		if err != nil {
			return err
		}
		out = append(out, held...)
	}
	if out == nil {
		out = []Proxy{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"proxies": out})
}

// revokeProxy ends a grant: the patient whose record it opens, the
// caregiver who holds it, a care coordinator or an admin may.
func (a *API) revokeProxy(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, org := r.Context(), c.account.OrgID
	p, err := a.Users.Grants.Proxy(ctx, org, r.PathValue("id"))
	if err != nil {
		return err
	}
	role := c.account.Role
	if p.PatientID != c.reach.self && p.CaregiverID != c.account.ID && role != identity.RoleCoordinator && role != identity.RoleAdmin {
		return errs.NotFoundf("no such proxy access")
	}
	if err := a.Users.Grants.RevokeProxy(ctx, org, p.ID, c.account.ID); err != nil {
		return err
	}
	a.Users.Forget(org, p.CaregiverID)
	a.log().Info("proxy access revoked", "org", org, "by", c.account.ID, "caregiver", p.CaregiverID, "patient", p.PatientID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type breakGlassRequest struct {
	Patient string `json:"patient"`
	Reason  string `json:"reason"`
}

// breakGlass opens a patient's record to a clinician outside their care
// for BreakGlassFor, for a stated reason, and raises it to the compliance
// officers.
func (a *API) breakGlass(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in breakGlassRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if !mayBreakGlass(c.account.Role) {
		return errs.Forbiddenf("a %s may not use emergency access", c.account.Role)
	}
	in.Patient = strings.TrimPrefix(in.Patient, "Patient/")
	if err := a.patientExists(r.Context(), c.account.OrgID, in.Patient); err != nil {
		return err
	}
	b, err := a.Users.Grants.BreakGlass(r.Context(), c.account, in.Patient, in.Reason, clientAddress(r))
	if err != nil {
		return err
	}
	a.Users.Forget(c.account.OrgID, c.account.ID)
	a.log().Warn("break-glass: emergency access to a patient outside the care relationship",
		"org", c.account.OrgID, "account", c.account.ID, "role", c.account.Role, "patient", in.Patient, "until", b.ExpiresAt, "id", b.ID)
	return httpx.WriteJSON(w, http.StatusCreated, b)
}

// breakGlassLog lists emergency accesses for compliance officers;
// ?unreviewed=true keeps those not reviewed yet.
func (a *API) breakGlassLog(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.account.Role != identity.RoleCompliance {
		return errs.Forbiddenf("only compliance officers review emergency access")
	}
	log, err := a.Users.Grants.BreakGlassLog(r.Context(), c.account.OrgID, r.URL.Query().Get("unreviewed") == "true", 500)
	if err != nil {
		return err
	}
	if log == nil {
		log = []BreakGlass{}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"break_glass": log})
}

// reviewBreakGlass marks an emergency access reviewed, with a note.
func (a *API) reviewBreakGlass(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.account.Role != identity.RoleCompliance {
		return errs.Forbiddenf("only compliance officers review emergency access")
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Note) == "" {
		return errs.Invalidf("note", "Write what the review found.")
	}
	if err := a.Users.Grants.ReviewBreakGlass(r.Context(), c.account.OrgID, r.PathValue("id"), c.account.ID, in.Note); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// clientAddress is the network address of the request's peer.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
