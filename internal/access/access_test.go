package access_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"testing"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

func TestPolicy(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ids := identity.NewStore(d)
		var orgID, token, revoked string
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			o := &tenant.Organization{Slug: "clinic", Name: "Clinic"}
			if err := tenant.NewStore(d).CreateTx(ctx, tx, o); err != nil {
				return err
			}
			orgID = o.ID
			var err error
			if _, token, err = ids.CreateAPIKeyTx(ctx, tx, o.ID, "lab"); err != nil {
				return err
			}
			k, t2, err := ids.CreateAPIKeyTx(ctx, tx, o.ID, "old")
			if err != nil {
				return err
			}
			revoked = t2
			return ids.RevokeAPIKeyTx(ctx, tx, o.ID, k.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		p := access.NewPolicy(ids, nil)
		// A token one character off; the replacement must differ from the
		// character it replaces, or the "wrong" token is the right one.
		wrong := token[:len(token)-1] + "X"
		if token[len(token)-1] == 'X' {
			wrong = token[:len(token)-1] + "Y"
		}
		for name, tc := range map[string]struct {
			header string
			ok     bool
		}{
			"valid":          {"Bearer " + token, true},
			"lower scheme":   {"bearer " + token, true},
			"missing":        {"", false},
			"basic":          {"Basic dXNlcjpwdw==", false},
			"revoked":        {"Bearer " + revoked, false},
			"wrong token":    {"Bearer " + wrong, false},
			"not a careloop": {"Bearer eyJhbGciOi", false},
		} {
			r := httptest.NewRequest("GET", "/fhir/Patient", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			pr, err := p.Authenticate(r)
			if tc.ok {
				if err != nil || pr.OrgID != orgID || pr.Kind != "api-key" {
					t.Errorf("%s: %+v %v", name, pr, err)
				}
				if err := p.Allow(ctx, pr, fhir.InteractionRead, "Patient"); err != nil {
					t.Errorf("%s: allow: %v", name, err)
				}
				if !p.Visible(ctx, pr, &fhir.Stored{Type: "Patient", ID: "x"}) {
					t.Errorf("%s: not visible", name)
				}
				continue
			}
			if errs.CodeOf(err) != errs.Unauthorized {
				t.Errorf("%s: got %v, want unauthorized", name, err)
			}
		}
		if err := p.Allow(ctx, &fhir.Principal{OrgID: orgID, Kind: "user"}, fhir.InteractionRead, "Patient"); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("a principal of an unknown kind was allowed: %v", err)
		}
		if err := p.Allow(ctx, nil, fhir.InteractionRead, "Patient"); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("nobody was allowed: %v", err)
		}
	})
}

// TestClientScopes checks how the scopes of a backend client's token map
// to interactions: c create, r read/vread/history, u update/patch, d
// delete, s search; system-level interactions need a wildcard scope.
func TestClientScopes(t *testing.T) {
	ctx := context.Background()
	p := access.NewPolicy(nil, nil)
	pr := &fhir.Principal{OrgID: "o", Subject: "client/c", Kind: access.KindClient, Scopes: []string{"system/Observation.rs", "system/Patient.cud", "system/Encounter.r"}}
	for _, tc := range []struct {
		in  fhir.Interaction
		typ string
		ok  bool
	}{
		{fhir.InteractionRead, "Observation", true},
		{fhir.InteractionVRead, "Observation", true},
		{fhir.InteractionHistory, "Observation", true},
		{fhir.InteractionSearch, "Observation", true},
		{fhir.InteractionCreate, "Observation", false},
		{fhir.InteractionUpdate, "Observation", false},
		{fhir.InteractionPatch, "Observation", false},
		{fhir.InteractionDelete, "Observation", false},
		{fhir.InteractionCreate, "Patient", true},
		{fhir.InteractionUpdate, "Patient", true},
		{fhir.InteractionPatch, "Patient", true},
		{fhir.InteractionDelete, "Patient", true},
		{fhir.InteractionRead, "Patient", false},
		{fhir.InteractionSearch, "Patient", false},
		{fhir.InteractionSearch, "Encounter", false},
		{fhir.InteractionOperation, "Encounter", true},
		{fhir.InteractionRead, "Condition", false},
		{fhir.InteractionHistory, "", false},
		{fhir.InteractionOperation, "", false},
		{fhir.InteractionCapabilities, "", true},
		{fhir.Interaction("transmogrify"), "Observation", false},
	} {
		err := p.Allow(ctx, pr, tc.in, tc.typ)
		if tc.ok && err != nil || !tc.ok && errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("%s %s: %v", tc.in, tc.typ, err)
		}
	}
	wild := &fhir.Principal{OrgID: "o", Subject: "client/c", Kind: access.KindClient, Scopes: []string{"system/*.rs"}}
	if err := p.Allow(ctx, wild, fhir.InteractionHistory, ""); err != nil {
		t.Errorf("system history with system/*.rs: %v", err)
	}
	if err := p.Allow(ctx, wild, fhir.InteractionOperation, ""); err != nil {
		t.Errorf("$export with system/*.rs: %v", err)
	}
	for typ, want := range map[string]bool{"Observation": true, "Encounter": true, "Patient": false, "Condition": false} {
		if got := p.Visible(ctx, pr, &fhir.Stored{Type: typ, ID: "x"}); got != want {
			t.Errorf("visible %s: %v", typ, got)
		}
	}
	if p.Visible(ctx, nil, &fhir.Stored{Type: "Observation"}) {
		t.Error("visible to nobody")
	}
}
