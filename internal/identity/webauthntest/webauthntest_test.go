package webauthntest_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/careloop/careloop/internal/identity/webauthntest"
)

var b64 = base64.RawURLEncoding

const creation = `{"publicKey":{"rp":{"id":"careloop.test","name":"careloop"},
	"user":{"id":"dXNlci1oYW5kbGU","name":"ada@example.org","displayName":"Ada"},
	"challenge":"Y2hhbGxlbmdlLWNoYWxsZW5nZS0x","pubKeyCredParams":[{"type":"public-key","alg":-257},{"type":"public-key","alg":-7}],
	"authenticatorSelection":{"residentKey":"preferred","userVerification":"preferred"}}}`

// TestCreateAndGet checks the answers against the layouts of the
// specification, parsing them with an independent WebAuthn implementation.
func TestCreateAndGet(t *testing.T) {
	a := webauthntest.New("https://careloop.test")
	raw, err := a.Create([]byte(creation))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := protocol.ParseCredentialCreationResponseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	cd := reg.Response.CollectedClientData
	if cd.Type != "webauthn.create" || cd.Challenge != "Y2hhbGxlbmdlLWNoYWxsZW5nZS0x" || cd.Origin != "https://careloop.test" {
		t.Errorf("client data %+v", cd)
	}
	att := reg.Response.AttestationObject
	rpHash := sha256.Sum256([]byte("careloop.test"))
	flags := att.AuthData.Flags
	if att.Format != "none" || len(att.AttStatement) != 0 || string(att.AuthData.RPIDHash) != string(rpHash[:]) ||
		!flags.HasUserPresent() || !flags.HasUserVerified() || !flags.HasBackupEligible() || !flags.HasBackupState() ||
		!flags.HasAttestedCredentialData() || flags.HasExtensions() || att.AuthData.Counter != 0 ||
		string(att.AuthData.AttData.AAGUID) != string(webauthntest.TestAAGUID[:]) {
		t.Errorf("attestation %s flags %08b", att.Format, flags)
	}
	if err := att.VerifyAttestation(nil, nil, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		t.Errorf("none attestation: %v", err)
	}
	cred := a.Credentials()[0]
	if string(reg.RawID) != string(cred.ID) || string(att.AuthData.AttData.CredentialID) != string(cred.ID) ||
		string(cred.UserHandle) != "user-handle" || cred.RPID != "careloop.test" {
		t.Errorf("credential %x in %x", cred.ID, reg.RawID)
	}
	key, err := webauthncose.ParsePublicKey(att.AuthData.AttData.CredentialPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := key.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Algorithm != -7 || ec.Curve != 1 || ec.KeyType != 2 {
		t.Fatalf("COSE key %#v", key)
	}
	if pub, err := cred.Key.PublicKey.Bytes(); err != nil || string(pub[1:33]) != string(ec.XCoord) || string(pub[33:]) != string(ec.YCoord) {
		t.Errorf("COSE key is not the credential's: %v", err)
	}

	req := `{"challenge":"c2Vjb25kLWNoYWxsZW5nZS0y","rpId":"careloop.test","userVerification":"preferred",
		"allowCredentials":[{"type":"public-key","id":"bm90LWhlbGQ"},{"type":"public-key","id":"` + b64.EncodeToString(cred.ID) + `"}]}`
	raw, err = a.Get([]byte(req))
	if err != nil {
		t.Fatal(err)
	}
	asr, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := asr.Verify("c2Vjb25kLWNoYWxsZW5nZS0y", "careloop.test", "", []string{"https://careloop.test"}, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, true, true, att.AuthData.AttData.CredentialPublicKey, protocol.SignaturePolicy{}); err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if asr.Response.AuthenticatorData.Counter != 1 || string(asr.Response.UserHandle) != "user-handle" ||
		asr.Response.AuthenticatorData.Flags.HasAttestedCredentialData() {
		t.Errorf("assertion counter %d handle %q", asr.Response.AuthenticatorData.Counter, asr.Response.UserHandle)
	}
	// The signature is ECDSA over authenticatorData ‖ SHA-256(clientDataJSON).
	var body struct {
		Response struct{ ClientDataJSON, AuthenticatorData, Signature string }
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	ad, _ := b64.DecodeString(body.Response.AuthenticatorData)
	cdj, _ := b64.DecodeString(body.Response.ClientDataJSON)
	sig, _ := b64.DecodeString(body.Response.Signature)
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(ad, h[:]...))
	if !ecdsa.VerifyASN1(&cred.Key.PublicKey, digest[:], sig) || binary.BigEndian.Uint32(ad[33:37]) != 1 {
		t.Error("signature does not verify by hand")
	}

	// Not counting, not verifying, not synced.
	a.Counting, a.UserVerifying, a.BackupEligible = false, false, false
	raw, _ = a.Get([]byte(`{"challenge":"dGhpcmQtY2hhbGxlbmdlLTM"}`))
	asr, err = protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f := asr.Response.AuthenticatorData.Flags; asr.Response.AuthenticatorData.Counter != 1 || f.HasUserVerified() || f.HasBackupEligible() || f.HasBackupState() || !f.HasUserPresent() {
		t.Errorf("counter %d flags %08b", asr.Response.AuthenticatorData.Counter, f)
	}
}

func TestBrowserRefusals(t *testing.T) {
	a := webauthntest.New("https://careloop.test")
	if _, err := a.Create([]byte(creation)); err != nil {
		t.Fatal(err)
	}
	id := b64.EncodeToString(a.Credentials()[0].ID)
	for name, tc := range map[string]struct {
		origin, options string
		create          bool
		want            error
	}{
		"excluded credential":   {"https://careloop.test", `{"rp":{"id":"careloop.test"},"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","excludeCredentials":[{"type":"public-key","id":"` + id + `"}]}`, true, webauthntest.ErrInvalidState},
		"no ES256":              {"https://careloop.test", `{"rp":{"id":"careloop.test"},"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-257}]}`, true, webauthntest.ErrNotSupported},
		"RP ID of another site": {"https://careloop-login.example", `{"rp":{"id":"careloop.test"},"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, true, webauthntest.ErrSecurity},
		"insecure origin":       {"http://careloop.test", `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, false, webauthntest.ErrSecurity},
		"no credential":         {"https://careloop.test", `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","allowCredentials":[{"type":"public-key","id":"bm8"}]}`, false, webauthntest.ErrNotAllowed},
		"other RP":              {"https://other.careloop.test", `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`, false, webauthntest.ErrNotAllowed},
	} {
		a.Origin = tc.origin
		var err error
		if tc.create {
			_, err = a.Create([]byte(tc.options))
		} else {
			_, err = a.Get([]byte(tc.options))
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	// Localhost over http is a secure context; a parent-domain RP ID suits a subdomain.
	a.Origin = "https://app.careloop.test"
	if _, err := a.Get([]byte(`{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"careloop.test"}`)); err != nil {
		t.Errorf("subdomain: %v", err)
	}
	b := webauthntest.New("http://localhost:8080")
	b.UserVerifying = false
	if _, err := b.Create([]byte(`{"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","authenticatorSelection":{"userVerification":"required"}}`)); !errors.Is(err, webauthntest.ErrNotAllowed) {
		t.Errorf("user verification required of a non-verifying authenticator: %v", err)
	}
	if _, err := b.Create([]byte(`{"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`)); err != nil || b.Credentials()[0].RPID != "localhost" {
		t.Errorf("localhost: %v", err)
	}
	// A second credential for the same user and relying party replaces the first.
	if _, err := b.Create([]byte(`{"user":{"id":"eA"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`)); err != nil || len(b.Credentials()) != 1 {
		t.Errorf("replacement: %d credentials, %v", len(b.Credentials()), err)
	}
}
