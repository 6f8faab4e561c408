package web

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

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
