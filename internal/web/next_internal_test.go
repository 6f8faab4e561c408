package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/notify"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

func TestLocalPath(t *testing.T) {
	tests := []struct {
		name, next string
		ok         bool
	}{
		{"a page", "/account/messages/0190", true},
		{"a page with a query", "/staff/messages?state=failed&channel=sms", true},
		{"the root", "/", true},
		{"empty", "", false},
		{"another host", "//evil.example", false},
		{"another host, three slashes", "///evil.example", false},
		{"an absolute URL", "https://evil.example/account", false},
		{"a scheme without slashes", "javascript:alert(1)", false},
		{"a backslash after the slash", "/\\evil.example", false},
		{"a tab between the slashes", "/\t/evil.example", false},
		{"a newline", "/account\n/x", false},
		{"a space", "/account messages", false},
		{"a relative path", "account", false},
		{"too long", "/" + strings.Repeat("a", pweb.MaxLocalPath), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pweb.LocalPath(tt.next)
			if ok != tt.ok || (ok && got != tt.next) || (!ok && got != "") {
				t.Errorf("pweb.LocalPath(%q) = %q, %v; want ok %v", tt.next, got, ok, tt.ok)
			}
		})
	}
}

// FuzzLocalPath: whatever localPath accepts, a browser resolving it on
// careloop's page stays on careloop's host, and signInLink carries it
// back unchanged.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/account", "//evil.example", "/\\evil", "/\t/evil", "https://x", "/a?b=c#d", "/%2F%2Fevil", "/./..//x"} {
		f.Add(s)
	}
	base, err := url.Parse("https://clinic.example/signin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got, ok := pweb.LocalPath(next)
		if !ok {
			if got != "" || signInLink(next) != "/signin" {
				t.Fatalf("refused %q but returned %q, link %q", next, got, signInLink(next))
			}
			return
		}
		if got != next {
			t.Fatalf("pweb.LocalPath(%q) changed it to %q", next, got)
		}
		u, err := url.Parse(next)
		if err != nil {
			return // the browser would not follow it anywhere either
		}
		if to := base.ResolveReference(u); to.Host != "clinic.example" || to.Scheme != "https" {
			t.Fatalf("localPath accepted %q, which leads to %s", next, to)
		}
		link, err := url.Parse(signInLink(next))
		if err != nil || link.Path != "/signin" || link.Query().Get("next") != next {
			t.Fatalf("signInLink(%q) = %q", next, signInLink(next))
		}
	})
}

func TestClockValue(t *testing.T) {
	for in, want := range map[string]string{"21:00": "21:00", "07:30:00": "07:30", " 08:00 ": "08:00", "07:30:15": "07:30:15", "": ""} {
		if got := clockValue(in); got != want {
			t.Errorf("clockValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzPreferencesForm: any posted form reads without panic; what it reads
// without form errors either passes the service's check or is refused
// with an error on a field of the page (or at the top), never silently,
// and in the reader's language (Spanish here) without a key showing.
func FuzzPreferencesForm(f *testing.F) {
	cat, err := NewCatalog()
	if err != nil {
		f.Fatal(err)
	}
	es := cat.For("es")
	f.Add("email", "sms", "21:00", "08:00", "America/New_York", "es", "simple", "5", "on", "")
	f.Add("", "", "25:00", "", "Mars/Olympus", "fr", "hard", "many", "", "on")
	f.Add("sms", "sms", "07:30:00", "07:30", "", "", "", "-1", "", "")
	f.Fuzz(func(t *testing.T, first, fallback, start, end, tz, lang, level, dailyCap, details, optOut string) {
		form := url.Values{"channels-results-first": {first}, "channels-results-fallback": {fallback}, "quiet_start": {start},
			"quiet_end": {end}, "time_zone": {tz}, "lang": {lang}, "level": {level}, "daily_cap": {dailyCap}, "details": {details}, "opt_out_sms": {optOut}}
		r := httptest.NewRequest("POST", "/account/notifications", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		prefs, e := prefsFromForm(es, r, []string{"results"})
		if e.Any() {
			for _, fe := range e.List {
				if fe.Field == "" || fe.Message == "" || strings.Contains(fe.Message, "prefs.") {
					t.Fatalf("a form error without field or message, or with a key: %+v", fe)
				}
			}
			return
		}
		if err := prefs.Check(); err != nil {
			pe := prefsError(es, err, prefs)
			if !pe.Any() || pe.List[0].Message == "" || strings.Contains(pe.List[0].Message, "prefs.") {
				t.Fatalf("the service refused %+v (%v) and the page says nothing", prefs, err)
			}
			if fe := pe.List[0]; fe.Field != "" && !knownPrefsField(fe.Field) {
				t.Fatalf("the error %q is on %q, not a field of the page", fe.Message, fe.Field)
			}
			return
		}
		if len(prefs.Channels["results"]) == 0 {
			t.Fatalf("accepted preferences with no channel: %+v", prefs)
		}
		if prefs.Lang != "" && prefs.Lang != "en" && prefs.Lang != "es" {
			t.Fatalf("accepted the language %q", prefs.Lang)
		}
		if (optOut != "") != (len(prefs.OptOut) == 1 && prefs.OptOut[0] == notify.SMS) {
			t.Fatalf("opt-out %q read as %v", optOut, prefs.OptOut)
		}
	})
}

// knownPrefsField reports whether id is a field of the preferences page.
func knownPrefsField(id string) bool {
	switch id {
	case "channels-results-first", "channels-results-fallback", "quiet_start", "quiet_end", "time_zone", "lang", "level", "daily_cap", "opt_out_email":
		return true
	}
	return false
}
