package signin_test

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

// TestSecurityNoticesByEmail checks that people are told by email, through
// the job queue, about a sign-in from a new device and about an account
// blocked after repeated failures, and not about their first sign-in.
func TestSecurityNoticesByEmail(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		f.life.Service.Notices = signin.EmailNotices{Lifecycle: f.life, Orgs: tenant.NewStore(d)}
		const who = "tech@example.org" // staff without a second factor: signed in by the password
		signIn := func(ua, password string) int {
			status, _ := f.client(ua).do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": who, "password": password})
			return status
		}
		if s := signIn("Firefox on Linux", goodPassword); s != 200 {
			t.Fatalf("first sign-in: %d", s)
		}
		if s := signIn("Firefox on Linux", goodPassword); s != 200 {
			t.Fatalf("sign-in from the same device: %d", s)
		}
		f.settle()
		if n := len(f.smtp.To(who)); n != 0 {
			t.Fatalf("%d notices after sign-ins from one device, want none", n)
		}
		if s := signIn("Safari on iPhone", goodPassword); s != 200 {
			t.Fatalf("sign-in from a new device: %d", s)
		}
		m := f.mailTo(who, 1)
		if !strings.Contains(m.Header("Subject"), "New sign-in") || !strings.Contains(m.Body(), "Safari on iPhone") ||
			!strings.Contains(m.Body(), baseURL+"/account/sessions") {
			t.Errorf("new-device notice: %q\n%s", m.Header("Subject"), m.Body())
		}
		noHealthData(t, m)
		for i := 0; i < signin.AccountLimit.Failures; i++ {
			signIn("Curl", "not the password at all")
		}
		m = f.mailTo(who, 2)
		if !strings.Contains(m.Header("Subject"), "Sign-in attempts") || !strings.Contains(m.Body(), "paused") {
			t.Errorf("repeated-failures notice: %q\n%s", m.Header("Subject"), m.Body())
		}
	})
}
