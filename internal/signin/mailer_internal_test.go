package signin

import (
	"bytes"
	"testing"
)

func TestSealedPayloadsOpenOnlyForTheirKindOrganisationAndKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, EmailKeySize)
	m, err := NewMailer(nil, nil, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewMailer(nil, nil, bytes.Repeat([]byte{8}, EmailKeySize), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := sealedMessage{To: "a@example.org", Subject: "s", Body: "https://careloop.test/recovery?token=abc"}
	sealed, err := m.seal("signin.email", "org-1", in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("token=abc")) || bytes.Contains(sealed, []byte("a@example.org")) {
		t.Fatalf("sealed payload shows its text: %q", sealed)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	versioned := append([]byte{9}, sealed[1:]...)
	cases := []struct {
		name      string
		m         *Mailer
		kind, org string
		sealed    []byte
		opens     bool
	}{
		{name: "same kind and organisation", m: m, kind: "signin.email", org: "org-1", sealed: sealed, opens: true},
		{name: "another organisation", m: m, kind: "signin.email", org: "org-2", sealed: sealed},
		{name: "another kind", m: m, kind: "signin.recovery", org: "org-1", sealed: sealed},
		{name: "another key", m: other, kind: "signin.email", org: "org-1", sealed: sealed},
		{name: "tampered", m: m, kind: "signin.email", org: "org-1", sealed: tampered},
		{name: "unknown version", m: m, kind: "signin.email", org: "org-1", sealed: versioned},
		{name: "empty", m: m, kind: "signin.email", org: "org-1", sealed: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out sealedMessage
			err := tc.m.open(tc.kind, tc.org, tc.sealed, &out)
			if tc.opens {
				if err != nil || out != in {
					t.Errorf("open: %+v %v", out, err)
				}
				return
			}
			if err == nil {
				t.Errorf("opened: %+v", out)
			}
		})
	}
	if _, err := NewMailer(nil, nil, key[:16], nil, nil); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}
