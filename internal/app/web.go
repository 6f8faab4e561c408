package app

import (
	"net/http"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/web"
)

// registerPages adds the sign-in, account and account-lifecycle pages to
// mux, built on the services of the sign-in API (Lifecycle included), and
// the pages of proxy access, break-glass and "who looked at my record",
// built on the access API's rules and the audit log, and the care team's
// results pages, audited like the journeys' JSON API; it
// makes errors answered to browsers (unknown pages, cross-origin refusals)
// friendly pages: opts gains an error renderer for "/" that keeps JSON for
// every other client. Call it before opts is used.
func (a *App) registerPages(mux *http.ServeMux, api *signin.API, acc *access.API, opts *httpx.Options) error {
	cfg := web.Config{SignIn: api.Service, Orgs: a.Orgs, Accounts: api.Accounts, Enroll: api.Enroll,
		Lifecycle: api.Lifecycle, Cookies: api.Cookies, Log: a.Log.With("component", "web"),
		Access: acc.Service(), AuditLog: a.Audit, Journeys: a.Journeys, JourneyAudit: journeyAudit{log: a.Audit},
		Notify: a.Notify, NotifyProviders: a.NotifyProviders, Inboxes: &directory{app: a}, NotifyAudit: notifyAudit{log: a.Audit},
		Profiles: &directory{app: a}}
	if pk, ok := api.Passkeys.(*identity.Passkeys); ok && pk != nil {
		cfg.Passkeys = pk
	}
	pages, err := web.New(cfg)
	if err != nil {
		return err
	}
	pages.Register(mux)
	if opts.ErrorRenderers == nil {
		opts.ErrorRenderers = map[string]httpx.ErrorRenderer{}
	}
	if _, taken := opts.ErrorRenderers["/"]; !taken {
		opts.ErrorRenderers["/"] = pages.ErrorRenderer(nil)
	}
	opts.CrossOriginBypass = append(opts.CrossOriginBypass, web.UnsubscribeRoute)
	return nil
}
