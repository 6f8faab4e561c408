package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

type sessionView struct {
	ID, Device, Address, Started, LastSeen string
	Current                                bool
}

func (p *Pages) sessions(w http.ResponseWriter, r *http.Request, u *who) {
	if u.MustEnroll() {
		seeOther(w, r, "/account/security")
		return
	}
	list, err := p.SignIn.Sessions.List(r.Context(), u.Session.OrgID, u.Session.AccountID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	views := make([]sessionView, 0, len(list))
	for _, s := range list {
		views = append(views, sessionView{ID: s.ID, Device: deviceIn(u.l, s.UserAgent), Address: s.Address,
			Started: when(u.l, s.CreatedAt), LastSeen: when(u.l, s.LastSeenAt), Current: s.ID == u.Session.ID})
	}
	p.r.Page(w, r, http.StatusOK, "sessions", p.personData(w, r, u, u.l.T("sessions.title"), struct {
		Sessions []sessionView
		Others   bool
	}{views, len(views) > 1}))
}

// endSession ends one of the person's sessions; ending the current one
// signs out.
func (p *Pages) endSession(w http.ResponseWriter, r *http.Request, u *who) {
	id := r.PathValue("id")
	if err := p.SignIn.Sessions.End(r.Context(), u.Session.OrgID, u.Session.AccountID, id); err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			pweb.SetFlash(w, "info", u.l.T("sessions.flash.gone"))
			seeOther(w, r, "/account/sessions")
			return
		}
		p.fail(w, r, err)
		return
	}
	if id == u.Session.ID {
		p.Cookies.Clear(w)
		pweb.SetFlash(w, "success", "You have signed out.")
		seeOther(w, r, "/signin")
		return
	}
	pweb.SetFlash(w, "success", u.l.T("sessions.flash.ended"))
	seeOther(w, r, "/account/sessions")
}

// endOthers signs out everywhere but here.
func (p *Pages) endOthers(w http.ResponseWriter, r *http.Request, u *who) {
	n, err := p.SignIn.Sessions.EndAll(r.Context(), u.Session.OrgID, u.Session.AccountID, u.Session.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	msg := u.l.T("sessions.flash.others")
	if n == 0 {
		msg = u.l.T("sessions.flash.none")
	}
	pweb.SetFlash(w, "success", msg)
	seeOther(w, r, "/account/sessions")
}

// device names the browser and system of a user agent in words people
// recognise, in English; it is a hint, not a proof (a user agent can say
// anything).
func device(ua string) string {
	browser, system := deviceParts(ua)
	if browser == "" {
		browser = "Unknown browser"
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// deviceIn is device said in l.
func deviceIn(l *i18n.Localizer, ua string) string {
	browser, system := deviceParts(ua)
	switch {
	case browser == "" && system == "":
		return l.T("sessions.device.unknown")
	case browser == "":
		browser = l.T("sessions.device.unknown")
	case system == "":
		return browser
	}
	return l.T("sessions.device.on", "Browser", browser, "System", system)
}

// deviceParts are the names of the browser and the system of a user
// agent; "" for one it does not recognise.
func deviceParts(ua string) (browser, system string) {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Chrome"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, s := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"},
		{"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	return browser, system
}
