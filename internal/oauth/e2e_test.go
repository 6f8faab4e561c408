package oauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/oauth"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/tenant"
)

// clock is a test clock that tests move forward; safe for concurrent use.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time             { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration)    { c.offset.Add(int64(d)) }
func (c *clock) unix(d time.Duration) int64 { return c.Now().Add(d).Unix() }

// keys are a client's key pairs: ECDSA P-384 and RSA 2048.
type keys struct {
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

var (
	testKeysOnce sync.Once
	testKeys     keys
)

// clientKeys returns key pairs shared by the tests: RSA generation is slow.
func clientKeys(t testing.TB) keys {
	t.Helper()
	testKeysOnce.Do(func() {
		ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKeys = keys{ec: ec, rsa: rk}
	})
	return testKeys
}

// jwks returns the JWK Set of the public keys, with kids ec-1 and rsa-1.
func (k keys) jwks(t testing.TB) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: "ES384", Use: "sig"},
		{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: "RS384", Use: "sig"},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a compact JWS of claims signed with key.
func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any, extra ...string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	for i := 0; i+1 < len(extra); i += 2 {
		opts = opts.WithHeader(jose.HeaderKey(extra[i]), extra[i+1])
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds a JWT by hand with the given header, and a signature
// made by mac (nil for none).
func unsigned(header, claims map[string]any, mac []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	if mac == nil {
		return in + "."
	}
	h := hmac.New(sha256.New, mac)
	h.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// env is a running careloop on a fresh database with one organisation, its
// API key and a registered backend client.
type env struct {
	t      testing.TB
	a      *app.App
	url    string
	clock  *clock
	orgID  string
	apiKey string
	client *oauth.Client
	keys   keys
}

func newEnv(t testing.TB, e db.Dialect) *env {
	t.Helper()
	_, opts := dbtest.OpenWithOptions(t, e)
	dbFlag := "sqlite:" + opts.SQLitePath
	if opts.PostgresURL != "" {
		dbFlag = opts.PostgresURL
	}
	cfg, err := config.Parse("serve", config.Store|config.Server, []string{"--db", dbFlag, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--base-url", "https://careloop.example.org"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	v := &env{t: t, a: a, clock: &clock{}, keys: clientKeys(t)}
	a.OAuth.SetClock(v.clock.Now)
	ts := httptest.NewServer(a.Handler)
	t.Cleanup(ts.Close)
	v.url = ts.URL
	ctx := context.Background()
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		o := &tenant.Organization{Slug: "clinic", Name: "Clinic"}
		if err := a.Orgs.CreateTx(ctx, tx, o); err != nil {
			return err
		}
		v.orgID = o.ID
		_, v.apiKey, err = a.Accounts.CreateAPIKeyTx(ctx, tx, o.ID, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v.client, err = a.OAuth.CreateClient(ctx, v.orgID, oauth.NewClient{Name: "lab system", JWKS: v.keys.jwks(t), Scopes: "system/Observation.rs system/Patient.r"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claims returns valid assertion claims of the env's client, with a new
// jti, expiring in four minutes.
func (v *env) claims() map[string]any {
	return map[string]any{
		"iss": v.client.ID, "sub": v.client.ID, "aud": v.a.OAuth.TokenEndpoint(),
		"exp": v.clock.unix(4 * time.Minute), "iat": v.clock.unix(0), "jti": rand.Text(),
	}
}

type tokenResult struct {
	status int
	body   map[string]any
}

func (r tokenResult) token() string { s, _ := r.body["access_token"].(string); return s }

// requestToken posts a token request with the assertion and scope.
func (v *env) requestToken(assertion, scope string, form ...string) tokenResult {
	v.t.Helper()
	f := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {oauth.AssertionType},
		"client_assertion":      {assertion},
		"scope":                 {scope},
	}
	for i := 0; i+1 < len(form); i += 2 {
		if form[i+1] == "" {
			f.Del(form[i])
		} else {
			f.Set(form[i], form[i+1])
		}
	}
	resp, err := http.PostForm(v.url+oauth.TokenPath, f)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		v.t.Fatalf("token response of status %d is not JSON: %v", resp.StatusCode, err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		v.t.Errorf("token response Cache-Control %q", cc)
	}
	return tokenResult{resp.StatusCode, body}
}

// fhir sends a FHIR request with the bearer token and returns the status
// and the body.
func (v *env) fhir(method, path, token string, body []byte) (int, map[string]any) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.url+path, bytes.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// create stores a resource with the API key and returns its id.
func (v *env) create(typ, body string) string {
	v.t.Helper()
	status, m := v.fhir("POST", "/fhir/"+typ, v.apiKey, []byte(body))
	if status != http.StatusCreated {
		v.t.Fatalf("create %s: %d %v", typ, status, m)
	}
	return m["id"].(string)
}

func TestBackendServicesEndToEnd(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		v := newEnv(t, d.Dialect)
		patient := v.create("Patient", `{"resourceType":"Patient","name":[{"family":"Okafor"}]}`)
		obs := v.create("Observation", `{"resourceType":"Observation","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/`+patient+`"}}`)

		t.Run("discovery", func(t *testing.T) {
			for _, path := range []string{"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
				resp, err := http.Get(v.url + path)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
				}
				if m["token_endpoint"] != "https://careloop.example.org/auth/token" {
					t.Errorf("%s: token_endpoint %v", path, m["token_endpoint"])
				}
				b, _ := json.Marshal(m)
				for _, want := range []string{`"private_key_jwt"`, `"RS384"`, `"ES384"`, `"client_credentials"`, `"client-confidential-asymmetric"`, `"system/*.cruds"`} {
					if !strings.Contains(string(b), want) {
						t.Errorf("%s lacks %s: %s", path, want, b)
					}
				}
			}
		})

		// ES384: asking for every type grants what the client may have.
		res := v.requestToken(sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), "system/*.rs")
		if res.status != 200 || res.body["token_type"] != "bearer" || res.body["expires_in"] != float64(300) ||
			res.body["scope"] != "system/Observation.rs system/Patient.r" || !strings.HasPrefix(res.token(), "clt_") {
			t.Fatalf("ES384 token: %d %v", res.status, res.body)
		}
		token := res.token()

		t.Run("scopes", func(t *testing.T) {
			for _, tc := range []struct {
				method, path string
				body         string
				want         int
			}{
				{"GET", "/fhir/Observation/" + obs, "", 200},
				{"GET", "/fhir/Observation/" + obs + "/_history/1", "", 200},
				{"GET", "/fhir/Observation/" + obs + "/_history", "", 200},
				{"GET", "/fhir/Observation?code:text=glucose", "", 200},
				{"GET", "/fhir/Patient/" + patient, "", 200},
				{"GET", "/fhir/metadata", "", 200},
				{"GET", "/fhir/Patient?family=Okafor", "", 403}, // Patient.r has no s
				{"GET", "/fhir/Encounter", "", 403},             // no scope on the type
				{"POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, 403},
				{"PUT", "/fhir/Observation/" + obs, `{"resourceType":"Observation","id":"` + obs + `","status":"final","code":{"text":"y"}}`, 403},
				{"DELETE", "/fhir/Observation/" + obs, "", 403},
				{"GET", "/fhir/_history", "", 403}, // system level needs system/*.r
				{"GET", "/fhir/Patient/" + patient + "/$everything", "", 200},
				// Bulk export's status and files need system/*.r like its
				// kick-off: refused before the export is even looked up.
				{"GET", "/fhir/$export", "", 403},
				{"GET", "/fhir/$export-status/someone-elses", "", 403},
				{"DELETE", "/fhir/$export-status/someone-elses", "", 403},
				{"GET", "/fhir/$export-file/someone-elses-1", "", 403},
			} {
				var body []byte
				if tc.body != "" {
					body = []byte(tc.body)
				}
				status, m := v.fhir(tc.method, tc.path, token, body)
				if status != tc.want {
					t.Errorf("%s %s: %d, want %d: %v", tc.method, tc.path, status, tc.want, m)
					continue
				}
				if status == 403 && m["resourceType"] != "OperationOutcome" {
					t.Errorf("%s %s: 403 without an OperationOutcome: %v", tc.method, tc.path, m)
				}
			}
		})

		// RS384, and a narrower request: Observation only.
		res = v.requestToken(sign(t, v.keys.rsa, jose.RS384, "rsa-1", v.claims()), "system/Observation.rs system/Encounter.rs openid")
		if res.status != 200 || res.body["scope"] != "system/Observation.rs" {
			t.Fatalf("RS384 token: %d %v", res.status, res.body)
		}
		obsOnly := res.token()
		t.Run("visibility", func(t *testing.T) {
			if status, _ := v.fhir("GET", "/fhir/Patient/"+patient, obsOnly, nil); status != 403 {
				t.Errorf("read of Patient with Observation scopes: %d", status)
			}
			status, m := v.fhir("GET", "/fhir/Observation?_include=Observation:subject", obsOnly, nil)
			if status != 200 {
				t.Fatalf("search: %d %v", status, m)
			}
			entries, _ := m["entry"].([]any)
			if len(entries) != 1 || entries[0].(map[string]any)["resource"].(map[string]any)["resourceType"] != "Observation" {
				t.Errorf("the included Patient was not left out: %v", entries)
			}
		})

		t.Run("refused assertions", func(t *testing.T) {
			replayed := sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims())
			if res := v.requestToken(replayed, "system/Observation.rs"); res.status != 200 {
				t.Fatalf("first use: %d %v", res.status, res.body)
			}
			with := func(k string, val any) map[string]any {
				c := v.claims()
				if val == nil {
					delete(c, k)
				} else {
					c[k] = val
				}
				return c
			}
			hdr := map[string]any{"alg": "none", "kid": "ec-1", "typ": "JWT"}
			for name, tc := range map[string]struct {
				assertion string
				form      []string
				status    int
				code      string
			}{
				"reused jti":         {replayed, nil, 401, "invalid_client"},
				"expired":            {sign(t, v.keys.ec, jose.ES384, "ec-1", with("exp", v.clock.unix(-2*time.Minute))), nil, 401, "invalid_client"},
				"exp too far":        {sign(t, v.keys.ec, jose.ES384, "ec-1", with("exp", v.clock.unix(10*time.Minute))), nil, 401, "invalid_client"},
				"no exp":             {sign(t, v.keys.ec, jose.ES384, "ec-1", with("exp", nil)), nil, 401, "invalid_client"},
				"no jti":             {sign(t, v.keys.ec, jose.ES384, "ec-1", with("jti", nil)), nil, 401, "invalid_client"},
				"wrong aud":          {sign(t, v.keys.ec, jose.ES384, "ec-1", with("aud", v.url+oauth.TokenPath)), nil, 401, "invalid_client"},
				"sub not iss":        {sign(t, v.keys.ec, jose.ES384, "ec-1", with("sub", "someone")), nil, 401, "invalid_client"},
				"unknown client":     {sign(t, v.keys.ec, jose.ES384, "ec-1", func() map[string]any { c := with("iss", "nobody"); c["sub"] = "nobody"; return c }()), nil, 401, "invalid_client"},
				"unknown kid":        {sign(t, v.keys.ec, jose.ES384, "ec-9", v.claims()), nil, 401, "invalid_client"},
				"no kid":             {sign(t, v.keys.ec, jose.ES384, "", v.claims()), nil, 401, "invalid_client"},
				"kid of other key":   {sign(t, v.keys.ec, jose.ES384, "rsa-1", v.claims()), nil, 401, "invalid_client"},
				"alg none":           {unsigned(hdr, v.claims(), nil), nil, 401, "invalid_client"},
				"HS256 with the kid": {unsigned(map[string]any{"alg": "HS256", "kid": "ec-1"}, v.claims(), v.keys.jwks(t)), nil, 401, "invalid_client"},
				"jku not registered": {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims(), "jku", "https://evil.example/jwks"), nil, 401, "invalid_client"},
				"other key signed":   {sign(t, mustEC(t), jose.ES384, "ec-1", v.claims()), nil, 401, "invalid_client"},
				"garbage":            {"not.a.jwt", nil, 401, "invalid_client"},
				"no assertion":       {"", []string{"client_assertion", ""}, 400, "invalid_request"},
				"wrong type":         {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), []string{"client_assertion_type", "urn:other"}, 400, "invalid_request"},
				"grant type":         {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), []string{"grant_type", "password"}, 400, "unsupported_grant_type"},
				"scope not allowed":  {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), []string{"scope", "system/Encounter.rs"}, 400, "invalid_scope"},
				"no scope":           {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), []string{"scope", ""}, 400, "invalid_scope"},
				"other client_id":    {sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), []string{"client_id", "other"}, 401, "invalid_client"},
			} {
				form := tc.form
				if tc.assertion == "" {
					form = append([]string{"client_assertion", ""}, form...)
				}
				res := v.requestToken(tc.assertion, "system/Observation.rs", form...)
				if res.status != tc.status || res.body["error"] != tc.code || res.body["error_description"] == "" {
					t.Errorf("%s: %d %v, want %d %s", name, res.status, res.body, tc.status, tc.code)
				}
				t.Logf("%s: %d %s: %s", name, res.status, res.body["error"], res.body["error_description"])
			}
			// Not a form at all.
			resp, err := http.Post(v.url+oauth.TokenPath, "application/json", strings.NewReader(`{"grant_type":"client_credentials"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("JSON body: %d", resp.StatusCode)
			}
		})

		t.Run("replay on another node", func(t *testing.T) {
			// A second service over the same database, as on another node
			// or after a restart, refuses an assertion the first accepted.
			other := oauth.New(v.a.DB, oauth.Config{BaseURL: "https://careloop.example.org", Now: v.clock.Now})
			mux := http.NewServeMux()
			other.Register(mux)
			h, err := httpx.Handler(mux, httpx.Options{Logger: slog.New(slog.DiscardHandler), ErrorRenderers: map[string]httpx.ErrorRenderer{"/auth/": oauth.RenderError}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			a := sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims())
			if res := v.requestToken(a, "system/Observation.rs"); res.status != 200 {
				t.Fatalf("first use: %d %v", res.status, res.body)
			}
			resp, err := http.PostForm(srv.URL+oauth.TokenPath, url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {oauth.AssertionType}, "client_assertion": {a}, "scope": {"system/Observation.rs"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("replay on another node: %d", resp.StatusCode)
			}
		})

		t.Run("concurrent replay", func(t *testing.T) {
			a := sign(t, v.keys.rsa, jose.RS384, "rsa-1", v.claims())
			var wg sync.WaitGroup
			var ok, refused atomic.Int32
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.PostForm(v.url+oauth.TokenPath, url.Values{"grant_type": {"client_credentials"},
						"client_assertion_type": {oauth.AssertionType}, "client_assertion": {a}, "scope": {"system/Observation.rs"}})
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						ok.Add(1)
					case 401:
						refused.Add(1)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || refused.Load() != 5 {
				t.Errorf("one assertion sent six times at once: %d accepted, %d refused", ok.Load(), refused.Load())
			}
		})

		t.Run("api keys still work", func(t *testing.T) {
			if status, _ := v.fhir("DELETE", "/fhir/Observation/"+obs, v.apiKey, nil); status != 200 && status != 204 {
				t.Errorf("API key delete: %d", status)
			}
		})

		t.Run("token expiry", func(t *testing.T) {
			if status, _ := v.fhir("GET", "/fhir/Patient/"+patient, token, nil); status != 200 {
				t.Fatalf("before expiry: %d", status)
			}
			v.clock.Advance(4*time.Minute + 50*time.Second)
			if status, _ := v.fhir("GET", "/fhir/Patient/"+patient, token, nil); status != 200 {
				t.Fatalf("shortly before expiry: %d", status)
			}
			v.clock.Advance(20 * time.Second)
			status, m := v.fhir("GET", "/fhir/Patient/"+patient, token, nil)
			if status != 401 || m["resourceType"] != "OperationOutcome" {
				t.Errorf("after expiry: %d %v", status, m)
			}
		})

		t.Run("revoked client", func(t *testing.T) {
			res := v.requestToken(sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), "system/Patient.r")
			if res.status != 200 {
				t.Fatalf("token: %d %v", res.status, res.body)
			}
			fresh := res.token()
			if status, _ := v.fhir("GET", "/fhir/Patient/"+patient, fresh, nil); status != 200 {
				t.Fatalf("before revocation: %d", status)
			}
			if err := v.a.OAuth.RevokeClient(context.Background(), v.orgID, v.client.ID); err != nil {
				t.Fatal(err)
			}
			if status, _ := v.fhir("GET", "/fhir/Patient/"+patient, fresh, nil); status != 401 {
				t.Errorf("token of a revoked client: %d", status)
			}
			if res := v.requestToken(sign(t, v.keys.ec, jose.ES384, "ec-1", v.claims()), "system/Patient.r"); res.status != 401 || res.body["error"] != "invalid_client" {
				t.Errorf("token request of a revoked client: %d %v", res.status, res.body)
			}
		})
	})
}

func mustEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
