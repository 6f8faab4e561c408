package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
)

// signInAPI builds sign-in, second factors, passkeys and sessions on the
// app's stores. The second-factor secrets are sealed with a key drawn from
// careloop's secret key file.
func (a *App) signInAPI() (*signin.API, error) {
	key, err := keys.LoadOrCreate(a.Config.KeyFile())
	if err != nil {
		return nil, err
	}
	factors, err := identity.NewFactorStore(a.DB, key.Derive("second-factor secrets", identity.FactorKeySize))
	if err != nil {
		return nil, err
	}
	a.Sessions = session.NewStore(a.DB, session.Policy{})
	svc := &signin.Service{DB: a.DB, Accounts: a.Accounts, Factors: factors, Sessions: a.Sessions,
		Throttle: signin.NewThrottle(a.DB), Notices: logNotices{a.Log.With("component", "signin")}, Log: a.Log}
	api := &signin.API{Service: svc, Orgs: a.Orgs, Accounts: a.Accounts, Enroll: factors,
		Cookies: session.Cookies{Secure: a.Config.BaseURL.Scheme == "https"}}
	// WebAuthn binds passkeys to a host name: with an IP address in the
	// base URL (the default 127.0.0.1) passkeys are off.
	if host := a.Config.BaseURL.Hostname(); net.ParseIP(host) == nil {
		cfg, err := identity.PasskeyConfigFromBaseURL(a.Config.BaseURL)
		if err != nil {
			return nil, err
		}
		passkeys, err := identity.NewPasskeys(a.DB, cfg)
		if err != nil {
			return nil, err
		}
		api.Passkeys = passkeys
		svc.Passkeys = signin.PasskeyFactor{Passkeys: passkeys}
	} else {
		a.Log.Info("passkeys are off: WebAuthn needs a host name in --base-url (for example http://localhost:8080)", "base_url", a.Config.BaseURL.String())
	}
	return api, nil
}

// logNotices records sign-in notices in the log. People are told through
// their inbox, email or SMS once notifications are built; until then the
// operator sees them.
type logNotices struct{ log *slog.Logger }

func (n logNotices) RepeatedFailures(_ context.Context, a *identity.Account, address string) {
	n.log.Warn("sign-in blocked after repeated failures", "org", a.OrgID, "account", a.ID, "address", address)
}

func (n logNotices) NewDevice(_ context.Context, a *identity.Account, userAgent, address string) {
	n.log.Info("sign-in from a new device", "org", a.OrgID, "account", a.ID, "address", address, "user_agent", fmt.Sprintf("%.120s", userAgent))
}
