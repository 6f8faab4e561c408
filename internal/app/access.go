package app

import (
	"net/http"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/session"
)

// accessAPI lets people signed in with a session cookie through the FHIR
// API's policy point, and builds the API of proxy grants and break-glass.
// It needs the sessions that signInAPI builds.
func (a *App) accessAPI(cookies session.Cookies, trustedOrigins []string) *access.API {
	cop := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		// The origins come from the configured base URL, checked at start.
		_ = cop.AddTrustedOrigin(o)
	}
	grants := access.NewGrants(a.DB)
	grants.Audit = securityAudit{a.Audit}
	users := &access.Users{
		Sessions: a.Sessions, Accounts: a.Accounts, Grants: grants, Records: a.Search,
		Cookies: cookies, BaseURL: a.Config.BaseURL.String() + "/fhir", CrossOrigin: cop,
	}
	a.Policy.Users = users
	return &access.API{Users: users, Emails: a.Accounts, Log: a.Log.With("component", "access")}
}
