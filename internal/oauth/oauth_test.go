package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/careloop/careloop/internal/oauth"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

// newOrg creates an organisation and returns its id.
func newOrg(t testing.TB, d *db.DB, slug string) string {
	t.Helper()
	ctx := context.Background()
	o := &tenant.Organization{Slug: slug, Name: slug}
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, o) }); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func jwksOf(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreateClientChecksKeysAndScopes(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "clinic")
		svc := oauth.New(d, oauth.Config{BaseURL: "https://careloop.example.org"})
		k := clientKeys(t)
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		good := k.jwks(t)
		for name, tc := range map[string]struct {
			nc    oauth.NewClient
			field string
		}{
			"no name":          {oauth.NewClient{JWKS: good, Scopes: "system/Patient.r"}, "name"},
			"no keys":          {oauth.NewClient{Name: "x", Scopes: "system/Patient.r"}, "jwks"},
			"both keys":        {oauth.NewClient{Name: "x", JWKS: good, JWKSURL: "https://example.org/jwks", Scopes: "system/Patient.r"}, "jwks"},
			"not JSON":         {oauth.NewClient{Name: "x", JWKS: []byte("{"), Scopes: "system/Patient.r"}, "jwks"},
			"empty set":        {oauth.NewClient{Name: "x", JWKS: []byte(`{"keys":[]}`), Scopes: "system/Patient.r"}, "jwks"},
			"private key":      {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: k.ec, KeyID: "a"}), Scopes: "system/Patient.r"}, "jwks"},
			"no kid":           {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.ec.PublicKey}), Scopes: "system/Patient.r"}, "jwks"},
			"duplicate kid":    {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "a"}, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "a"}), Scopes: "system/Patient.r"}, "jwks"},
			"RSA 1024":         {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &small.PublicKey, KeyID: "a"}), Scopes: "system/Patient.r"}, "jwks"},
			"symmetric key":    {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "a"}), Scopes: "system/Patient.r"}, "jwks"},
			"encryption key":   {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "a", Use: "enc"}), Scopes: "system/Patient.r"}, "jwks"},
			"alg of other key": {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "a", Algorithm: "ES384"}), Scopes: "system/Patient.r"}, "jwks"},
			"HMAC alg":         {oauth.NewClient{Name: "x", JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "a", Algorithm: "HS256"}), Scopes: "system/Patient.r"}, "jwks"},
			"http URL":         {oauth.NewClient{Name: "x", JWKSURL: "http://example.org/jwks", Scopes: "system/Patient.r"}, "jwks-url"},
			"no scopes":        {oauth.NewClient{Name: "x", JWKS: good}, "scopes"},
			"patient scope":    {oauth.NewClient{Name: "x", JWKS: good, Scopes: "patient/Observation.rs"}, "scopes"},
			"unknown type":     {oauth.NewClient{Name: "x", JWKS: good, Scopes: "system/Observaton.rs"}, "scopes"},
			"bad scope":        {oauth.NewClient{Name: "x", JWKS: good, Scopes: "system/Observation.sr"}, "scopes"},
		} {
			_, err := svc.CreateClient(ctx, org, tc.nc)
			if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != tc.field {
				t.Errorf("%s: got %v (field %q), want invalid %s", name, err, errs.FieldOf(err), tc.field)
			}
		}
		c, err := svc.CreateClient(ctx, org, oauth.NewClient{Name: " lab ", JWKS: good, Scopes: "system/Observation.read system/Patient.r"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "lab" || oauth.FormatScopes(c.Scopes) != "system/Observation.rs system/Patient.r" || len(c.Keys.Keys) != 2 || c.OrgID != org {
			t.Errorf("created %+v", c)
		}
		got, err := svc.Client(ctx, c.ID)
		if err != nil || got.Name != "lab" || len(got.Keys.Keys) != 2 || !got.Keys.Keys[0].IsPublic() || got.RevokedAt != nil {
			t.Fatalf("read back %+v %v", got, err)
		}
	})
}

func TestClientsPerOrganisationAndRevocation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := newOrg(t, d, "a"), newOrg(t, d, "b")
		svc := oauth.New(d, oauth.Config{})
		jwks := clientKeys(t).jwks(t)
		ca, err := svc.CreateClient(ctx, a, oauth.NewClient{Name: "one", JWKS: jwks, Scopes: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateClient(ctx, b, oauth.NewClient{Name: "two", JWKS: jwks, Scopes: "system/*.rs"}); err != nil {
			t.Fatal(err)
		}
		list, err := svc.Clients(ctx, a)
		if err != nil || len(list) != 1 || list[0].ID != ca.ID {
			t.Fatalf("clients of a: %+v %v", list, err)
		}
		if err := svc.RevokeClient(ctx, b, ca.ID); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("revoked another organisation's client: %v", err)
		}
		if err := svc.RevokeClient(ctx, a, ca.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.RevokeClient(ctx, a, ca.ID); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("second revocation: %v", err)
		}
		list, err = svc.Clients(ctx, a)
		if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
			t.Fatalf("after revocation: %+v %v", list, err)
		}
	})
}

// TestRevocationByAnotherProcess checks that a token cached by one service
// stops working once another (the careloop command, another node) revokes
// its client: at the latest after the cache's lifetime.
func TestRevocationByAnotherProcess(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		v := newEnvOn(t, d)
		token := v.token(t, "system/Patient.r")
		ctx := context.Background()
		if _, err := v.svc.AuthenticateToken(ctx, token); err != nil {
			t.Fatal(err)
		}
		other := oauth.New(d, oauth.Config{})
		if err := other.RevokeClient(ctx, v.orgID, v.client.ID); err != nil {
			t.Fatal(err)
		}
		v.clock.Advance(oauth.DefaultCacheTTL + time.Second)
		if _, err := v.svc.AuthenticateToken(ctx, token); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("token of a client revoked elsewhere: %v", err)
		}
	})
}

// serviceEnv is a Service with a client, without HTTP.
type serviceEnv struct {
	svc    *oauth.Service
	clock  *clock
	orgID  string
	client *oauth.Client
	mux    *http.ServeMux
}

func newEnvOn(t testing.TB, d *db.DB) *serviceEnv {
	t.Helper()
	v := &serviceEnv{clock: &clock{}, orgID: newOrg(t, d, "clinic"), mux: http.NewServeMux()}
	v.svc = oauth.New(d, oauth.Config{BaseURL: "https://careloop.example.org", Now: v.clock.Now})
	v.svc.Register(v.mux)
	var err error
	v.client, err = v.svc.CreateClient(context.Background(), v.orgID, oauth.NewClient{Name: "lab", JWKS: clientKeys(t).jwks(t), Scopes: "system/Observation.rs system/Patient.r"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// token gets an access token through the token endpoint's handler.
func (v *serviceEnv) token(t testing.TB, scope string) string {
	t.Helper()
	claims := map[string]any{"iss": v.client.ID, "sub": v.client.ID, "aud": v.svc.TokenEndpoint(), "exp": v.clock.unix(4 * time.Minute), "jti": rand.Text()}
	return postToken(t, v.mux, sign(t, clientKeys(t).ec, jose.ES384, "ec-1", claims), scope)
}

func postToken(t testing.TB, h http.Handler, assertion, scope string) string {
	t.Helper()
	form := "grant_type=client_credentials&client_assertion_type=" + oauth.AssertionType + "&scope=" + strings.ReplaceAll(scope, " ", "+") + "&client_assertion=" + assertion
	r := httptest.NewRequest("POST", oauth.TokenPath, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); w.Code != 200 || err != nil || body.AccessToken == "" {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return body.AccessToken
}

// TestJWKSURL registers a client by the URL of its keys, served on
// loopback: the keys are fetched once and cached, a new kid (a rotated
// key) is fetched again, and jku must name the registered URL.
func TestJWKSURL(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k := clientKeys(t)
		var mu sync.Mutex
		served := jwksOf(t, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: "ES384"})
		var fetches atomic.Int32
		keySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetches.Add(1)
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(served)
		}))
		defer keySrv.Close()

		clk := &clock{}
		svc := oauth.New(d, oauth.Config{BaseURL: "https://careloop.example.org", Now: clk.Now})
		mux := http.NewServeMux()
		svc.Register(mux)
		org := newOrg(t, d, "clinic")
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		if _, err := svc.CreateClient(ctx, org, oauth.NewClient{Name: "x", JWKSURL: closed.URL + "/jwks", Scopes: "system/*.rs"}); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("unreachable JWK Set URL accepted: %v", err)
		}
		c, err := svc.CreateClient(ctx, org, oauth.NewClient{Name: "by URL", JWKSURL: keySrv.URL + "/jwks", Scopes: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		claims := func() map[string]any {
			return map[string]any{"iss": c.ID, "sub": c.ID, "aud": svc.TokenEndpoint(), "exp": clk.unix(4 * time.Minute), "jti": rand.Text()}
		}
		before := fetches.Load()
		postToken(t, mux, sign(t, k.ec, jose.ES384, "ec-1", claims(), "jku", keySrv.URL+"/jwks"), "system/Patient.rs")
		postToken(t, mux, sign(t, k.ec, jose.ES384, "ec-1", claims()), "system/Patient.rs")
		if n := fetches.Load() - before; n != 1 {
			t.Errorf("%d fetches for two token requests, want 1 (cached)", n)
		}

		// The client rotates to its RSA key.
		mu.Lock()
		served = jwksOf(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "rsa-2", Algorithm: "RS384"})
		mu.Unlock()
		clk.Advance(31 * time.Second)
		postToken(t, mux, sign(t, k.rsa, jose.RS384, "rsa-2", claims()), "system/Patient.rs")

		for name, assertion := range map[string]string{
			"other jku":              sign(t, k.rsa, jose.RS384, "rsa-2", claims(), "jku", "https://evil.example/jwks"),
			"old key after rotation": sign(t, k.ec, jose.ES384, "ec-1", claims()),
		} {
			r := httptest.NewRequest("POST", oauth.TokenPath, strings.NewReader("grant_type=client_credentials&client_assertion_type="+oauth.AssertionType+"&scope=system/Patient.rs&client_assertion="+assertion))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != 401 {
				t.Errorf("%s: %d %s", name, w.Code, w.Body)
			}
		}
	})
}

func TestAuthenticateToken(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		v := newEnvOn(t, d)
		token := v.token(t, "system/Observation.rs system/Patient.r")
		for i := range 2 { // from the database, then from the cache
			got, err := v.svc.AuthenticateToken(ctx, token)
			if err != nil || got.OrgID != v.orgID || got.ClientID != v.client.ID || strings.Join(got.Scopes, " ") != "system/Observation.rs system/Patient.r" {
				t.Fatalf("round %d: %+v %v", i, got, err)
			}
		}
		for _, bad := range []string{"", "clk_" + token[4:], token + "x", "clt_" + strings.Repeat("A", 52), "clt_" + strings.Repeat("A", 500)} {
			if _, err := v.svc.AuthenticateToken(ctx, bad); errs.CodeOf(err) != errs.Unauthorized {
				t.Errorf("%.20q: %v", bad, err)
			}
		}
		v.clock.Advance(oauth.DefaultTokenLifetime)
		if _, err := v.svc.AuthenticateToken(ctx, token); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("expired token: %v", err)
		}
	})
}
