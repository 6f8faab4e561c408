package oauth_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// BenchmarkPolicy measures what the policy adds to every FHIR request:
// Authenticate and Allow, for a backend client's access token (SHA-256 of
// the token and a cache lookup; the database once per cache lifetime) and,
// for comparison, an API key (a database lookup every time).
func BenchmarkPolicy(b *testing.B) {
	d := dbtest.Open(b, db.SQLite)
	v := newEnvOn(b, d)
	token := v.token(b, "system/Observation.rs")
	ids := identity.NewStore(d)
	var key string
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		_, key, err = ids.CreateAPIKeyTx(ctx, tx, v.orgID, "bench")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	p := access.NewPolicy(ids, v.svc)
	for _, bc := range []struct{ name, token string }{{"client-token", token}, {"api-key", key}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/fhir/Observation/1", nil)
			r.Header.Set("Authorization", "Bearer "+bc.token)
			b.ReportAllocs()
			for b.Loop() {
				pr, err := p.Authenticate(r)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Allow(ctx, pr, fhir.InteractionRead, "Observation"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// openAccess admits every request as the organisation without looking at
// it: the unauthenticated baseline of BenchmarkFHIRRead.
type openAccess struct{ orgID string }

func (o openAccess) Authenticate(*http.Request) (*fhir.Principal, error) {
	return &fhir.Principal{OrgID: o.orgID, Subject: "bench", Kind: access.KindAPIKey}, nil
}
func (openAccess) Allow(context.Context, *fhir.Principal, fhir.Interaction, string) error { return nil }
func (openAccess) Visible(context.Context, *fhir.Principal, *fhir.Stored) bool            { return true }

// BenchmarkFHIRRead reads one Observation through the FHIR API's handler
// (in process, SQLite) without authentication, with a backend client's
// token and with an API key, and reports the median (p50-ns) beside the
// mean: the target is an authenticated read within 10% of an
// unauthenticated one at p50.
func BenchmarkFHIRRead(b *testing.B) {
	v := newEnv(b, db.SQLite)
	v.create("Patient", `{"resourceType":"Patient","name":[{"family":"Okafor"}]}`)
	obs := v.create("Observation", `{"resourceType":"Observation","status":"final","code":{"text":"glucose"}}`)
	res := v.requestToken(sign(b, v.keys.ec, jose.ES384, "ec-1", v.claims()), "system/Observation.rs")
	if res.status != 200 {
		b.Fatalf("token: %d %v", res.status, res.body)
	}
	policy := access.NewPolicy(v.a.Accounts, v.a.OAuth)
	handler := func(acc fhir.Access) http.Handler {
		api := fhir.NewAPI(fhir.APIConfig{DB: v.a.DB, Store: v.a.Resources, Search: v.a.Search, Access: acc,
			IsType: spec.IsResourceType, BaseURL: "https://careloop.example.org/fhir"})
		mux := http.NewServeMux()
		api.Register(mux)
		return mux
	}
	for _, bc := range []struct {
		name  string
		h     http.Handler
		token string
	}{
		{"unauthenticated", handler(openAccess{v.orgID}), ""},
		{"client-token", handler(policy), res.token()},
		{"api-key", handler(policy), v.apiKey},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/fhir/Observation/"+obs, nil)
			if bc.token != "" {
				r.Header.Set("Authorization", "Bearer "+bc.token)
			}
			var times []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				start := time.Now()
				bc.h.ServeHTTP(w, r)
				times = append(times, time.Since(start))
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
		})
	}
}
