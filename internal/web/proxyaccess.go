package web

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
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
	Granted, Held     proxyList
	// The form's values, shown again with its errors.
	Email, Expires, Reason string
}

// proxyList are grants, with the language of the page's table.
type proxyList struct {
	L    *i18n.Localizer
	Rows []proxyRow
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
			p.r.Error(w, r, http.StatusForbidden, "This page is for patients and caregivers, about their own records.") // staff read English
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
	l := u.l
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
	people := accountNames{p: p, orgID: u.Account.OrgID, gone: l.T("access.gone")}
	now := p.SignIn.Sessions.Now()
	for _, g := range list {
		row := proxyRow{ID: g.ID, Since: when(l, g.CreatedAt), Until: l.T("access.until.ended"), Reason: g.Reason}
		if g.ExpiresAt != nil {
			row.Until = when(l, *g.ExpiresAt)
		}
		switch {
		case g.RevokedAt != nil:
			row.Status = l.T("access.status.ended", "Time", when(l, *g.RevokedAt))
		case g.ExpiresAt != nil && !g.ExpiresAt.After(now):
			row.Status = l.T("access.status.expired")
		default:
			row.Status, row.Open = l.T("access.status.active"), true
		}
		if g.PatientID == self && self != "" {
			if row.Who, err = people.withEmail(ctx, g.CaregiverID); err != nil {
				p.fail(w, r, err)
				return
			}
			f.Granted.Rows = append(f.Granted.Rows, row)
			continue
		}
		row.Who = names[g.PatientID]
		if row.Who == "" {
			row.Who = l.T("access.record", "ID", g.PatientID)
		}
		f.Held.Rows = append(f.Held.Rows, row)
	}
	f.CanGrant = self != ""
	f.Granted.L, f.Held.L = l, l
	f.StepUp, f.HasFactor = !u.Fresh, u.HasSecondFactor()
	d := p.personData(w, r, u, l.T("access.title"), f)
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
		e.Add("caregiver_email", u.l.T("access.email.empty"))
	}
	var until *time.Time
	if f.Expires != "" {
		day, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil {
			e.Add("expires_at", u.l.T("access.expires.invalid"))
		} else {
			end := day.AddDate(0, 0, 1) // access lasts through the day chosen
			until = &end
		}
	}
	if len(f.Reason) > 500 {
		e.Add("reason", u.l.T("access.reason.long"))
	}
	if e.Any() {
		p.showProxyAccess(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	if !u.Fresh {
		p.showProxyAccess(w, r, http.StatusForbidden, u, f, p.formErrorIn(u.l, stepUpRequired(), ""))
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
		p.showProxyAccess(w, r, statusOf(err), u, f, p.formErrors(u.l, err, field))
		return
	}
	pweb.SetFlash(w, "success", u.l.T("access.flash.granted", "Email", f.Email))
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
			pweb.SetFlash(w, "info", u.l.T("access.flash.gone"))
			seeOther(w, r, "/account/access")
			return
		}
		p.fail(w, r, err)
		return
	}
	pweb.SetFlash(w, "success", u.l.T("access.flash.ended"))
	seeOther(w, r, "/account/access")
}

// accountNames names accounts for pages, reading each at most once per
// request.
type accountNames struct {
	p     *Pages
	orgID string
	seen  map[string]string
	// gone names a deleted account; "" is "someone no longer here".
	gone string
}

// name returns the display name of account id (its email without one),
// or the words of gone for a deleted account.
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
		out = cmp.Or(n.gone, "someone no longer here")
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
