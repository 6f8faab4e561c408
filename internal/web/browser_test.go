package web_test

// Browser tests: a real careloop server on loopback and headless Chromium
// driven over the DevTools protocol. Run with `go test ./internal/web/`;
// they need Debian's chromium (/usr/bin/chromium, or CARELOOP_CHROMIUM) and
// axe-core (`cd e2e/browser && npm ci`). Without them the tests skip, and
// fail when CI is set.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/tenant"
)

// need skips the test for a missing tool, or fails it when CI is set: CI
// must never skip the browser tests silently.
func need(t *testing.T, what, hint string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI is set, so this fails instead of skipping): %s", what, hint)
	}
	t.Skipf("skipping browser test: %s is missing: %s", what, hint)
}

func chromiumPath(t *testing.T) string {
	path := os.Getenv("CARELOOP_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		need(t, "Chromium ("+path+")", "apt-get install -y chromium, or set CARELOOP_CHROMIUM")
	}
	return path
}

func axeSource(t *testing.T) string {
	path := filepath.Join("..", "..", "e2e", "browser", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		need(t, "axe-core ("+path+")", "cd e2e/browser && npm ci")
	}
	return string(b)
}

const password = "violet kangaroo orbits softly"

// site is a running careloop with one organisation and its people.
type site struct {
	base string // http://localhost:PORT: WebAuthn needs a host name
	port int
	app  *app.App
	org  *tenant.Organization
	// shift moves the session store's clock forward, to age sessions.
	shift atomic.Int64
}

func startSite(t testing.TB) *site {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_, opts := dbtest.OpenWithOptions(t, db.SQLite)
	s := &site{base: fmt.Sprintf("http://localhost:%d", port), port: port}
	cfg, err := config.Parse("serve", config.Store|config.Server, []string{"--db", "sqlite:" + opts.SQLitePath,
		"--data-dir", t.TempDir(), "--addr", ln.Addr().String(), "--base-url", s.base}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.app, err = app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.app.Close() })
	// Set once, before the server runs; tests move it with shift.
	s.app.Sessions.SetClock(func() time.Time { return time.Now().UTC().Add(time.Duration(s.shift.Load())) })
	srv := &http.Server{Handler: s.app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	s.org = &tenant.Organization{Slug: "riverside", Name: "Riverside Family Clinic"}
	if err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error { return s.app.Orgs.CreateTx(ctx, tx, s.org) }); err != nil {
		t.Fatal(err)
	}
	return s
}

// person adds an account with the shared test password.
func (s *site) person(t testing.TB, email, name string, role identity.Role) {
	t.Helper()
	hash, err := identity.HashPassword(password, identity.DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		return s.app.Accounts.CreateTx(ctx, tx, &identity.Account{OrgID: s.org.ID, Email: email, DisplayName: name, Role: role}, hash)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// browser is one headless Chromium with a fresh profile, and the test's
// helpers to drive it.
type browser struct {
	t    *testing.T
	ctx  context.Context
	site *site
	axe  string
}

func newBrowser(t *testing.T, s *site) *browser {
	t.Helper()
	path, axe := chromiumPath(t), axeSource(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, site: s, axe: axe}
}

// do runs steps with a time limit, so that a page that never comes fails
// the test instead of hanging it.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.path())
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.site.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate %.60q: %v", expr, err)
	}
	return v
}

func (b *browser) path() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.Path
}

func (b *browser) text(css string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{textContent:""}).textContent.trim()`, css))
}

func (b *browser) fill(css, value string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS(css), value))
}

// click clicks css and waits until the browser has loaded a new page at
// path.
func (b *browser) click(css, path string) {
	b.t.Helper()
	b.markPage()
	b.do(chromedp.Click(chromedp.CSS(css)))
	b.waitFor(path)
}

// markPage marks the current document, so that waitFor waits for another.
func (b *browser) markPage() { eval[bool](b, `window.careloopOldPage = true`) }

// waitFor waits until a page not marked by markPage has loaded at path
// (any path when path is empty).
func (b *browser) waitFor(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" && !window.careloopOldPage ? location.pathname : ""`))
		if err == nil && loc != "" && (loc == path || path == "") {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("browser: waiting for %s, at %s: %s", path, b.path(), b.text("main"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// signIn signs in with email and the test password and waits for path.
func (b *browser) signIn(email, path string) {
	b.t.Helper()
	b.open("/signin")
	b.fill("#email", email)
	b.fill("#password", password)
	b.click(`form[action="/signin"] button[type=submit]`, path)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.click(`form[action="/signout"] button`, "/signin")
	if got := b.text(".flash"); got != "You have signed out." {
		b.t.Errorf("after signing out the page says %q", got)
	}
}

// violation is an accessibility problem axe-core found.
type violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkA11y runs axe-core on the page and fails the test on serious and
// critical violations.
func (b *browser) checkA11y(name string) {
	b.t.Helper()
	eval[bool](b, b.axe+"\n;true")
	out := eval[[]violation](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`)
	for _, v := range out {
		b.t.Errorf("accessibility of %s: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

func TestBrowserSignInWithPassword(t *testing.T) {
	s := startSite(t)
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)
	b := newBrowser(t, s)

	b.open("/signin")
	if typ := eval[string](b, `document.getElementById("org").type`); typ != "hidden" {
		t.Errorf("with one organisation the organisation field is %q, want hidden", typ)
	}
	if got := b.text("main p"); !strings.Contains(got, "Riverside Family Clinic") {
		t.Errorf("sign-in page names %q, want the organisation", got)
	}
	b.checkA11y("the sign-in page")

	b.fill("#email", "pat@example.org")
	b.fill("#password", "not the password")
	b.click(`form[action="/signin"] button[type=submit]`, "/signin")
	if got := b.text(".error-summary"); !strings.Contains(got, "The email or password is not right.") {
		t.Errorf("wrong password: error summary %q", got)
	}
	if got := eval[string](b, `document.querySelector(".error-summary a").getAttribute("href")`); got != "#password" {
		t.Errorf("error summary links to %q, want #password", got)
	}
	if got := eval[string](b, `document.getElementById("password").getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("password field aria-invalid = %q", got)
	}
	b.checkA11y("the sign-in page with an error")

	b.fill("#email", "pat@example.org")
	b.fill("#password", password)
	b.click(`form[action="/signin"] button[type=submit]`, "/home")
	b.open("/account") // patients land on the portal's home
	if got := b.text(`[data-testid=name]`); got != "Pat Jones" {
		t.Errorf("account page name %q", got)
	}
	if got := b.text(`[data-testid=role]`); got != "Patient" {
		t.Errorf("account page role %q", got)
	}
	b.checkA11y("the account page")

	b.open("/no/such/page")
	if got := b.text("h1"); got != "Page not found" {
		t.Errorf("unknown page h1 %q", got)
	}
	b.checkA11y("the not-found page")

	b.open("/account")
	b.signOut()
	b.open("/account")
	b.waitFor("/signin")
}

func TestBrowserStaffEnrollTOTPAndRecoveryCodes(t *testing.T) {
	s := startSite(t)
	s.person(t, "nurse@example.org", "Noor Nurse", identity.RoleNurse)
	b := newBrowser(t, s)

	b.signIn("nurse@example.org", "/account/security")
	if got := b.text(`[data-testid=must-enroll]`); !strings.Contains(got, "Set up a second factor to continue") {
		t.Errorf("must-enroll explanation %q", got)
	}
	b.checkA11y("the security page, must enroll")
	b.open("/account")
	b.waitFor("/account/security") // nothing else until enrolled

	b.click(`form[action="/account/security/totp"] button`, "/account/security/totp")
	secret := strings.ReplaceAll(b.text(`[data-testid=totp-secret]`), " ", "")
	if len(secret) < 16 {
		t.Fatalf("TOTP secret on the page %q", secret)
	}
	if n := eval[int](b, `document.querySelectorAll("svg.qr path").length`); n != 1 {
		t.Errorf("QR code paths: %d", n)
	}
	b.checkA11y("the security page, enrolling")

	b.fill("#code", "000000x")
	b.click(`form[action="/account/security/totp/confirm"] button`, "/account/security/totp/confirm")
	if got := b.text(".error-summary"); got == "" {
		t.Errorf("a malformed code shows no error")
	}
	b.checkA11y("the security page, wrong code")

	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/account/security/totp/confirm"] button`, "/account/security")
	if got := b.text(`[data-testid=totp-on]`); got == "" {
		t.Fatalf("after confirming, the page does not say the app is set up: %s", b.text("main"))
	}

	b.click(`form[action="/account/security/recovery-codes"] button`, "/account/security/recovery-codes")
	codes := eval[[]string](b, `[...document.querySelectorAll("[data-testid=recovery-codes] li")].map(li => li.textContent.trim())`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %d, want 10", len(codes))
	}
	b.checkA11y("the security page, new recovery codes")
	b.signOut()

	// Sign in with the app. The confirmation used the current time step,
	// and each step is accepted once: use the next one, which the server
	// accepts as clock skew.
	b.signIn("nurse@example.org", "/signin/factor")
	b.checkA11y("the second-factor page")
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", next)
	b.click(`form[action="/signin/factor"] button`, "/account")
	if got := b.text(`[data-testid=role]`); got != "Nurse" {
		t.Errorf("signed in with TOTP, account role %q", got)
	}
	b.signOut()

	// Sign in with a recovery code, which then is spent.
	b.signIn("nurse@example.org", "/signin/factor")
	b.fill("#code", codes[3])
	b.click(`form[action="/signin/factor"] button`, "/account")
	if got := b.text("main"); !strings.Contains(got, "Recovery codes left: 9") {
		t.Errorf("after using a recovery code the account says: %s", got)
	}
	b.signOut()
	b.signIn("nurse@example.org", "/signin/factor")
	b.fill("#code", codes[3])
	b.click(`form[action="/signin/factor"] button`, "/signin/factor")
	if got := b.text(".error-summary"); got == "" {
		t.Errorf("a spent recovery code was not refused")
	}
}

func TestBrowserPasskey(t *testing.T) {
	s := startSite(t)
	s.person(t, "tech@example.org", "Tam Tech", identity.RoleTechnician)
	b := newBrowser(t, s)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}

	b.signIn("tech@example.org", "/account/security")
	b.fill("#passkey-name", "Lab laptop")
	b.click(`[data-passkey-register]`, "/account/security")
	if got := b.text(`[data-testid=passkey] td`); got != "Lab laptop" {
		t.Errorf("registered passkey named %q", got)
	}
	b.checkA11y("the security page with a passkey")

	b.fill(`[data-testid=passkey] input[name=name]`, "Bench laptop")
	b.click(`[data-testid=passkey] form[action$="/rename"] button`, "/account/security")
	if got := b.text(`[data-testid=passkey] td`); got != "Bench laptop" {
		t.Errorf("renamed passkey shows %q", got)
	}
	b.signOut()

	// No password: the passkey alone, verified by the authenticator.
	b.open("/signin")
	b.click(`[data-passkey-signin]`, "/account")
	if got := b.text(`[data-testid=role]`); got != "Technician" {
		t.Errorf("signed in with a passkey, role %q", got)
	}
	b.signOut()

	// Password, then the passkey as second factor.
	b.signIn("tech@example.org", "/signin/factor")
	b.click(`[data-passkey-factor]`, "/account")

	// Removing needs a fresh second factor. Eleven minutes later the one
	// of the sign-in is too old: the page asks to confirm first.
	s.shift.Store(int64(11 * time.Minute))
	b.open("/account/security")
	if got := b.text("#stepup-title"); got != "Confirm it is you" {
		t.Errorf("step-up prompt %q", got)
	}
	b.checkA11y("the security page asking to confirm")
	b.click(`[data-testid=passkey] form[action$="/remove"] button`, "")
	if got := b.text(".error-summary"); !strings.Contains(got, "confirm it is you") {
		t.Errorf("removing without a fresh factor: %q", got)
	}
	b.click(`[data-passkey-factor]`, "/account/security")
	if got := b.text(".flash"); !strings.Contains(got, "next 10 minutes") {
		t.Errorf("after confirming with the passkey: %q", got)
	}
	b.click(`[data-testid=passkey] form[action$="/remove"] button`, "/account/security")
	if got := b.text(".flash"); !strings.Contains(got, "removed") {
		t.Errorf("after removing: %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll("[data-testid=passkey]").length`); n != 0 {
		t.Errorf("passkeys left: %d", n)
	}
}

// apiSignIn opens a session through the JSON API with a Go client: another
// device.
func apiSignIn(t *testing.T, s *site, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	body := fmt.Sprintf(`{"org":%q,"email":%q,"password":%q}`, s.org.Slug, email, password)
	resp, err := c.Post(s.base+"/auth/signin", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API sign-in: %s", resp.Status)
	}
	return c
}

func apiStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBrowserSessions(t *testing.T) {
	s := startSite(t)
	s.person(t, "sam@example.org", "Sam Smith", identity.RolePatient)
	b := newBrowser(t, s)
	b.signIn("sam@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	phone := apiSignIn(t, s, "sam@example.org")

	b.open("/account/sessions")
	rows := func() int { return eval[int](b, `document.querySelectorAll("[data-testid=session]").length`) }
	if n := rows(); n != 2 {
		t.Fatalf("sessions listed: %d, want 2", n)
	}
	if got := b.text(`[data-testid=session][data-current] td`); !strings.Contains(got, "this device") || !strings.Contains(got, "Chrome") {
		t.Errorf("current session shows %q", got)
	}
	b.checkA11y("the sessions page")

	b.click(`[data-testid=session]:not([data-current]) form button`, "/account/sessions")
	if n := rows(); n != 1 {
		t.Errorf("after ending one, sessions listed: %d", n)
	}
	if st := apiStatus(t, phone, s.base+"/auth/sessions"); st != http.StatusUnauthorized {
		t.Errorf("ended session still opens the API: %d", st)
	}

	phone = apiSignIn(t, s, "sam@example.org")
	tablet := apiSignIn(t, s, "sam@example.org")
	b.open("/account/sessions")
	b.click(`[data-testid=end-others]`, "/account/sessions")
	if n := rows(); n != 1 {
		t.Errorf("after signing out everywhere else, sessions listed: %d", n)
	}
	for _, c := range []*http.Client{phone, tablet} {
		if st := apiStatus(t, c, s.base+"/auth/sessions"); st != http.StatusUnauthorized {
			t.Errorf("a session ended everywhere else still opens the API: %d", st)
		}
	}
	b.open("/account")
	if got := b.text(`[data-testid=name]`); got != "Sam Smith" {
		t.Errorf("this device was signed out too: %q", got)
	}
}

func TestBrowserRefusesCrossOriginPost(t *testing.T) {
	s := startSite(t)
	s.person(t, "sam@example.org", "Sam Smith", identity.RolePatient)
	b := newBrowser(t, s)
	b.signIn("sam@example.org", "/home")
	b.open("/account") // patients land on the portal's home

	// A page of another origin that posts a form to careloop, as a
	// forged-request attack would.
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>other site</title><form id="f" method="post" action="%s/account/sessions/end-others"></form>
<script>document.getElementById("f").submit()</script></html>`, s.base)
	}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = evil.Serve(ln) }()
	t.Cleanup(func() { evil.Close() })
	phone := apiSignIn(t, s, "sam@example.org")

	b.markPage()
	b.do(chromedp.Navigate("http://" + ln.Addr().String() + "/"))
	b.waitFor("/account/sessions/end-others")
	if got := b.text("h1"); got != "Not allowed" {
		t.Errorf("cross-origin post answered with h1 %q: %s", got, b.text("main"))
	}
	if st := apiStatus(t, phone, s.base+"/auth/sessions"); st != http.StatusOK {
		t.Errorf("the forged request ended other sessions: %d", st)
	}

	// The same without a browser: an unsafe request declaring a cross-site
	// origin is refused.
	req, _ := http.NewRequest("POST", s.base+"/signout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "http://attacker.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /signout: %d, want 403", resp.StatusCode)
	}
}

// TestPageHeaders checks the security headers and the JSON fallback of
// the error renderer without a browser.
func TestPageHeaders(t *testing.T) {
	s := startSite(t)
	tests := []struct {
		name, path, accept string
		status             int
		contentType        string
	}{
		{"sign-in page", "/signin", "text/html,application/xhtml+xml", 200, "text/html"},
		{"not found for a browser", "/nowhere", "text/html,*/*", 404, "text/html"},
		{"not found for an API client", "/nowhere", "application/json", 404, "application/json"},
		{"account without a session", "/account", "text/html", 303, ""},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.base+tt.path, nil)
			req.Header.Set("Accept", tt.accept)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tt.status, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.contentType)
			}
			if tt.contentType == "application/json" && !json.Valid(body) {
				t.Errorf("body is not JSON: %.200s", body)
			}
			if tt.contentType == "text/html" {
				csp := resp.Header.Get("Content-Security-Policy")
				for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
				if strings.Contains(string(body), "<script>") {
					t.Errorf("page has an inline script")
				}
				if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") == "" {
					t.Errorf("frame or referrer headers missing: %v", resp.Header)
				}
			}
		})
	}
}
