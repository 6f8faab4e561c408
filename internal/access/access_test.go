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
		p := access.NewPolicy(ids)
		for name, tc := range map[string]struct {
			header string
			ok     bool
		}{
			"valid":          {"Bearer " + token, true},
			"lower scheme":   {"bearer " + token, true},
			"missing":        {"", false},
			"basic":          {"Basic dXNlcjpwdw==", false},
			"revoked":        {"Bearer " + revoked, false},
			"wrong token":    {"Bearer clk_" + token[4:len(token)-1] + "X", false},
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
