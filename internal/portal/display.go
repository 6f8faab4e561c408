package portal

import (
	"net/http"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

type displayPage struct {
	Display   pweb.Display
	Languages []i18n.Language
	Lang      string
	Patient   bool // a patient's language also chooses their messages'
}

func (p *Pages) display(w http.ResponseWriter, r *http.Request, u *person) {
	p.page(w, r, u, http.StatusOK, "display", u.l.T("display.title"), displayPage{Display: u.display,
		Languages: p.cat.Languages(), Lang: u.l.Lang(), Patient: u.own != ""}, nil)
}

// setDisplay stores the display choices on this device, and the language
// in the person's profile as well (messages then come in it too).
func (p *Pages) setDisplay(w http.ResponseWriter, r *http.Request, u *person) {
	text, contrast, lang := r.PostFormValue("text"), r.PostFormValue("contrast"), r.PostFormValue("lang")
	e := &pweb.FormErrors{}
	if !pweb.TextSizes[text] {
		e.Add("text", u.l.T("display.text.invalid"))
	}
	if contrast != "" && contrast != "high" {
		e.Add("contrast-high", u.l.T("display.contrast.invalid"))
	}
	if lang != "" && !p.cat.Has(lang) {
		e.Add("lang", u.l.T("display.lang.invalid"))
	}
	if e.Any() {
		p.page(w, r, u, http.StatusBadRequest, "display", u.l.T("display.title"), displayPage{Display: u.display,
			Languages: p.cat.Languages(), Lang: u.l.Lang(), Patient: u.own != ""}, e)
		return
	}
	pweb.SetDisplay(w, pweb.Display{Text: text, Contrast: contrast})
	l := u.l
	if lang != "" {
		if err := p.rememberLanguage(w, r, u, lang); err != nil {
			p.fail(w, r, u, err)
			return
		}
		l = p.cat.For(lang)
	}
	pweb.SetFlash(w, "success", l.T("display.saved"))
	http.Redirect(w, r, "/account/display", http.StatusSeeOther)
}

// switchLanguage is the switcher of every page: it remembers the language
// on this device, and in a signed-in patient's profile, and returns to the
// page.
func (p *Pages) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PostFormValue("lang")
	next, ok := pweb.LocalPath(r.PostFormValue("next"))
	if !ok {
		next = "/home"
	}
	if !p.cat.Has(lang) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	i18n.Remember(w, lang)
	if pr, err := p.Users.Authenticate(r); err == nil && pr != nil && pr.Role == string(identity.RolePatient) {
		u := &person{p: pr, own: p.Users.OwnPatient(pr)}
		if err := p.rememberLanguage(w, r, u, lang); err != nil {
			p.Log.Warn("portal: keep the language in the profile", "err", err)
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// rememberLanguage keeps lang on this device and, for a patient with a
// record, in their preferences.
func (p *Pages) rememberLanguage(w http.ResponseWriter, r *http.Request, u *person, lang string) error {
	i18n.Remember(w, lang)
	if u.own == "" {
		return nil
	}
	recipient := "Patient/" + u.own
	prefs, err := p.Inbox.Preferences(r.Context(), u.p.OrgID, recipient)
	if err != nil {
		return err
	}
	if prefs.Lang == lang {
		return nil
	}
	prefs.Lang = lang
	return p.Inbox.SetPreferences(r.Context(), u.p.OrgID, recipient, prefs, u.p.Subject)
}
