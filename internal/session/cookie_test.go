package session

import (
	"net/http/httptest"
	"testing"
)

func TestCookiesSecret(t *testing.T) {
	const secret = "q0NUeN2dWx9bZ-_c1h8WQm3vJx6cU4y0aQz8rNfTqKk"
	for _, tc := range []struct {
		name    string
		headers []string
		secure  bool
		want    string
	}{
		{"none", nil, false, ""},
		{"alone", []string{"careloop_session=" + secret}, false, secret},
		{"among others", []string{"a=1; careloop_session=" + secret + "; b=2"}, false, secret},
		{"spaces", []string{"a=1;   careloop_session=" + secret + "  ;b=2"}, false, secret},
		{"quoted", []string{`careloop_session="` + secret + `"`}, false, secret},
		{"second header", []string{"a=1", "careloop_session=" + secret}, false, secret},
		{"first well-formed wins", []string{"careloop_session=bad value; careloop_session=" + secret}, false, secret},
		{"not a secret's characters", []string{"careloop_session=abc%20def"}, false, ""},
		{"empty", []string{"careloop_session="}, false, ""},
		{"name prefix only", []string{"careloop_sessionx=" + secret}, false, ""},
		{"secure name needed over https", []string{"careloop_session=" + secret}, true, ""},
		{"secure name", []string{"__Host-careloop_session=" + secret}, true, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Cookie", h)
			}
			if got := (Cookies{Secure: tc.secure}).Secret(r); got != tc.want {
				t.Fatalf("Secret = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCookiesSecret checks that whatever the Cookie header holds, Secret
// returns either nothing or a value made of a secret's characters that
// the header carries.
func FuzzCookiesSecret(f *testing.F) {
	f.Add("careloop_session=abc; x=y")
	f.Add(`careloop_session="abc"`)
	f.Add("careloop_session")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", header)
		got := (Cookies{}).Secret(r)
		if got != "" && !isSecret(got) {
			t.Fatalf("Secret returned %q", got)
		}
	})
}
