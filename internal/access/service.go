package access

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Service applies the rules of proxy access and break-glass for signed-in
// people: who may grant, list and revoke proxy access, who may break the
// glass, and who reads and reviews the break-glass log. The JSON API under
// /access and the pages share it. Every method takes the caller's
// principal, as Users.Authenticate returns it. It is safe for concurrent
// use.
type Service struct {
	Users  *Users
	Emails AccountsByEmail
	Log    *slog.Logger
}

// ProxyGrant is a request to give a caregiver access to a patient's record.
type ProxyGrant struct {
	CaregiverEmail string
	// Patient is the Patient id; a patient's own record when empty.
	Patient   string
	Reason    string
	ExpiresAt *time.Time // nil: until revoked
}

// Authenticate returns the principal of a request's session cookie (see
// Users.Authenticate).
func (s *Service) Authenticate(r *http.Request) (*fhir.Principal, error) {
	return s.Users.Authenticate(r)
}

// callerOfPrincipal returns the person behind p, or an errs.Forbidden for a system.
func callerOfPrincipal(p *fhir.Principal) (*caller, error) {
	c, ok := callerFrom(p)
	if !ok {
		return nil, errs.Forbiddenf("proxy access and emergency access are for signed-in people")
	}
	return c, nil
}

// GrantProxy gives a caregiver access to a patient's record. Patients
// grant access to their own record; care coordinators, organisation admins
// and the clinicians and nurses who care for the patient grant it on the
// clinic's behalf. Either way the granter must have verified a second
// factor within StepUpWithin. The caregiver must have an account of role
// caregiver or patient. Problems with the input are errs.Invalid naming
// the field (caregiver_email, patient, expires_at).
func (s *Service) GrantProxy(ctx context.Context, p *fhir.Principal, in ProxyGrant) (*Proxy, error) {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return nil, err
	}
	role := c.account.Role
	switch {
	case role == identity.RolePatient:
		if c.reach.self == "" {
			return nil, errs.Forbiddenf("your account is not linked to your record yet")
		}
		if in.Patient != "" && in.Patient != c.reach.self {
			return nil, errs.Forbiddenf("you may grant access to your own record only")
		}
		in.Patient = c.reach.self
	case role == identity.RoleCoordinator || role == identity.RoleAdmin:
	case role == identity.RoleClinician || role == identity.RoleNurse:
		if !c.reach.patients[in.Patient] || c.reach.glass[in.Patient] {
			return nil, errs.Forbiddenf("only the patient's own care team may grant proxy access to their record")
		}
	default:
		return nil, errs.Forbiddenf("a %s may not grant proxy access", role)
	}
	if !c.session.FactorWithin(c.now, StepUpWithin) {
		return nil, errs.E(errs.Forbidden, "Granting proxy access needs a fresh second factor: sign in again with your authenticator app or passkey (enroll one first if you have none), then retry within 10 minutes.")
	}
	if err := s.patientExists(ctx, c.account.OrgID, in.Patient); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(in.CaregiverEmail))
	if email == "" {
		return nil, errs.Invalidf("caregiver_email", "Enter the email of the caregiver's account.")
	}
	cg, _, err := s.Emails.ByEmail(ctx, c.account.OrgID, email)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return nil, errs.Invalidf("caregiver_email", "No account uses %s here: the caregiver must have an account first.", email)
		}
		return nil, err
	}
	if cg.Role != identity.RoleCaregiver && cg.Role != identity.RolePatient {
		return nil, errs.Invalidf("caregiver_email", "%s is a staff account; proxy access is for caregivers and family.", email)
	}
	if cg.ID == c.account.ID || cg.FHIRRef == "Patient/"+in.Patient {
		return nil, errs.Invalidf("caregiver_email", "A patient has access to their own record already.")
	}
	pr, err := s.Users.Grants.GrantProxy(ctx, c.account.OrgID, cg.ID, in.Patient, c.account.ID, in.Reason, in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	s.Users.Forget(c.account.OrgID, cg.ID)
	s.log().Info("proxy access granted", "org", c.account.OrgID, "by", c.account.ID, "caregiver", cg.ID, "patient", in.Patient)
	return pr, nil
}

// ListProxies lists grants: a patient's to their record and those they
// hold, a caregiver's, or, for staff who reach the patient, those to the
// record of patient (an errs.NotFound for a patient they do not reach).
// patient is ignored for patients and caregivers.
func (s *Service) ListProxies(ctx context.Context, p *fhir.Principal, patient string) ([]Proxy, error) {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return nil, err
	}
	org := c.account.OrgID
	if patient != "" && isStaff(c.account.Role) {
		if c.account.Role != identity.RoleAdmin && c.reach.patients != nil && !c.reach.patients[patient] {
			return nil, errs.NotFoundf("Patient/%s is not known", patient)
		}
		return s.Users.Grants.ProxiesOfPatient(ctx, org, patient)
	}
	var out []Proxy
	if c.reach.self != "" {
		ps, err := s.Users.Grants.ProxiesOfPatient(ctx, org, c.reach.self)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	held, err := s.Users.Grants.ProxiesOfCaregiver(ctx, org, c.account.ID)
	if err != nil {
		return nil, err
	}
	return append(out, held...), nil
}

// OwnPatient returns the Patient id of a patient's own record, "" for
// anyone else.
func (s *Service) OwnPatient(p *fhir.Principal) string {
	c, ok := callerFrom(p)
	if !ok {
		return ""
	}
	return c.reach.self
}

// RevokeProxy ends a grant: the patient whose record it opens, the
// caregiver who holds it, a care coordinator or an admin may; to anyone
// else the grant does not exist (errs.NotFound).
func (s *Service) RevokeProxy(ctx context.Context, p *fhir.Principal, id string) error {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return err
	}
	org := c.account.OrgID
	pr, err := s.Users.Grants.Proxy(ctx, org, id)
	if err != nil {
		return err
	}
	role := c.account.Role
	if pr.PatientID != c.reach.self && pr.CaregiverID != c.account.ID && role != identity.RoleCoordinator && role != identity.RoleAdmin {
		return errs.NotFoundf("no such proxy access")
	}
	if err := s.Users.Grants.RevokeProxy(ctx, org, pr.ID, c.account.ID); err != nil {
		return err
	}
	s.Users.Forget(org, pr.CaregiverID)
	s.log().Info("proxy access revoked", "org", org, "by", c.account.ID, "caregiver", pr.CaregiverID, "patient", pr.PatientID)
	return nil
}

// MayBreakGlass reports whether p's role may use emergency access.
func (s *Service) MayBreakGlass(p *fhir.Principal) bool {
	c, ok := callerFrom(p)
	return ok && mayBreakGlass(c.account.Role)
}

// BreakGlass opens a patient's record to a clinician, nurse or technician
// outside their care for BreakGlassFor, for a stated reason, and raises it
// to the compliance officers. address is the network address of the
// request.
func (s *Service) BreakGlass(ctx context.Context, p *fhir.Principal, patient, reason, address string) (*BreakGlass, error) {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return nil, err
	}
	if !mayBreakGlass(c.account.Role) {
		return nil, errs.Forbiddenf("a %s may not use emergency access", c.account.Role)
	}
	patient = strings.TrimPrefix(strings.TrimSpace(patient), "Patient/")
	if err := s.patientExists(ctx, c.account.OrgID, patient); err != nil {
		return nil, err
	}
	b, err := s.Users.Grants.BreakGlass(ctx, c.account, patient, reason, address)
	if err != nil {
		return nil, err
	}
	s.Users.Forget(c.account.OrgID, c.account.ID)
	s.log().Warn("break-glass: emergency access to a patient outside the care relationship",
		"org", c.account.OrgID, "account", c.account.ID, "role", c.account.Role, "patient", patient, "until", b.ExpiresAt, "id", b.ID)
	return b, nil
}

// OpenBreakGlass lists the caller's own emergency accesses that have not
// expired, newest first.
func (s *Service) OpenBreakGlass(ctx context.Context, p *fhir.Principal) ([]BreakGlass, error) {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return nil, err
	}
	if !mayBreakGlass(c.account.Role) {
		return nil, errs.Forbiddenf("a %s may not use emergency access", c.account.Role)
	}
	return s.Users.Grants.openBreakGlassOf(ctx, c.account.OrgID, c.account.ID, c.now)
}

// BreakGlassLog lists the organisation's emergency accesses, newest first
// (the unreviewed ones only, when asked), for compliance officers.
func (s *Service) BreakGlassLog(ctx context.Context, p *fhir.Principal, unreviewed bool) ([]BreakGlass, error) {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return nil, err
	}
	if c.account.Role != identity.RoleCompliance {
		return nil, errs.Forbiddenf("only compliance officers review emergency access")
	}
	return s.Users.Grants.BreakGlassLog(ctx, c.account.OrgID, unreviewed, 500)
}

// ReviewBreakGlass marks an emergency access reviewed by a compliance
// officer, with a note saying what the review found (errs.Invalid on the
// field note when empty).
func (s *Service) ReviewBreakGlass(ctx context.Context, p *fhir.Principal, id, note string) error {
	c, err := callerOfPrincipal(p)
	if err != nil {
		return err
	}
	if c.account.Role != identity.RoleCompliance {
		return errs.Forbiddenf("only compliance officers review emergency access")
	}
	if strings.TrimSpace(note) == "" {
		return errs.Invalidf("note", "Write what the review found.")
	}
	return s.Users.Grants.ReviewBreakGlass(ctx, c.account.OrgID, id, c.account.ID, note)
}

// PatientNames returns the names of the organisation's patients among
// ids, as people write them ("Ada Okafor"); ids without a record or a name
// are left out.
func (s *Service) PatientNames(ctx context.Context, orgID string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	res, err := s.Users.Records.Search(ctx, orgID, "Patient", url.Values{"_id": {strings.Join(ids, ",")}, "_count": {"1000"}}, false)
	if err != nil {
		return nil, fmt.Errorf("access: patient names: %w", err)
	}
	for _, st := range res.Matches {
		var pat struct {
			Name []struct {
				Text   string   `json:"text"`
				Family string   `json:"family"`
				Given  []string `json:"given"`
			} `json:"name"`
		}
		if json.Unmarshal(st.JSON, &pat) != nil || len(pat.Name) == 0 {
			continue
		}
		n := pat.Name[0]
		name := n.Text
		if name == "" {
			name = strings.TrimSpace(strings.Join(append(append([]string{}, n.Given...), n.Family), " "))
		}
		if name != "" {
			out[st.ID] = name
		}
	}
	return out, nil
}

// patientExists reports an errs.NotFound for an unknown Patient id, and an
// errs.Invalid on the field patient for none.
func (s *Service) patientExists(ctx context.Context, orgID, id string) error {
	if id == "" {
		return errs.Invalidf("patient", "Name the patient (a Patient id).")
	}
	res, err := s.Users.Records.Search(ctx, orgID, "Patient", url.Values{"_id": {id}}, false)
	if err != nil {
		return err
	}
	if len(res.Matches) == 0 {
		return errs.NotFoundf("Patient/%s is not known", id)
	}
	return nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// openBreakGlassOf returns accountID's emergency accesses open at now,
// newest first.
func (g *Grants) openBreakGlassOf(ctx context.Context, orgID, accountID string, now time.Time) ([]BreakGlass, error) {
	rows, err := g.db.Read.QueryContext(ctx, `SELECT id, account_id, role, patient_id, reason, address, created_at, expires_at
		FROM access_break_glass WHERE org_id = $1 AND account_id = $2 AND expires_at > $3 ORDER BY created_at DESC, id LIMIT 500`,
		orgID, accountID, now)
	if err != nil {
		return nil, fmt.Errorf("access: open break-glass: %w", err)
	}
	defer rows.Close()
	var out []BreakGlass
	for rows.Next() {
		var b BreakGlass
		if err := rows.Scan(&b.ID, &b.AccountID, &b.Role, &b.PatientID, &b.Reason, &b.Address, &b.CreatedAt, &b.ExpiresAt); err != nil {
			return nil, fmt.Errorf("access: open break-glass: %w", err)
		}
		b.CreatedAt, b.ExpiresAt = b.CreatedAt.UTC(), b.ExpiresAt.UTC()
		out = append(out, b)
	}
	return out, rows.Err()
}
