package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/tenant"
)

// The pages of the account lifecycle (invitation, activation,
// registration, email verification, recovery) are public forms on
// signin.Lifecycle; this file holds what they share.

// orgField is the organisation field of a public form. With one
// organisation on the instance it is hidden and prefilled (OrgName set).
type orgField struct {
	Org, OrgName string
}

// orgChoice returns the organisation field for the typed slug org.
func (p *Pages) orgChoice(ctx context.Context, org string) (orgField, error) {
	orgs, err := p.Orgs.List(ctx)
	if err != nil {
		return orgField{}, err
	}
	if len(orgs) == 1 {
		return orgField{Org: orgs[0].Slug, OrgName: orgs[0].Name}, nil
	}
	return orgField{Org: org}, nil
}

// orgBySlug returns the organisation of slug, or unknown when there is no
// such organisation (or the slug is malformed).
func (p *Pages) orgBySlug(ctx context.Context, slug string, unknown error) (*tenant.Organization, error) {
	if slug == "" {
		return nil, unknown
	}
	org, err := p.Orgs.BySlug(ctx, slug)
	if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Invalid {
		return nil, unknown
	}
	return org, err
}

// orgByID returns the organisation of a signed-in person, for the links
// of the emails sent on their behalf.
func (p *Pages) orgByID(ctx context.Context, id string) (*tenant.Organization, error) {
	list, err := p.Orgs.List(ctx)
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

// public returns the layout data of a page for someone not signed in.
func (p *Pages) public(w http.ResponseWriter, r *http.Request, title string, body any, e *pweb.FormErrors) pweb.Data {
	return pweb.Data{Title: title, Flash: pweb.TakeFlash(w, r), Errors: e, Body: body}
}

// signInAs gives the browser the session a lifecycle step opened (secret),
// ending the session its cookie held before, if any: one browser, one
// person.
func (p *Pages) signInAs(w http.ResponseWriter, r *http.Request, secret string) error {
	if old := p.Cookies.Secret(r); old != "" {
		if err := p.SignIn.SignOut(r.Context(), old, httpx.RemoteHost(r)); err != nil {
			return err
		}
	}
	p.Cookies.Set(w, secret)
	return nil
}

// expected reports whether err is the person's to fix (bad input, a wrong
// or spent link, too many attempts), to show on the form, rather than an
// error of careloop's, for the error page.
func expected(err error) bool { return errs.HTTPStatus(errs.CodeOf(err)) < 500 }

// badLink reports whether err is a link or code that opens nothing.
func badLink(err error) bool { return errors.Is(err, identity.ErrTokenInvalid) }

// field is a form field's value and what to say when it is empty.
type field struct{ id, value, empty string }

// required adds the empty message of each field with no value.
func required(e *pweb.FormErrors, fields ...field) {
	for _, f := range fields {
		if f.value == "" {
			e.Add(f.id, f.empty)
		}
	}
}

// statusOf is the HTTP status of an error shown on a form.
func statusOf(err error) int { return errs.HTTPStatus(errs.CodeOf(err)) }
