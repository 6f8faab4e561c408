package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// The pages a signed-in patient or caregiver uses (their account, its
// security and sessions, who can see and who looked at their record,
// their messages and how they are contacted) speak their language too:
// see personLang. Staff read those pages, and their own, in English.
//
// The public pages (sign-in, second factor, activation, registration,
// email verification, recovery, an expired link) speak the reader's
// language: the one picked with the switcher (the careloop_lang cookie),
// else the browser's Accept-Language, else English. Their words are in
// locales/*.json, merged with the layout's into one catalog (Pages.cat).
//
// Two kinds of words reach these pages from elsewhere, in English:
//   - flash messages set before a redirect to them ("You have signed
//     out."). The cookie keeps the English text, which every page can
//     show; a localised page recognises the texts of the catalog's
//     "flash." keys and shows them in the reader's language.
//   - the messages of services' errors (a wrong password, a spent link,
//     a weak password). A localised page recognises those of the
//     catalog's "service." keys, word for word, and the parametrised
//     ones of serviceForms; any other is shown as the service wrote it.

// langCookieAction is where the language switcher posts; the portal
// serves it.
const langCookieAction = "/lang"

// Messages are the public pages' words in every language.
var Messages = i18n.Source{FS: files, Dir: "locales"}

// NewCatalog returns the catalog of the public pages: the layout's
// messages and the pages' own.
func NewCatalog() (*i18n.Catalog, error) { return i18n.New(pweb.Messages, Messages) }

// englishKeys maps the English text of each "flash." and "service." key of cat
// to its key.
func englishKeys(cat *i18n.Catalog) map[string]string {
	en := cat.For(i18n.Default)
	out := map[string]string{}
	for _, k := range cat.Keys(i18n.Default) {
		if strings.HasPrefix(k, "flash.") || strings.HasPrefix(k, "service.") {
			out[en.T(k)] = k
		}
	}
	return out
}

// serviceForm is a service's message with values in it: the pattern of
// its English text, and the key that says it in other languages with the
// pattern's groups as the named values (a group named Count is a number
// and chooses the plural form).
type serviceForm struct {
	re  *regexp.Regexp
	key string
}

var serviceForms = []serviceForm{
	{regexp.MustCompile(`^Too many failed attempts\. For your security, signing in is paused; try again in (?P<Count>\d+) minutes?\.$`), "service.blocked"},
	{regexp.MustCompile(`^A password needs at least (?P<Min>\d+) characters; this one has (?P<Count>\d+)\. `), "service.password.short"},
	{regexp.MustCompile(`^A password can have at most (?P<Max>\d+) characters; this one has (?P<Count>\d+)\.$`), "service.password.long"},
	// The reason varies (a common password, a name, a date…): other
	// languages get the advice without it.
	{regexp.MustCompile(`^This password is too easy to guess: `), "service.password.weak"},
	{regexp.MustCompile(`^(?P<Email>".*") is not an email address\.$`), "service.email.invalid"},
	{regexp.MustCompile(`^Enter the (?P<Digits>\d+)-digit code your authenticator app shows for careloop\.$`), "service.code.digits"},
	{regexp.MustCompile(`^A recovery code has (?P<Count>\d+) letters and digits, like (?P<Example>\S+)\.$`), "service.recovery.format"},
	{regexp.MustCompile(`^No account uses (?P<Email>\S+) here: the caregiver must have an account first\.$`), "service.proxy.no_account"},
	{regexp.MustCompile(`^(?P<Email>\S+) is a staff account; proxy access is for caregivers and family\.$`), "service.proxy.staff"},
}

// lang returns the reader's language for a public page: the switcher's
// choice, else the browser's.
func (p *Pages) lang(r *http.Request) *i18n.Localizer { return p.cat.Negotiate(r, "") }

// publicData returns the layout data of a public page in the reader's
// language l: its title (the message titleKey), the switcher, the flash
// message in l when it is one the catalog knows, and the form's errors.
func (p *Pages) publicData(w http.ResponseWriter, r *http.Request, l *i18n.Localizer, titleKey string, body any, e *pweb.FormErrors) pweb.Data {
	return pweb.Data{Title: l.T(titleKey), Flash: p.flash(w, r, l), Errors: e, Body: body, L: l,
		Switch: pweb.NewSwitch(langCookieAction, r, l)}
}

// flash takes the request's flash message and says it in l when the
// catalog knows its English text.
func (p *Pages) flash(w http.ResponseWriter, r *http.Request, l *i18n.Localizer) *pweb.Flash {
	f := pweb.TakeFlash(w, r)
	if f != nil && l.Tag != i18n.Default {
		if k, ok := p.english[f.Message]; ok && strings.HasPrefix(k, "flash.") {
			f.Message = l.T(k)
		}
	}
	return f
}

// serviceMessage says a service's error message in l, when it is one the
// catalog knows; otherwise, and always in English, it returns msg as is.
func (p *Pages) serviceMessage(l *i18n.Localizer, msg string) string {
	if l.Tag == i18n.Default {
		return msg
	}
	if k, ok := p.english[msg]; ok && strings.HasPrefix(k, "service.") {
		return l.T(k)
	}
	for _, f := range serviceForms {
		m := f.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		var args []any
		for i, name := range f.re.SubexpNames() {
			if name == "" {
				continue
			}
			var v any = m[i]
			if n, err := strconv.Atoi(m[i]); err == nil {
				v = n
			}
			args = append(args, name, v)
		}
		return l.T(f.key, args...)
	}
	return msg
}

// formErrors returns the form errors for a service's err, as
// pweb.FromError does (on the field the error names, or else on field),
// in the reader's language l where the catalog knows the message.
func (p *Pages) formErrors(l *i18n.Localizer, err error, field string) *pweb.FormErrors {
	e := pweb.FromError(err, field)
	for i := range e.List {
		e.List[i].Message = p.serviceMessage(l, e.List[i].Message)
	}
	return e
}

// invalidLink is what a page says of a link that opens nothing.
func (p *Pages) invalidLink(l *i18n.Localizer) string {
	return p.serviceMessage(l, identity.InvalidLinkMessage)
}

// unknownOrg is the registration's answer to an organisation the
// instance does not have.
func unknownOrg(l *i18n.Localizer, slug string) error {
	return errs.Invalidf("org", "%s", l.T("register.org.unknown", "Org", strconv.Quote(slug)))
}

// landing is where a person of role lands after signing in when no page
// asked for another: the portal's home for patients and caregivers, the
// account page for staff.
func landing(role string) string {
	if role == string(identity.RolePatient) || role == string(identity.RoleCaregiver) {
		return "/home"
	}
	return "/account"
}

// personLang returns the language of the pages of the signed-in person of
// account a. Staff read English. A patient or caregiver reads the language
// picked with the switcher (the careloop_lang cookie), else their
// profile's (the language of the notification preferences of their
// record, which messages use too), else the browser's, else English. It
// fails only when the preferences cannot be read.
func (p *Pages) personLang(r *http.Request, a *identity.Account) (*i18n.Localizer, error) {
	if isStaff(a.Role) {
		return p.cat.For(i18n.Default), nil
	}
	profile := ""
	record, isPatient := strings.CutPrefix(a.FHIRRef, "Patient/")
	if ck, err := r.Cookie(i18n.CookieName); isPatient && record != "" && (err != nil || !p.cat.Has(ck.Value)) {
		switch {
		case p.Profiles != nil:
			// The portal's rule: the language chosen, else the record's.
			if profile, err = p.Profiles.Language(r.Context(), a.OrgID, record); err != nil {
				return nil, fmt.Errorf("web: language of account %s: %w", a.ID, err)
			}
		case p.Notify != nil:
			prefs, err := p.Notify.Preferences(r.Context(), a.OrgID, a.FHIRRef)
			if err != nil {
				return nil, fmt.Errorf("web: language of account %s: %w", a.ID, err)
			}
			profile = prefs.Lang
		}
	}
	return p.cat.Negotiate(r, profile), nil
}

// reader is the language of a request's pages, kept in its context by
// withSession for a patient or caregiver and by the public pages about
// messages, so that any error page of the request speaks it too.
type reader struct {
	l        *i18n.Localizer
	signedIn bool
}

type readerKey struct{}

// withReader returns r with its reader's language l in its context.
func withReader(r *http.Request, l *i18n.Localizer, signedIn bool) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), readerKey{}, reader{l: l, signedIn: signedIn}))
}

// readerOf returns the language kept by withReader, or false for a page
// in English alone (staff's, and the ones not localised).
func readerOf(ctx context.Context) (reader, bool) {
	rd, ok := ctx.Value(readerKey{}).(reader)
	return rd, ok && rd.l != nil
}

// failure is the data of the localised error page.
type failure struct {
	Message, RequestID string
	SignedIn           bool
}

// errorPage answers with the error page of status and message (a
// message a person can act on; "" for the status's usual words): in the
// reader's language when the request has one (see withReader), else the
// layout's English page. A 404 and a 5xx always get their usual words.
func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	rd, ok := readerOf(r.Context())
	if !ok {
		p.r.Error(w, r, status, message)
		return
	}
	l := rd.l
	title := l.T("error.title")
	switch status {
	case http.StatusNotFound:
		title, message = l.T("error.notfound.title"), l.T("error.notfound")
	case http.StatusForbidden:
		title = l.T("error.forbidden.title")
	case http.StatusTooManyRequests:
		title = l.T("error.wait.title")
	}
	if message == "" || status >= 500 {
		message = l.T("error.internal")
	}
	d := pweb.Data{Title: title, L: l, Switch: pweb.NewSwitch(langCookieAction, r, l),
		Body: failure{Message: p.serviceMessage(l, message), RequestID: httpx.RequestID(r.Context()), SignedIn: rd.signedIn}}
	if rd.signedIn {
		d.Home = "/home"
	}
	p.r.Page(w, r, status, "failure", d)
}

// when says a moment in l, in UTC: "2 Jan 2006, 15:04 UTC" in English.
func when(l *i18n.Localizer, t time.Time) string {
	t = t.UTC()
	return l.T("time.format", "Day", t.Day(), "Month", l.T("time.month."+strconv.Itoa(int(t.Month()))),
		"Year", strconv.Itoa(t.Year()), "Clock", t.Format("15:04"))
}

// roleIn names role in l, as people call it.
func roleIn(l *i18n.Localizer, role identity.Role) string {
	if _, ok := roleNames[role]; !ok {
		return string(role)
	}
	return l.T("role." + string(role))
}
