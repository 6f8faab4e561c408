// Package access is careloop's policy point: who is calling, and what they
// may do. The FHIR API asks it before every interaction and for every
// resource it returns.
//
// Today it admits systems holding an organisation's API key, with full
// access to that organisation's data and none to any other's. Roles,
// patient compartments, care relationships, break-glass and consent come
// with user sign-in.
package access

import (
	"context"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
)

// KeyAuthenticator finds the API key of a bearer token.
type KeyAuthenticator interface {
	AuthenticateAPIKey(ctx context.Context, token string) (*identity.APIKey, error)
}

// Policy decides access to the FHIR API.
type Policy struct {
	keys KeyAuthenticator
}

// NewPolicy returns the policy, authenticating API keys with keys.
func NewPolicy(keys KeyAuthenticator) *Policy { return &Policy{keys: keys} }

// Authenticate reads the bearer token of r.
func (p *Policy) Authenticate(r *http.Request) (*fhir.Principal, error) {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, errs.E(errs.Unauthorized, "this API needs an Authorization: Bearer token (an API key from 'careloop apikey create')")
	}
	k, err := p.keys.AuthenticateAPIKey(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	return &fhir.Principal{OrgID: k.OrgID, Subject: "api-key/" + k.ID, Kind: "api-key"}, nil
}

// Allow admits API keys to every interaction within their organisation;
// organisation isolation is enforced by the store, which scopes every
// query to Principal.OrgID.
func (p *Policy) Allow(ctx context.Context, pr *fhir.Principal, in fhir.Interaction, resourceType string) error {
	if pr == nil || pr.OrgID == "" {
		return errs.E(errs.Unauthorized, "not signed in")
	}
	if pr.Kind == "api-key" {
		return nil
	}
	return errs.Forbiddenf("%s may not %s %s", pr.Subject, in, resourceType)
}

// Visible lets API keys see every resource of their organisation.
func (p *Policy) Visible(ctx context.Context, pr *fhir.Principal, st *fhir.Stored) bool {
	return pr != nil && pr.Kind == "api-key"
}
