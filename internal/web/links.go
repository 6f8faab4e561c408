package web

import (
	"errors"
	"net/http"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// UnsubscribeRoute is the route of a message's unsubscribe link. Mail
// providers post to it on the person's behalf (RFC 8058 one-click, body
// "List-Unsubscribe=One-Click") from their own servers, without a session:
// the signed token in the path is the only authority, so the route is
// exempt from the cross-origin protection that guards session-bearing
// forms (see the app's HTTP options).
const UnsubscribeRoute = "POST /n/{token}/unsubscribe"

// openLink follows the link of a message (/n/{token}): it records that the
// link was followed, then sends the person to what the message is about.
// Someone not signed in goes through sign-in first and lands there
// afterwards. An expired link gets a page that says so (410) with a way
// to sign in; any other bad link the 404 page.
func (p *Pages) openLink(w http.ResponseWriter, r *http.Request) {
	r = withReader(r, p.lang(r), false)
	target, err := p.Notify.OpenLink(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, notify.ErrLinkExpired):
		p.r.Page(w, r, http.StatusGone, "link-expired", p.publicData(w, r, p.lang(r), "expired.title",
			linkExpiredPage{SignIn: signInLink("/account/messages")}, nil))
		return
	case errors.Is(err, notify.ErrLinkInvalid):
		p.errorPage(w, r, http.StatusNotFound, "")
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	// Targets are checked when events are accepted; a link never leads
	// off the site whatever is stored.
	if target, _ = pweb.LocalPath(target); target == "" {
		target = "/account/messages"
	}
	if _, err := p.SignIn.Sessions.Find(r.Context(), p.Cookies.Secret(r)); err != nil {
		if errs.CodeOf(err) != errs.Unauthorized {
			p.fail(w, r, err)
			return
		}
		seeOther(w, r, signInLink(target))
		return
	}
	seeOther(w, r, target)
}

// linkExpiredPage is the data of the page of an expired link.
type linkExpiredPage struct{ SignIn string }

// unsubscribePage is the data of the unsubscribe pages: the question,
// then (Done) what stopped.
type unsubscribePage struct {
	Action string
	Done   bool
	// Stopped says what stopped, in the reader's language ("We will send
	// no more email to this address.").
	Stopped string
}

// unsubscribeForm asks whether to stop messages to the address the link
// was sent to, in the reader's language (the switcher's, else the
// browser's). Opening the link changes nothing: mail scanners open links.
func (p *Pages) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	l := p.lang(r)
	p.r.Page(w, r, http.StatusOK, "unsubscribe", p.publicData(w, r, l, "unsubscribe.title",
		unsubscribePage{Action: r.URL.Path}, nil))
}

// unsubscribe stops messages to the address of the link's message, on its
// channel, and says so. It answers the page's button and the one-click
// request of RFC 8058 alike; an unsubscribe link keeps working after it
// expires.
func (p *Pages) unsubscribe(w http.ResponseWriter, r *http.Request) {
	l := p.lang(r)
	r = withReader(r, l, false)
	channel, err := p.Notify.UnsubscribeLink(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, notify.ErrLinkInvalid):
		p.errorPage(w, r, http.StatusNotFound, "")
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	stopped := l.T("unsubscribe.stopped.messages")
	switch channel {
	case notify.Email:
		stopped = l.T("unsubscribe.stopped.email")
	case notify.SMS:
		stopped = l.T("unsubscribe.stopped.sms")
	}
	p.r.Page(w, r, http.StatusOK, "unsubscribe", p.publicData(w, r, l, "unsubscribe.done.title",
		unsubscribePage{Done: true, Stopped: stopped}, nil))
}
