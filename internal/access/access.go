// Package access is careloop's policy point: who is calling, and what they
// may do. The FHIR API asks it before every interaction and for every
// resource it returns.
//
// It admits two kinds of systems and one of people. A system holding an
// organisation's API key has full access to that organisation's data and
// none to any other's. A backend client holding an access token from the
// token endpoint (internal/oauth, SMART Backend Services) reaches its
// organisation's data as far as the token's SMART scopes allow. A person
// signed in with a session cookie (Users) reaches what their role permits
// (roles.go) in the records of the patients they reach: their own and
// those they are proxy for (patients, caregivers), those in their care or
// reached by break-glass (clinicians, nurses, technicians), or every
// patient of the organisation (care coordinators, compliance officers);
// Consents that restrict sharing are honoured. Organisations are isolated
// completely: every query is scoped to the caller's organisation, and a
// resource the caller may not see answers as if it did not exist.
package access

import (
	"context"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/oauth"
	"github.com/careloop/careloop/internal/platform/errs"
)

// KeyAuthenticator finds the API key of a bearer token.
type KeyAuthenticator interface {
	AuthenticateAPIKey(ctx context.Context, token string) (*identity.APIKey, error)
}

// TokenAuthenticator finds what an OAuth access token stands for.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (*oauth.AccessToken, error)
}

// Kinds of principals this policy admits.
const (
	KindAPIKey = "api-key"
	KindClient = "client"
)

// Policy decides access to the FHIR API.
type Policy struct {
	keys   KeyAuthenticator
	tokens TokenAuthenticator
	// Users admits people signed in with a session cookie; nil admits
	// systems only.
	Users *Users
}

// NewPolicy returns the policy, authenticating API keys with keys and the
// access tokens of backend clients with tokens. A nil tokens admits API
// keys only.
func NewPolicy(keys KeyAuthenticator, tokens TokenAuthenticator) *Policy {
	return &Policy{keys: keys, tokens: tokens}
}

// Authenticate reads the bearer token of r: an access token of a backend
// client (Kind "client", Subject "client/ID", with its scopes) or an API
// key (Kind "api-key").
func (p *Policy) Authenticate(r *http.Request) (*fhir.Principal, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" && p.Users != nil {
		return p.Users.Authenticate(r)
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, errs.E(errs.Unauthorized, "this API needs an Authorization: Bearer token (an API key from 'careloop apikey create', or an access token from /auth/token)")
	}
	token = strings.TrimSpace(token)
	if p.tokens != nil && oauth.IsToken(token) {
		t, err := p.tokens.AuthenticateToken(r.Context(), token)
		if err != nil {
			return nil, err
		}
		return &fhir.Principal{OrgID: t.OrgID, Subject: t.Subject, Kind: KindClient, Scopes: t.Scopes}, nil
	}
	k, err := p.keys.AuthenticateAPIKey(r.Context(), token)
	if err != nil {
		return nil, err
	}
	return &fhir.Principal{OrgID: k.OrgID, Subject: "api-key/" + k.ID, Kind: KindAPIKey}, nil
}

// permOf maps an interaction to the SMART v2 permission it needs: c for
// create, r for read, vread and history, u for update and patch, d for
// delete, s for search. An operation ($everything, $export) reads.
func permOf(in fhir.Interaction) (oauth.Perm, bool) {
	switch in {
	case fhir.InteractionCreate:
		return oauth.PermCreate, true
	case fhir.InteractionRead, fhir.InteractionVRead, fhir.InteractionHistory, fhir.InteractionOperation:
		return oauth.PermRead, true
	case fhir.InteractionUpdate, fhir.InteractionPatch:
		return oauth.PermUpdate, true
	case fhir.InteractionDelete:
		return oauth.PermDelete, true
	case fhir.InteractionSearch:
		return oauth.PermSearch, true
	}
	return 0, false
}

// Allow admits API keys to every interaction within their organisation,
// and backend clients to the interactions their scopes permit on the
// type. A system-level interaction (resourceType "", such as history of
// the whole server or $export) needs the permission on every type
// (system/*.r). Organisation isolation is enforced by the store, which
// scopes every query to Principal.OrgID.
func (p *Policy) Allow(ctx context.Context, pr *fhir.Principal, in fhir.Interaction, resourceType string) error {
	if pr == nil || pr.OrgID == "" {
		return errs.E(errs.Unauthorized, "not signed in")
	}
	switch pr.Kind {
	case KindAPIKey:
		return nil
	case KindClient:
		if in == fhir.InteractionCapabilities {
			return nil
		}
		perm, ok := permOf(in)
		typ := resourceType
		if typ == "" {
			typ = "*"
		}
		if ok && oauth.Permits(pr.Scopes, typ, perm) {
			return nil
		}
		if !ok {
			return errs.Forbiddenf("%s may not %s %s", pr.Subject, in, resourceType)
		}
		return errs.Forbiddenf("%s may not %s %s: that needs the scope system/%s.%s, and the token has %s",
			pr.Subject, in, typ, typ, perm, strings.Join(pr.Scopes, " "))
	case KindUser:
		if c, ok := callerFrom(pr); ok {
			return c.allow(in, resourceType)
		}
	}
	return errs.Forbiddenf("%s may not %s %s", pr.Subject, in, resourceType)
}

// Visible lets API keys see every resource of their organisation, backend
// clients the resources of the types they may read or search, and people
// what their role reads in the records they reach (see caller.visible):
// resources they may not see are left out of searches (_include),
// histories and $everything, and a read of one answers 404.
func (p *Policy) Visible(ctx context.Context, pr *fhir.Principal, st *fhir.Stored) bool {
	if pr == nil {
		return false
	}
	switch pr.Kind {
	case KindAPIKey:
		return true
	case KindClient:
		return oauth.Permits(pr.Scopes, st.Type, oauth.PermRead|oauth.PermSearch)
	case KindUser:
		if c, ok := callerFrom(pr); ok && p.Users != nil {
			return c.visible(st, p.Users.BaseURL)
		}
	}
	return false
}
