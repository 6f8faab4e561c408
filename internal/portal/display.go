package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// displayCookie keeps how pages look on this device: text size and
// contrast. It holds no personal data, so it is kept per device, and
// works on the sign-in page too.
const displayCookie = "careloop_display"

// display is a reader's choice of text size and contrast.
type display struct {
	Text     string // "", "large" or "larger"
	Contrast string // "" or "high"
}

var textSizes = map[string]bool{"": true, "large": true, "larger": true}

// displayOf reads the display cookie; anything unknown is the default.
func displayOf(r *http.Request) display {
	var d display
	c, err := r.Cookie(displayCookie)
	if err != nil {
		return d
	}
	v, err := url.ParseQuery(c.Value)
	if err != nil {
		return d
	}
	if t := v.Get("text"); textSizes[t] {
		d.Text = t
	}
	if v.Get("contrast") == "high" {
		d.Contrast = "high"
	}
	return d
}

// class is the html element's class for d: "text-large contrast-high".
func (d display) class() string {
	var c []string
	if d.Text != "" {
		c = append(c, "text-"+d.Text)
	}
	if d.Contrast != "" {
		c = append(c, "contrast-"+d.Contrast)
	}
	return strings.Join(c, " ")
}

type displayPage struct {
	Display   display
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
	if !textSizes[text] {
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
	v := url.Values{}
	if text != "" {
		v.Set("text", text)
	}
	if contrast != "" {
		v.Set("contrast", contrast)
	}
	http.SetCookie(w, &http.Cookie{Name: displayCookie, Value: v.Encode(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
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
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
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
