package web_test

// Handler tests of /staff/registrations and /account/link-record without
// a browser: who may use them, and the service's refusals.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
)

// noRedirects is a client of c's session that reports redirects instead
// of following them.
func noRedirects(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, Timeout: c.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// send answers a request of c's session as a browser's: a form posted from
// careloop's own pages when form is not nil. It returns the status, the
// Location and the body as text.
func send(t *testing.T, c *http.Client, s *site, method, path string, form url.Values) (int, string, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), html.UnescapeString(string(b))
}

// accountOf returns the account of email, waiting for the registration
// job that creates it; the minute is a bound so that a broken test ends.
func (s *mailSite) accountOf(t *testing.T, email string) *identity.Account {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		a, _, err := s.app.Accounts.ByEmail(context.Background(), s.org.ID, email)
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("no account for %s after a minute: %v", email, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegistrationsPageRoles checks, for every role, that the page
// answers as the JSON API does: staff the API refuses get the 403 page
// for the list and for linking, and link nothing.
func TestRegistrationsPageRoles(t *testing.T) {
	s := startMailSite(t)
	s.patient(t, "p2", "1975-01-02")
	s.registerAndVerify(t, "Rui Costa", "1975-01-02", "rui@example.org")
	rui := s.accountOf(t, "rui@example.org")
	roles := []identity.Role{identity.RolePatient, identity.RoleCaregiver, identity.RoleClinician, identity.RoleNurse,
		identity.RoleTechnician, identity.RoleCoordinator, identity.RoleCompliance, identity.RoleAdmin}
	allowed := 0
	for _, role := range roles {
		t.Run(string(role), func(t *testing.T) {
			email := string(role) + "@example.org"
			s.person(t, email, "A "+string(role), role)
			c := apiSignIn(t, s.site, email)
			if role != identity.RolePatient && role != identity.RoleCaregiver {
				enrollTOTP(t, s.site, c)
			}
			api := apiStatus(t, c, s.base+"/auth/registrations")
			c = noRedirects(c)
			status, _, body := send(t, c, s.site, "GET", "/staff/registrations", nil)
			if status != api {
				t.Errorf("GET /staff/registrations: %d, the API %d", status, api)
			}
			switch api {
			case http.StatusOK:
				allowed++
				if !strings.Contains(body, "Rui Costa") {
					t.Errorf("the page does not list the waiting registration: %.300s", body)
				}
				if _, _, acct := send(t, c, s.site, "GET", "/account", nil); !strings.Contains(acct, `href="/staff/registrations"`) {
					t.Errorf("the account page does not link the registrations page")
				}
			case http.StatusForbidden:
				if !strings.Contains(body, "Your role does not allow this.") || strings.Contains(body, "rui@example.org") {
					t.Errorf("the refusal: %.300s", body)
				}
				status, _, _ = send(t, c, s.site, "POST", "/staff/registrations/"+rui.ID+"/link", url.Values{"patient": {"Patient/p2"}})
				if status != http.StatusForbidden {
					t.Errorf("POST link: %d, want 403", status)
				}
				if ref := s.fhirRef(t, "rui@example.org"); ref != "" {
					t.Fatalf("a refused role linked the account to %q", ref)
				}
				if _, _, acct := send(t, c, s.site, "GET", "/account", nil); strings.Contains(acct, `href="/staff/registrations"`) {
					t.Errorf("the account page links the registrations page for a role the page refuses")
				}
			default:
				t.Errorf("the API answers %d", api)
			}
		})
	}
	if allowed != 2 {
		t.Errorf("%d roles may match registrations, want 2 (care coordinator, organisation admin)", allowed)
	}

	// Staff the API refuses without a second factor are sent to enroll one.
	s.person(t, "new-coordinator@example.org", "Nova", identity.RoleCoordinator)
	c := noRedirects(apiSignIn(t, s.site, "new-coordinator@example.org"))
	if status, loc, _ := send(t, c, s.site, "GET", "/staff/registrations", nil); status != http.StatusSeeOther || loc != "/account/security" {
		t.Errorf("a coordinator without a second factor: %d to %q, want 303 to /account/security", status, loc)
	}
}

func TestRegistrationsPageErrors(t *testing.T) {
	s := startMailSite(t)
	s.patient(t, "p2", "1975-01-02")
	s.person(t, "cora@example.org", "Cora", identity.RoleCoordinator)
	c := apiSignIn(t, s.site, "cora@example.org")
	enrollTOTP(t, s.site, c)
	c = noRedirects(c)

	// Registered, email not confirmed: not listed, and refused in the
	// service's words.
	s.register(t, "Una Unconfirmed", "1975-01-02", "una@example.org")
	una := s.accountOf(t, "una@example.org")
	status, _, body := send(t, c, s.site, "GET", "/staff/registrations", nil)
	if status != http.StatusOK || strings.Contains(body, "una@example.org") || !strings.Contains(body, "No one is waiting") {
		t.Errorf("with an unconfirmed registration only: %d %.300s", status, body)
	}
	status, _, body = send(t, c, s.site, "POST", "/staff/registrations/"+una.ID+"/link", url.Values{"patient": {"Patient/p2"}})
	if status != http.StatusConflict || !strings.Contains(body, "has not verified their email yet") {
		t.Errorf("linking an unconfirmed registration: %d %.500s", status, body)
	}
	if ref := s.fhirRef(t, "una@example.org"); ref != "" {
		t.Errorf("an unconfirmed registration got linked to %q", ref)
	}

	// An account that is not waiting: the error is on the page, not on a
	// field that is not there.
	status, _, body = send(t, c, s.site, "POST", "/staff/registrations/NOSUCHACCOUNT/link", url.Values{"patient": {"Patient/p2"}})
	if status != http.StatusNotFound || !strings.Contains(body, "no registration awaiting a match") || strings.Contains(body, `href="#patient-NOSUCHACCOUNT"`) {
		t.Errorf("linking an unknown account: %d %.500s", status, body)
	}

	// A malformed Patient id, on the field of the registration.
	s.registerAndVerify(t, "Rui Costa", "1975-01-02", "rui@example.org")
	rui := s.accountOf(t, "rui@example.org")
	status, _, body = send(t, c, s.site, "POST", "/staff/registrations/"+rui.ID+"/link", url.Values{"patient": {"Patient/no good"}})
	if status != http.StatusBadRequest || !strings.Contains(body, fmt.Sprintf(`href="#patient-%s"`, rui.ID)) || !strings.Contains(body, "is not a Patient id") {
		t.Errorf("a malformed Patient id: %d %.500s", status, body)
	}
	if status, loc, _ := send(t, c, s.site, "POST", "/staff/registrations/"+rui.ID+"/link", url.Values{"patient": {"Patient/p2"}}); status != http.StatusSeeOther || loc != "/staff/registrations" {
		t.Errorf("linking: %d to %q", status, loc)
	}
	if ref := s.fhirRef(t, "rui@example.org"); ref != "Patient/p2" {
		t.Errorf("linked to %q", ref)
	}
}

func TestLinkRecordPageRefusesOthers(t *testing.T) {
	s := startMailSite(t)
	s.person(t, "nina@example.org", "Nina", identity.RoleNurse)
	s.person(t, "cara@example.org", "Cara", identity.RoleCaregiver)
	nurse := apiSignIn(t, s.site, "nina@example.org")
	enrollTOTP(t, s.site, nurse)
	for _, c := range []*http.Client{noRedirects(nurse), noRedirects(apiSignIn(t, s.site, "cara@example.org"))} {
		if status, _, _ := send(t, c, s.site, "GET", "/account/link-record", nil); status != http.StatusForbidden {
			t.Errorf("GET /account/link-record by staff or a caregiver: %d, want 403", status)
		}
		if status, _, _ := send(t, c, s.site, "POST", "/account/link-record", url.Values{"code": {"7K2M9-QC4XR"}, "birth_date": {"1980-05-17"}}); status != http.StatusForbidden {
			t.Errorf("POST /account/link-record by staff or a caregiver: %d, want 403", status)
		}
	}
	anon := noRedirects(&http.Client{Timeout: 10 * time.Second})
	if status, loc, _ := send(t, anon, s.site, "GET", "/account/link-record", nil); status != http.StatusSeeOther || loc != "/signin" {
		t.Errorf("GET /account/link-record signed out: %d to %q", status, loc)
	}
}
