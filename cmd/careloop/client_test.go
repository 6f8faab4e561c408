package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/tenant"
)

func TestClientCommand(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			d, opts := dbtest.OpenWithOptions(t, e)
			dbFlag := "sqlite:" + opts.SQLitePath
			if opts.PostgresURL != "" {
				dbFlag = opts.PostgresURL
			}
			ctx := context.Background()
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				return tenant.NewStore(d).CreateTx(ctx, tx, &tenant.Organization{Slug: "clinic", Name: "Clinic"})
			}); err != nil {
				t.Fatal(err)
			}
			key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES384"}}})
			jwks := filepath.Join(t.TempDir(), "jwks.json")
			if err := os.WriteFile(jwks, b, 0o600); err != nil {
				t.Fatal(err)
			}
			common := []string{"--db", dbFlag, "--data-dir", t.TempDir(), "--org", "clinic"}
			cmd := func(args ...string) []string {
				return append(append([]string{"client", args[0]}, common...), args[1:]...)
			}

			code, out, stderr := runCmd(t, cmd("list")...)
			if code != exitOK || !strings.Contains(out, "no backend clients") {
				t.Fatalf("empty list: %d %q %q", code, out, stderr)
			}
			code, out, stderr = runCmd(t, cmd("create", "--name", "lab system", "--jwks", jwks, "--scopes", "system/Observation.read system/Patient.r")...)
			if code != exitOK {
				t.Fatalf("create: %d %q", code, stderr)
			}
			m := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "system/Observation.rs system/Patient.r") || !strings.Contains(out, "1 key (k1)") {
				t.Fatalf("create printed %q", out)
			}
			id := m[1]
			code, out, _ = runCmd(t, cmd("list")...)
			if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "lab system") {
				t.Fatalf("list: %d %q", code, out)
			}
			if code, out, stderr = runCmd(t, cmd("revoke", "--id", id)...); code != exitOK || !strings.Contains(out, "Revoked client "+id) {
				t.Fatalf("revoke: %d %q %q", code, out, stderr)
			}
			if code, _, stderr = runCmd(t, cmd("revoke", "--id", id)...); code != exitError {
				t.Errorf("second revoke: %d %q", code, stderr)
			}

			for name, args := range map[string][]string{
				"no action":      {"client"},
				"no keys":        cmd("create", "--name", "x", "--scopes", "system/Patient.r"),
				"both keys":      cmd("create", "--name", "x", "--jwks", jwks, "--jwks-url", "https://example.org/jwks", "--scopes", "system/Patient.r"),
				"no scopes":      cmd("create", "--name", "x", "--jwks", jwks),
				"no name":        cmd("create", "--jwks", jwks, "--scopes", "system/Patient.r"),
				"revoke without": cmd("revoke"),
			} {
				if code, _, stderr := runCmd(t, args...); code != exitUsage {
					t.Errorf("%s: exit %d, want 2: %q", name, code, stderr)
				}
			}
			code, _, stderr = runCmd(t, cmd("create", "--name", "x", "--jwks", jwks, "--scopes", "patient/Patient.r")...)
			if code != exitError || !strings.Contains(stderr, "system scopes only") {
				t.Errorf("patient scope: %d %q", code, stderr)
			}
		})
	}
}
