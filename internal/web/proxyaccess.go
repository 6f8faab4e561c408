package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// proxyAccessPage is the data of /account/access: who has proxy access
// to the person's record, whose records they hold access to, and the
// form to grant access to a caregiver.
type proxyAccessPage struct {
	// CanGrant: a patient whose account is linked to their record.
	CanGrant bool
	// StepUp: granting needs a second factor verified within 10
	// minutes; HasFactor says whether the person has one to confirm with.
	StepUp, HasFactor bool
	Granted, Held     []proxyRow
	// The form's values, shown again with its errors.
	Email, Expires, Reason string
}

// proxyRow is one grant: Who is the caregiver (on the patient's list) or
// the patient (on the caregiver's).
type proxyRow struct {
	ID, Who, Since, Until, Reason, Status string
	Open                                  bool
}

// withPerson runs h for a signed-in patient or caregiver; staff get the
// error page, since these pages are about one's own records.
func (p *Pages) withPerson(h func(w http.ResponseWriter, r *http.Request, u *who)) http.HandlerFunc {
	return p.withSession(func(w http.ResponseWriter, r *http.Request, u *who) {
		if isStaff(u.Account.Role) {
			p.r.Error(w, r, http.StatusForbidden, "This page is for patients and caregivers, about their own records.")
			return
		}
		h(w, r, u)
	})
}

// principal returns the person of the request as the policy sees them,
// or answers with the error page.
func (p *Pages) principal(w http.ResponseWriter, r *http.Request) (*fhir.Principal, bool) {
	pr, err := p.Access.Authenticate(r)
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return pr, true
}

func (p *Pages) proxyAccess(w http.ResponseWriter, r *http.Request, u *who) {
	p.showProxyAccess(w, r, http.StatusOK, u, proxyAccessPage{}, nil)
}

func (p *Pages) showProxyAccess(w http.ResponseWriter, r *http.Request, status int, u *who, f proxyAccessPage, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	list, err := p.Access.ListProxies(ctx, pr, "")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	self := p.Access.OwnPatient(pr)
	var heldPatients []string
	for _, g := range list {
		if g.CaregiverID == u.Account.ID {
			heldPatients = append(heldPatients, g.PatientID)
		}
	}
	names, err := p.Access.PatientNames(ctx, u.Account.OrgID, heldPatients)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	people := accountNames{p: p, orgID: u.Account.OrgID}
	now := p.SignIn.Sessions.Now()
	for _, g := range list {
		row := proxyRow{ID: g.ID, Since: showTime(g.CreatedAt), Until: "until you end it", Reason: g.Reason}
		if g.ExpiresAt != nil {
			row.Until = showTime(*g.ExpiresAt)
		}
		switch {
		case g.RevokedAt != nil:
			row.Status = "Ended " + showTime(*g.RevokedAt)
		case g.ExpiresAt != nil && !g.ExpiresAt.After(now):
			row.Status = "Expired"
		default:
			row.Status, row.Open = "Active", true
		}
		if g.PatientID == self && self != "" {
			if row.Who, err = people.withEmail(ctx, g.CaregiverID); err != nil {
				p.fail(w, r, err)
				return
			}
			f.Granted = append(f.Granted, row)
			continue
		}
		row.Who = names[g.PatientID]
		if row.Who == "" {
			row.Who = "Patient record " + g.PatientID
		}
		f.Held = append(f.Held, row)
	}
	f.CanGrant = self != ""
	f.StepUp, f.HasFactor = !u.Fresh, u.HasSecondFactor()
	d := p.data(w, r, "Who can see your record", f)
	d.Errors = e
	p.r.Page(w, r, status, "proxy-access", d)
}

// grantProxy gives a caregiver access to the patient's own record until
// the end of the day chosen (UTC), or until revoked.
func (p *Pages) grantProxy(w http.ResponseWriter, r *http.Request, u *who) {
	f := proxyAccessPage{Email: strings.TrimSpace(r.PostFormValue("caregiver_email")),
		Expires: strings.TrimSpace(r.PostFormValue("expires_at")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	e := &pweb.FormErrors{}
	if f.Email == "" {
		e.Add("caregiver_email", "Enter the email address of the caregiver's careloop account.")
	}
	var until *time.Time
	if f.Expires != "" {
		day, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil {
			e.Add("expires_at", "Enter the last day of access as a date, for example 2027-06-30, or leave it empty.")
		} else {
			end := day.AddDate(0, 0, 1) // access lasts through the day chosen
			until = &end
		}
	}
	if len(f.Reason) > 500 {
		e.Add("reason", "The reason may be at most 500 characters.")
	}
	if e.Any() {
		p.showProxyAccess(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	if !u.Fresh {
		p.showProxyAccess(w, r, http.StatusForbidden, u, f, formError(stepUpRequired(), ""))
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	if _, err := p.Access.GrantProxy(r.Context(), pr, access.ProxyGrant{CaregiverEmail: f.Email, Reason: f.Reason, ExpiresAt: until}); err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		field := "caregiver_email"
		if errs.CodeOf(err) == errs.Forbidden {
			field = ""
		}
		p.showProxyAccess(w, r, statusOf(err), u, f, pweb.FromError(err, field))
		return
	}
	pweb.SetFlash(w, "success", f.Email+" can now see your record. You can end their access here at any time.")
	seeOther(w, r, "/account/access")
}

// revokeProxy ends a grant to the person's record, or one they hold.
func (p *Pages) revokeProxy(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	if err := p.Access.RevokeProxy(r.Context(), pr, r.PathValue("id")); err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			pweb.SetFlash(w, "info", "That access had already ended.")
			seeOther(w, r, "/account/access")
			return
		}
		p.fail(w, r, err)
		return
	}
	pweb.SetFlash(w, "success", "The access is ended.")
	seeOther(w, r, "/account/access")
}

// accountNames names accounts for pages, reading each at most once per
// request.
type accountNames struct {
	p     *Pages
	orgID string
	seen  map[string]string
}

// name returns the display name of account id (its email without one),
// or "someone no longer here" for a deleted account.
func (n *accountNames) name(ctx context.Context, id string) (string, error) {
	return n.lookup(ctx, id, false)
}

// withEmail returns "Name (email)" of account id.
func (n *accountNames) withEmail(ctx context.Context, id string) (string, error) {
	return n.lookup(ctx, id, true)
}

func (n *accountNames) lookup(ctx context.Context, id string, email bool) (string, error) {
	key := id
	if email {
		key += "\x00email"
	}
	if s, ok := n.seen[key]; ok {
		return s, nil
	}
	a, err := n.p.Accounts.ByID(ctx, n.orgID, id)
	out := ""
	switch {
	case errs.CodeOf(err) == errs.NotFound:
		out = "someone no longer here"
	case err != nil:
		return "", err
	case a.DisplayName == "":
		out = a.Email
	case email:
		out = a.DisplayName + " (" + a.Email + ")"
	default:
		out = a.DisplayName
	}
	if n.seen == nil {
		n.seen = map[string]string{}
	}
	n.seen[key] = out
	return out, nil
}
