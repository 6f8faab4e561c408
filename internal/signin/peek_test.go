package signin_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/signin"
)

// invitationSecret invites email as a nurse named name and returns the
// secret of its link.
func (f *lifecycleFixture) invitationSecret(email, name string) string {
	f.t.Helper()
	_, link, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: email, Role: identity.RoleNurse, Name: name, By: "cli"})
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		f.t.Fatalf("invitation link %q: %v", link, err)
	}
	return u.Query().Get("token")
}

// isInvalidLink reports whether err is the one answer to a link that opens
// nothing.
func isInvalidLink(err error) bool {
	return errors.Is(err, identity.ErrTokenInvalid) && errs.CodeOf(err) == errs.Unauthorized && errs.MessageOf(err) == identity.InvalidLinkMessage
}

func TestPeekInvitation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		ctx := context.Background()
		const addr = "198.51.100.7"
		spent := f.invitationSecret("otto@example.org", "")
		if _, err := f.life.AcceptInvitation(ctx, f.org, signin.Acceptance{Token: spent, Name: "Otto", Password: goodPassword, Address: addr}); err != nil {
			t.Fatal(err)
		}
		expired := f.invitationSecret("ivy@example.org", "Ivy")
		f.advance(identity.PurposeInvitation.TTL() + time.Minute)
		valid := f.invitationSecret("nell@example.org", "Nell")
		valid2 := f.invitationSecret("nell2@example.org", "")

		got, err := f.life.Peek(ctx, f.org, valid, addr)
		if err != nil {
			t.Fatalf("a valid link: %v", err)
		}
		if got.Email != "nell@example.org" || got.Role != identity.RoleNurse || got.Name != "Nell" || !got.ExpiresAt.Equal(f.clock().Add(72*time.Hour)) {
			t.Errorf("a valid link is for %+v", got)
		}
		if got, err := f.life.Peek(ctx, f.org, valid2, addr); err != nil || got.Email != "nell2@example.org" || got.Name != "" {
			t.Errorf("a valid link without a name: %+v %v", got, err)
		}

		for _, tc := range []struct{ name, secret string }{
			{"spent", spent},
			{"expired", expired},
			{"unknown", identity.NewSecret(identity.PurposeInvitation)},
			{"malformed", "abc"},
			{"empty", ""},
		} {
			if _, err := f.life.Peek(ctx, f.org, tc.secret, addr); !isInvalidLink(err) {
				t.Errorf("%s link: %v, want the one invalid-link answer", tc.name, err)
			}
		}

		// Looking spends nothing, and a look at a valid link is not a
		// failure: more looks than the address may fail, then acceptance.
		for i := 0; i < signin.AddressLimit.Failures+5; i++ {
			if _, err := f.life.Peek(ctx, f.org, valid2, "198.51.100.8"); err != nil {
				t.Fatalf("look %d at a valid link: %v", i+1, err)
			}
		}
		out, err := f.life.AcceptInvitation(ctx, f.org, signin.Acceptance{Token: valid, Password: goodPassword, Address: addr})
		if err != nil || out.Account.DisplayName != "Nell" || out.Account.Role != identity.RoleNurse {
			t.Fatalf("accepting after looking: %+v %v", out, err)
		}
		if _, err := f.life.Peek(ctx, f.org, valid, addr); !isInvalidLink(err) {
			t.Errorf("a link just accepted: %v", err)
		}
	})
}

func TestPeekCountsWrongLinksAgainstTheAddress(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		ctx := context.Background()
		const addr = "203.0.113.9"
		valid := f.invitationSecret("nell@example.org", "Nell")
		for i := 0; i < signin.AddressLimit.Failures; i++ {
			if _, err := f.life.Peek(ctx, f.org, identity.NewSecret(identity.PurposeInvitation), addr); !isInvalidLink(err) {
				t.Fatalf("wrong link %d: %v", i+1, err)
			}
		}
		// The address is paused, for looks and acceptance alike; another
		// address is not.
		if _, err := f.life.Peek(ctx, f.org, valid, addr); errs.CodeOf(err) != errs.RateLimited {
			t.Errorf("a valid link from a paused address: %v, want rate limited", err)
		}
		if _, err := f.life.AcceptInvitation(ctx, f.org, signin.Acceptance{Token: valid, Password: goodPassword, Address: addr}); errs.CodeOf(err) != errs.RateLimited {
			t.Errorf("accepting from a paused address: %v, want rate limited", err)
		}
		if got, err := f.life.Peek(ctx, f.org, valid, "203.0.113.10"); err != nil || got.Email != "nell@example.org" {
			t.Errorf("a valid link from another address: %+v %v", got, err)
		}
	})
}

// TestStaffRoles checks that the one list of staff roles is exactly the
// roles identity counts as staff, and that Invite gives only those.
func TestStaffRoles(t *testing.T) {
	all := []identity.Role{identity.RolePatient, identity.RoleCaregiver, identity.RoleClinician, identity.RoleNurse,
		identity.RoleTechnician, identity.RoleCoordinator, identity.RoleCompliance, identity.RoleAdmin}
	staff := signin.StaffRoles()
	for _, r := range all {
		if slices.Contains(staff, r) != identity.StaffRole(r) {
			t.Errorf("role %s: in StaffRoles %v, identity.StaffRole %v", r, slices.Contains(staff, r), identity.StaffRole(r))
		}
	}
	if len(staff) != 6 {
		t.Errorf("StaffRoles %v, want the six staff roles once each", staff)
	}
	staff[0] = identity.RolePatient
	if signin.StaffRoles()[0] != identity.RoleClinician {
		t.Errorf("a caller's change to the list reached the next caller")
	}

	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		for i, r := range all {
			_, _, err := f.life.Invite(context.Background(), f.org, signin.Invitation{Email: "x" + string(rune('a'+i)) + "@example.org", Role: r, By: "cli"})
			if identity.StaffRole(r) != (err == nil) {
				t.Errorf("inviting a %s: %v", r, err)
			}
			if err != nil && (errs.CodeOf(err) != errs.Invalid || errs.MessageOf(err) != `"`+string(r)+`" is not a staff role: clinician, nurse, technician, care-coordinator, compliance-officer or org-admin.`) {
				t.Errorf("inviting a %s: %v", r, err)
			}
		}
	})
}
