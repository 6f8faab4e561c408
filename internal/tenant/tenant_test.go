package tenant_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

func TestStoreContract(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := tenant.NewStore(d)
		create := func(o *tenant.Organization) error {
			return d.InTx(ctx, func(tx *sql.Tx) error { return s.CreateTx(ctx, tx, o) })
		}
		if orgs, err := s.List(ctx); err != nil || len(orgs) != 0 {
			t.Fatalf("empty list: %v %v", orgs, err)
		}
		west := &tenant.Organization{Slug: "westside-lab", Name: "Westside Lab"}
		if err := create(west); err != nil {
			t.Fatal(err)
		}
		if west.ID == "" || west.CreatedAt.IsZero() {
			t.Fatalf("id and time not filled: %+v", west)
		}
		if err := create(&tenant.Organization{Slug: "east", Name: "East"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.BySlug(ctx, "westside-lab")
		if err != nil || got.ID != west.ID || got.Name != "Westside Lab" || got.CreatedAt.Sub(west.CreatedAt).Abs() > time.Millisecond {
			t.Fatalf("BySlug: %+v %v", got, err)
		}
		if _, err := s.BySlug(ctx, "nowhere"); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("missing slug: %v", err)
		}
		orgs, err := s.List(ctx)
		if err != nil || len(orgs) != 2 || orgs[0].Slug != "east" {
			t.Fatalf("list: %+v %v", orgs, err)
		}
		for name, tc := range map[string]struct {
			org  tenant.Organization
			code errs.Code
		}{
			"slug in use":      {tenant.Organization{Slug: "east", Name: "Other East"}, errs.Conflict},
			"upper case slug":  {tenant.Organization{Slug: "East", Name: "x"}, errs.Invalid},
			"slug with spaces": {tenant.Organization{Slug: "a b", Name: "x"}, errs.Invalid},
			"trailing hyphen":  {tenant.Organization{Slug: "a-", Name: "x"}, errs.Invalid},
			"empty name":       {tenant.Organization{Slug: "ok"}, errs.Invalid},
		} {
			o := tc.org
			if err := create(&o); errs.CodeOf(err) != tc.code {
				t.Errorf("%s: got %v, want %s", name, err, tc.code)
			}
		}
		if orgs, _ := s.List(ctx); len(orgs) != 2 {
			t.Errorf("rejected organisations were stored: %d", len(orgs))
		}
	})
}
