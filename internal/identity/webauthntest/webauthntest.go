// Package webauthntest is a software WebAuthn authenticator, together with
// the part of a browser that talks to it, for tests of careloop's passkey
// ceremonies.
//
// An Authenticator answers the options a relying party sends for
// navigator.credentials.create and navigator.credentials.get with the JSON
// a browser's PublicKeyCredential.toJSON would give: a registration with
// attestation format "none" and an ES256 (ECDSA P-256, SHA-256) credential,
// or an assertion signed with it. It keeps its credentials in memory and
// treats every one as discoverable. It is written from the WebAuthn Level 3
// specification (§5.1.3, §5.1.4, §6.1, §6.5) and is not an authenticator to
// trust with anything real: its keys are ordinary Go values.
package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Errors a browser would raise as DOMExceptions.
var (
	// ErrNotAllowed is NotAllowedError: no usable credential, or user
	// verification required of an authenticator that cannot verify.
	ErrNotAllowed = errors.New("webauthntest: NotAllowedError")
	// ErrInvalidState is InvalidStateError: the authenticator already holds
	// a credential the options exclude.
	ErrInvalidState = errors.New("webauthntest: InvalidStateError")
	// ErrSecurity is SecurityError: the relying party id does not suit the
	// origin, or the origin is not a secure context.
	ErrSecurity = errors.New("webauthntest: SecurityError")
	// ErrNotSupported is NotSupportedError: ES256 is not among the accepted
	// algorithms.
	ErrNotSupported = errors.New("webauthntest: NotSupportedError")
)

// Authenticator flags (§6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backup state
	flagAT = 0x40 // attested credential data included
)

// COSE identifiers (RFC 9052, RFC 9053).
const (
	coseKeyTypeEC2 = 2
	coseAlgES256   = -7
	coseCurveP256  = 1
)

// Credential is a credential an Authenticator holds. Tests may change its
// fields between ceremonies, for example to wind SignCount back as a cloned
// authenticator would, or to answer with another UserHandle.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	UserName   string
	Key        *ecdsa.PrivateKey
	SignCount  uint32
}

// Authenticator is a software authenticator seen through a browser at
// Origin. Set its fields before the first ceremony; its methods are safe
// for concurrent use.
type Authenticator struct {
	// Origin is the origin of the page running the ceremony, such as
	// https://careloop.example.
	Origin string
	// AAGUID names the authenticator model.
	AAGUID [16]byte
	// UserVerifying tells that the authenticator verifies the person (a
	// PIN or biometrics) and sets the UV flag whenever it is not discouraged.
	UserVerifying bool
	// BackupEligible and BackedUp set the BE and BS flags; a synced passkey
	// has both.
	BackupEligible, BackedUp bool
	// Counting makes the signature counter advance with every assertion;
	// authenticators that do not count keep it at zero.
	Counting bool
	// Attachment is "platform" or "cross-platform".
	Attachment string
	// Transports are reported at registration.
	Transports []string
	// IgnoreRPID skips the browser's check that the relying party id is the
	// origin's host or a parent domain of it, as a hostile client would.
	IgnoreRPID bool

	mu    sync.Mutex
	creds []*Credential
}

// TestAAGUID is the AAGUID New gives authenticators.
var TestAAGUID = [16]byte{0xca, 0x4e, 0x10, 0x0b, 0x7e, 0x57, 0x4a, 0x11, 0x9e, 0x00, 0x5a, 0xfe, 0x70, 0x6b, 0x65, 0x79}

// New returns a platform authenticator at origin that verifies the user,
// counts signatures and marks its credentials as synced (BE and BS).
func New(origin string) *Authenticator {
	return &Authenticator{
		Origin: origin, AAGUID: TestAAGUID, UserVerifying: true, BackupEligible: true, BackedUp: true,
		Counting: true, Attachment: "platform", Transports: []string{"hybrid", "internal"},
	}
}

// Credentials returns the credentials the authenticator holds, oldest first.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Credential(nil), a.creds...)
}

// descriptor is PublicKeyCredentialDescriptorJSON.
type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// authenticator reads.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptor `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// authenticator reads.
type requestOptions struct {
	Challenge        string       `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
	UserVerification string       `json:"userVerification"`
}

// clientData is CollectedClientData (§5.8.1), in the member order browsers use.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// unwrapOptions accepts options bare or inside {"publicKey": …}, as
// CredentialCreationOptions carries them.
func unwrapOptions(raw []byte, v any) error {
	var outer struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &outer); err == nil && len(outer.PublicKey) > 0 {
		raw = outer.PublicKey
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("webauthntest: options: %w", err)
	}
	return nil
}

var b64 = base64.RawURLEncoding

// Create answers creation options (PublicKeyCredentialCreationOptionsJSON,
// bare or as the publicKey member) as navigator.credentials.create would,
// and returns the RegistrationResponseJSON. A credential it already holds
// for the same relying party and user is replaced, as authenticators do
// with discoverable credentials.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := unwrapOptions(options, &o); err != nil {
		return nil, err
	}
	rpID, err := a.rpID(o.RP.ID)
	if err != nil {
		return nil, err
	}
	es256 := len(o.PubKeyCredParams) == 0 // the default list includes ES256
	for _, p := range o.PubKeyCredParams {
		if p.Type == "public-key" && p.Alg == coseAlgES256 {
			es256 = true
		}
	}
	if !es256 {
		return nil, ErrNotSupported
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, fmt.Errorf("webauthntest: challenge is not base64url: %q", o.Challenge)
	}
	userHandle, err := b64.DecodeString(o.User.ID)
	if err != nil || len(userHandle) == 0 || len(userHandle) > 64 {
		return nil, fmt.Errorf("webauthntest: user.id is not 1 to 64 bytes of base64url: %q", o.User.ID)
	}
	uv, err := a.verifies(o.AuthenticatorSelection.UserVerification)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range o.ExcludeCredentials {
		id, err := b64.DecodeString(d.ID)
		if err != nil {
			return nil, fmt.Errorf("webauthntest: excludeCredentials: %w", err)
		}
		for _, c := range a.creds {
			if c.RPID == rpID && bytes.Equal(c.ID, id) {
				return nil, ErrInvalidState
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: key: %w", err)
	}
	cred := &Credential{ID: make([]byte, 32), RPID: rpID, UserHandle: userHandle, UserName: o.User.Name, Key: key}
	if _, err := rand.Read(cred.ID); err != nil {
		return nil, fmt.Errorf("webauthntest: credential id: %w", err)
	}

	coseKey, err := coseES256(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	// Attested credential data (§6.5.2): AAGUID, id length, id, COSE key.
	attested := append(append([]byte{}, a.AAGUID[:]...), byte(len(cred.ID)>>8), byte(len(cred.ID)))
	attested = append(append(attested, cred.ID...), coseKey...)
	authData := a.authData(rpID, flagUP|flagAT|uv, cred.SignCount, attested)

	attObj, err := ctap2Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	cdj, err := json.Marshal(clientData{Type: "webauthn.create", Challenge: b64.EncodeToString(challenge), Origin: a.Origin})
	if err != nil {
		return nil, fmt.Errorf("webauthntest: client data: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: public key: %w", err)
	}

	// Replace a credential for the same relying party and user.
	kept := a.creds[:0]
	for _, c := range a.creds {
		if c.RPID != rpID || !bytes.Equal(c.UserHandle, userHandle) {
			kept = append(kept, c)
		}
	}
	a.creds = append(kept, cred)

	id := b64.EncodeToString(cred.ID)
	return json.Marshal(map[string]any{
		"id":                      id,
		"rawId":                   id,
		"type":                    "public-key",
		"authenticatorAttachment": a.Attachment,
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":     b64.EncodeToString(cdj),
			"attestationObject":  b64.EncodeToString(attObj),
			"authenticatorData":  b64.EncodeToString(authData),
			"transports":         append([]string{}, a.Transports...),
			"publicKey":          b64.EncodeToString(spki),
			"publicKeyAlgorithm": coseAlgES256,
		},
	})
}

// Get answers request options (PublicKeyCredentialRequestOptionsJSON, bare
// or as the publicKey member) as navigator.credentials.get would, and
// returns the AuthenticationResponseJSON. With allowCredentials it uses the
// first listed credential it holds; without, the oldest credential it holds
// for the relying party (the one a person would pick from the list). The
// assertion carries the credential's user handle.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := unwrapOptions(options, &o); err != nil {
		return nil, err
	}
	rpID, err := a.rpID(o.RPID)
	if err != nil {
		return nil, err
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, fmt.Errorf("webauthntest: challenge is not base64url: %q", o.Challenge)
	}
	uv, err := a.verifies(o.UserVerification)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var cred *Credential
	if len(o.AllowCredentials) > 0 {
	allowed:
		for _, d := range o.AllowCredentials {
			id, err := b64.DecodeString(d.ID)
			if err != nil {
				return nil, fmt.Errorf("webauthntest: allowCredentials: %w", err)
			}
			for _, c := range a.creds {
				if c.RPID == rpID && bytes.Equal(c.ID, id) {
					cred = c
					break allowed
				}
			}
		}
	} else {
		for _, c := range a.creds {
			if c.RPID == rpID {
				cred = c
				break
			}
		}
	}
	if cred == nil {
		return nil, ErrNotAllowed
	}
	if a.Counting {
		cred.SignCount++
	}
	authData := a.authData(rpID, flagUP|uv, cred.SignCount, nil)
	cdj, err := json.Marshal(clientData{Type: "webauthn.get", Challenge: b64.EncodeToString(challenge), Origin: a.Origin})
	if err != nil {
		return nil, fmt.Errorf("webauthntest: client data: %w", err)
	}
	// §6.3.3: the signature is over authenticatorData ‖ SHA-256(clientDataJSON).
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("webauthntest: sign: %w", err)
	}

	id := b64.EncodeToString(cred.ID)
	return json.Marshal(map[string]any{
		"id":                      id,
		"rawId":                   id,
		"type":                    "public-key",
		"authenticatorAttachment": a.Attachment,
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(cred.UserHandle),
		},
	})
}

// rpID returns the relying party id of a ceremony: the one the options
// name, else the origin's host. Like a browser it requires a secure origin
// (https, or http on localhost) and an id that is the origin's host or a
// parent domain of it, unless IgnoreRPID is set.
func (a *Authenticator) rpID(requested string) (string, error) {
	u, err := url.Parse(a.Origin)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("webauthntest: origin %q is not an origin", a.Origin)
	}
	host := strings.ToLower(u.Hostname())
	if requested == "" {
		requested = host
	}
	if a.IgnoreRPID {
		return requested, nil
	}
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return "", fmt.Errorf("%w: %s is not a secure context", ErrSecurity, a.Origin)
	}
	if host != requested && !strings.HasSuffix(host, "."+requested) {
		return "", fmt.Errorf("%w: relying party id %s does not suit origin %s", ErrSecurity, requested, a.Origin)
	}
	return requested, nil
}

// verifies returns the UV flag for a user verification requirement.
func (a *Authenticator) verifies(requirement string) (byte, error) {
	switch {
	case requirement == "required" && !a.UserVerifying:
		return 0, fmt.Errorf("%w: user verification required", ErrNotAllowed)
	case requirement != "discouraged" && a.UserVerifying:
		return flagUV, nil
	}
	return 0, nil
}

// authData builds authenticator data (§6.1): SHA-256 of the RP id, flags,
// the big-endian signature counter, then any attested credential data.
func (a *Authenticator) authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	if a.BackupEligible {
		flags |= flagBE
		if a.BackedUp {
			flags |= flagBS
		}
	}
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// coseES256 encodes pub as a COSE_Key (RFC 9053 §7.1.1) in CTAP2 canonical
// CBOR: {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
func coseES256(pub *ecdsa.PublicKey) ([]byte, error) {
	point, err := pub.Bytes() // 0x04 ‖ x ‖ y, each 32 bytes
	if err != nil || len(point) != 65 {
		return nil, fmt.Errorf("webauthntest: P-256 public key: %v", err)
	}
	return ctap2Marshal(map[int]any{1: coseKeyTypeEC2, 3: coseAlgES256, -1: coseCurveP256, -2: point[1:33], -3: point[33:]})
}

var ctap2, _ = cbor.CTAP2EncOptions().EncMode()

func ctap2Marshal(v any) ([]byte, error) {
	b, err := ctap2.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: CBOR: %w", err)
	}
	return b, nil
}
