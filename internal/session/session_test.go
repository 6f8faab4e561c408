package session_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/tenant"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T, d *db.DB) (*session.Store, *clock, string, string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for _, slug := range []string{"clinic-a", "clinic-b"} {
		o := &tenant.Organization{Slug: slug, Name: slug}
		if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, o) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	s := session.NewStore(d, session.Policy{})
	c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s.SetClock(c.now)
	return s, c, ids[0], ids[1]
}

func mustFind(t *testing.T, s *session.Store, secret string) *session.Session {
	t.Helper()
	se, err := s.Find(context.Background(), secret)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	return se
}

func mustNotFind(t *testing.T, s *session.Store, secret, why string) {
	t.Helper()
	if _, err := s.Find(context.Background(), secret); errs.CodeOf(err) != errs.Unauthorized {
		t.Fatalf("%s: find gave %v, want Unauthorized", why, err)
	}
}

func TestSessionLifecycle(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, c, a, b := setup(t, d)
		staff, secret, err := s.Open(ctx, session.New{OrgID: a, AccountID: "u1", Role: "clinician", FactorVerified: true, UserAgent: "Firefox", Address: "10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if staff.Idle != 15*time.Minute || !staff.ExpiresAt.Equal(c.now().Add(12*time.Hour)) || !staff.FactorWithin(c.now(), time.Minute) {
			t.Errorf("staff session %+v", staff)
		}
		got := mustFind(t, s, secret)
		if got.ID != staff.ID || got.AccountID != "u1" || got.Role != "clinician" || got.UserAgent != "Firefox" || got.Address != "10.0.0.1" {
			t.Errorf("found %+v", got)
		}
		mustNotFind(t, s, secret+"x", "a wrong secret")
		mustNotFind(t, s, "", "no secret")

		// Use keeps it alive past the idle timeout; idleness ends it.
		for range 4 {
			c.add(10 * time.Minute)
			mustFind(t, s, secret)
		}
		c.add(15*time.Minute + time.Second)
		mustNotFind(t, s, secret, "15 minutes idle")
		c.add(-20 * time.Minute) // even back in time, an ended session stays ended
		mustNotFind(t, s, secret, "an ended session")

		// Patients idle for 30 minutes.
		_, psecret, err := s.Open(ctx, session.New{OrgID: a, AccountID: "p1", Role: "patient"})
		if err != nil {
			t.Fatal(err)
		}
		c.add(25 * time.Minute)
		if se := mustFind(t, s, psecret); se.Idle != 30*time.Minute || !se.FactorAt.IsZero() || se.FactorWithin(c.now(), time.Hour) {
			t.Errorf("patient session %+v", se)
		}

		// The absolute timeout ends a session in constant use.
		_, asecret, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u2", Role: "nurse"})
		for i := 0; i < 12*6-1; i++ {
			c.add(10 * time.Minute)
			mustFind(t, s, asecret)
		}
		c.add(10 * time.Minute)
		mustNotFind(t, s, asecret, "past the absolute timeout")

		// Renewing: the old secret opens nothing, the new one does, and
		// the second factor is recorded.
		_, rsecret, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u3", Role: "clinician"})
		renewed, fresh, err := s.Renew(ctx, rsecret, true)
		if err != nil || fresh == rsecret || !renewed.FactorWithin(c.now(), time.Second) {
			t.Fatalf("renew: %v %+v", err, renewed)
		}
		mustNotFind(t, s, rsecret, "the secret before renewal")
		if se := mustFind(t, s, fresh); se.ID != renewed.ID || se.FactorAt.IsZero() {
			t.Errorf("renewed session %+v", se)
		}
		if _, _, err := s.Renew(ctx, rsecret, false); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("renewing with a stale secret: %v", err)
		}

		// A session awaiting its second factor opens nothing until
		// completed, then only with its new secret; it waits 5 minutes.
		wait, wsecret, err := s.Open(ctx, session.New{OrgID: a, AccountID: "u4", Role: "clinician", AwaitFactor: true})
		if err != nil || !wait.AwaitsFactor {
			t.Fatalf("open awaiting: %v %+v", err, wait)
		}
		mustNotFind(t, s, wsecret, "a session awaiting its factor")
		if _, err := s.FindAwaiting(ctx, wsecret); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindAwaiting(ctx, secret); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("an open session found as awaiting: %v", err)
		}
		done, dsecret, err := s.Complete(ctx, wsecret)
		if err != nil || done.AwaitsFactor || done.FactorAt.IsZero() || done.Idle != 15*time.Minute {
			t.Fatalf("complete: %v %+v", err, done)
		}
		mustNotFind(t, s, wsecret, "the secret before completion")
		mustFind(t, s, dsecret)
		if _, _, err := s.Complete(ctx, dsecret); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("completing an open session: %v", err)
		}
		_, w2, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u4", Role: "clinician", AwaitFactor: true})
		c.add(5*time.Minute + time.Second)
		if _, _, err := s.Complete(ctx, w2); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("completing after 5 minutes: %v", err)
		}
		if list, _ := s.List(ctx, a, "u4"); len(list) != 1 {
			t.Errorf("u4 sessions listed: %+v", list)
		}

		// Signing out: a stolen copy of the cookie opens nothing after.
		if err := s.EndSecret(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		mustNotFind(t, s, fresh, "a cookie after sign-out")

		// Listing and ending; other accounts and organisations untouched.
		_, s1, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u9", Role: "clinician", UserAgent: "phone"})
		c.add(time.Second)
		cur, s2, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u9", Role: "clinician", UserAgent: "laptop"})
		c.add(time.Second)
		_, s3, _ := s.Open(ctx, session.New{OrgID: a, AccountID: "u9", Role: "clinician", UserAgent: "tablet"})
		other, s4, _ := s.Open(ctx, session.New{OrgID: b, AccountID: "u9", Role: "clinician"})
		list, err := s.List(ctx, a, "u9")
		if err != nil || len(list) != 3 || list[0].UserAgent != "tablet" || list[2].UserAgent != "phone" {
			t.Fatalf("list: %v %+v", err, list)
		}
		if err := s.End(ctx, a, "u9", other.ID); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("ending another organisation's session: %v", err)
		}
		if err := s.End(ctx, a, "u1", list[0].ID); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("ending another account's session: %v", err)
		}
		if err := s.End(ctx, a, "u9", list[0].ID); err != nil {
			t.Fatal(err)
		}
		mustNotFind(t, s, s3, "an ended session")
		if n, err := s.EndAll(ctx, a, "u9", cur.ID); err != nil || n != 1 {
			t.Errorf("sign out everywhere else: %d %v", n, err)
		}
		mustNotFind(t, s, s1, "a session ended everywhere")
		mustFind(t, s, s2)
		mustFind(t, s, s4)
	})
}

func TestLoadMiddleware(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		s, c, a, _ := setup(t, d)
		_, secret, err := s.Open(context.Background(), session.New{OrgID: a, AccountID: "u1", Role: "clinician"})
		if err != nil {
			t.Fatal(err)
		}
		cookies := session.Cookies{Secure: true}
		h := s.Load(cookies)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if se := session.From(r.Context()); se != nil {
				w.Write([]byte(se.AccountID))
			}
		}))
		call := func(value string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("GET", "/", nil)
			if value != "" {
				r.AddCookie(&http.Cookie{Name: "__Host-careloop_session", Value: value})
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		if w := call(secret); w.Body.String() != "u1" || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("with a session: %q %q", w.Body.String(), w.Header().Get("Set-Cookie"))
		}
		c.add(time.Hour)
		w := call(secret)
		if w.Body.String() != "" || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("with an idle session: %q %q", w.Body.String(), w.Header().Get("Set-Cookie"))
		}
		if w := call(""); w.Body.String() != "" {
			t.Errorf("without a cookie: %q", w.Body.String())
		}
		rec := httptest.NewRecorder()
		cookies.Set(rec, "abc")
		set := rec.Header().Get("Set-Cookie")
		for _, want := range []string{"__Host-careloop_session=abc", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(set, want) {
				t.Errorf("Set-Cookie %q lacks %q", set, want)
			}
		}
		if strings.Contains(set, "Domain") || strings.Contains(set, "Expires") {
			t.Errorf("Set-Cookie %q has a domain or an expiry", set)
		}
	})
}
