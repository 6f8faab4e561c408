package oauth_test

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/oauth"
)

func TestParseScope(t *testing.T) {
	for in, want := range map[string]string{
		"system/Observation.rs":    "system/Observation.rs",
		"system/*.cruds":           "system/*.cruds",
		"system/Patient.r":         "system/Patient.r",
		"system/Patient.cd":        "system/Patient.cd",
		"patient/Observation.rs":   "patient/Observation.rs",
		"user/*.s":                 "user/*.s",
		"system/Observation.read":  "system/Observation.rs",
		"system/Observation.write": "system/Observation.cud",
		"system/Observation.*":     "system/Observation.cruds",
		"system/*.read":            "system/*.rs",
		"system/*.*":               "system/*.cruds",
	} {
		s, err := oauth.ParseScope(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if s.String() != want {
			t.Errorf("%s: got %s, want %s", in, s, want)
		}
	}
	for _, in := range []string{
		"", "openid", "launch/patient", "system/Observation", "system/Observation.", "system/.rs",
		"system/Observation.sr",            // out of order
		"system/Observation.rr",            // twice
		"system/Observation.x",             // unknown letter
		"system/Observation.rs?category=x", // fine-grained
		"admin/Observation.rs",             // unknown context
		"system/observation.rs",            // not a type name
		"system/Obs-ervation.rs",
		"system/Observation.READ",
		"system/*.rs.rs",
		"system/" + strings.Repeat("A", 200) + ".rs",
	} {
		if s, err := oauth.ParseScope(in); err == nil {
			t.Errorf("%q: accepted as %s", in, s)
		}
	}
}

func TestParseScopesIsCanonical(t *testing.T) {
	got, err := oauth.ParseScopes("system/Patient.r  system/Observation.s system/Observation.read system/Encounter.rs system/*.r")
	if err != nil {
		t.Fatal(err)
	}
	// Observation's r is merged, *.r covers Patient and Encounter's r.
	if s := oauth.FormatScopes(got); s != "system/*.r system/Encounter.s system/Observation.s" {
		t.Errorf("got %q", s)
	}
	if _, err := oauth.ParseScopes("system/Patient.r bogus"); err == nil {
		t.Error("a bad scope in the list was accepted")
	}
}

func TestGrant(t *testing.T) {
	for _, tc := range []struct{ requested, allowed, want string }{
		{"system/Observation.rs", "system/Observation.rs system/Patient.r", "system/Observation.rs"},
		{"system/*.rs", "system/Observation.rs system/Patient.r", "system/Observation.rs system/Patient.r"},
		{"system/*.cruds", "system/*.rs", "system/*.rs"},
		{"system/Observation.cruds", "system/*.rs", "system/Observation.rs"},
		{"system/Observation.read", "system/Observation.r", "system/Observation.r"},
		{"system/Encounter.r", "system/Observation.rs", ""},
		{"system/Observation.c", "system/Observation.rs", ""},
		{"patient/Observation.rs", "system/*.cruds", ""},
		{"system/Observation.rs system/Patient.rs", "system/*.r system/Patient.s", "system/Observation.r system/Patient.rs"},
	} {
		req, err := oauth.ParseScopes(tc.requested)
		if err != nil {
			t.Fatal(err)
		}
		al, err := oauth.ParseScopes(tc.allowed)
		if err != nil {
			t.Fatal(err)
		}
		if got := oauth.FormatScopes(oauth.Grant(req, al)); got != tc.want {
			t.Errorf("grant %q of %q: got %q, want %q", tc.requested, tc.allowed, got, tc.want)
		}
	}
}

func TestPermits(t *testing.T) {
	granted := []string{"system/Observation.rs", "system/Patient.r", "patient/Encounter.cruds"}
	for _, tc := range []struct {
		typ  string
		perm oauth.Perm
		want bool
	}{
		{"Observation", oauth.PermRead, true},
		{"Observation", oauth.PermSearch, true},
		{"Observation", oauth.PermCreate, false},
		{"Patient", oauth.PermRead, true},
		{"Patient", oauth.PermSearch, false},
		{"Patient", oauth.PermRead | oauth.PermSearch, true},
		{"Encounter", oauth.PermRead, false}, // patient scopes do not count
		{"*", oauth.PermRead, false},
		{"ObservationX", oauth.PermRead, false},
	} {
		if got := oauth.Permits(granted, tc.typ, tc.perm); got != tc.want {
			t.Errorf("%s %s: got %v", tc.typ, tc.perm, got)
		}
	}
	all := []string{"system/*.rs"}
	if !oauth.Permits(all, "Encounter", oauth.PermSearch) || !oauth.Permits(all, "*", oauth.PermRead) || oauth.Permits(all, "Encounter", oauth.PermDelete) {
		t.Error("wildcard scope not applied")
	}
	if oauth.Permits(nil, "Patient", oauth.PermAll) {
		t.Error("no scopes permitted something")
	}
	if n := testing.AllocsPerRun(100, func() { oauth.Permits(granted, "Patient", oauth.PermRead) }); n != 0 {
		t.Errorf("Permits allocates %v times", n)
	}
}

// FuzzParseScope checks that the parser never panics, that what it accepts
// has a canonical form it parses back to the same scope, and that Permits
// reads that form exactly as the parsed permissions say.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"system/Observation.rs", "system/*.cruds", "system/Patient.read", "user/*.*",
		"patient/Observation.write", "system/Observation.rs?category=x", "system/.r", "system/A.", "x/y.z", "system/*.rrs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := oauth.ParseScope(in)
		if err != nil {
			return
		}
		if s.Perms == 0 || s.Perms&^oauth.PermAll != 0 {
			t.Fatalf("%q: permissions %08b", in, s.Perms)
		}
		canon := s.String()
		again, err := oauth.ParseScope(canon)
		if err != nil || again != s || again.String() != canon {
			t.Fatalf("%q -> %q -> %+v, %v", in, canon, again, err)
		}
		typ := s.Type
		if typ == "*" {
			typ = "Observation"
		}
		for bit := oauth.PermCreate; bit <= oauth.PermSearch; bit <<= 1 {
			want := s.Context == "system" && s.Perms&bit != 0
			if got := oauth.Permits([]string{canon}, typ, bit); got != want {
				t.Fatalf("%q: Permits(%s, %s) = %v, want %v", canon, typ, bit, got, want)
			}
		}
		if s.Type != "*" && oauth.Permits([]string{canon}, s.Type+"X", oauth.PermAll) {
			t.Fatalf("%q permits another type", canon)
		}
	})
}
