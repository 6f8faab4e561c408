package demo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/tenant"
)

var anchor = time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)

// cheap keeps hashing fast in tests; production uses the OWASP parameters.
var cheap = &identity.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func seeder(t testing.TB, d *db.DB) *demo.Seeder {
	t.Helper()
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &demo.Seeder{DB: d, Orgs: tenant.NewStore(d), Resources: fhir.NewStore(d, q, nil), Accounts: identity.NewStore(d),
		ChunkSize: 3, PasswordParams: cheap}
}

// digest fingerprints every stored resource version but its meta, so two
// databases can be compared for the same content.
func digest(t testing.TB, d *db.DB) (string, int) {
	t.Helper()
	rows, err := d.Read.Query(`SELECT resource_type, id, version_id, content FROM fhir_resources
		UNION ALL SELECT resource_type, id, version_id, content FROM fhir_resource_history ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var typ, id, content string
		var v int64
		if err := rows.Scan(&typ, &id, &v, &content); err != nil {
			t.Fatal(err)
		}
		// meta.lastUpdated differs between runs; everything else must not.
		var m map[string]any
		if err := json.Unmarshal([]byte(content), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "meta")
		json.NewEncoder(h).Encode([]any{typ, id, v, m})
		n++
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func count(t testing.TB, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSeedResumesAfterInterruptionWithSameResult(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		cfg := demo.Config{Seed: 7, Patients: 12, Anchor: anchor}
		ref := dbtest.Open(t, d.Dialect)
		if _, err := seeder(t, ref).Seed(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		want, n := digest(t, ref)

		ctx, cancel := context.WithCancel(context.Background())
		s := seeder(t, d)
		s.Progress = func(done, total int) {
			if done >= 6 {
				cancel()
			}
		}
		if _, err := s.Seed(ctx, cfg); err == nil {
			t.Fatal("seeding was not interrupted")
		}
		if got := count(t, d, "SELECT count(*) FROM fhir_resources WHERE resource_type = 'Patient'"); got != 6 {
			t.Fatalf("%d patients stored after interruption at 6", got)
		}
		// A later run asks for other data, but continues the stored plan.
		res, err := seeder(t, d).Seed(context.Background(), demo.Config{Seed: 99, Patients: 50})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Resumed || res.Seeded != 6 || res.Patients != 12 || res.Config.Seed != 7 || !res.Config.Anchor.Equal(anchor) {
			t.Fatalf("resume result %+v", res)
		}
		if got, m := digest(t, d); got != want || m != n {
			t.Fatalf("resumed seeding differs from an uninterrupted one: %d vs %d versions", m, n)
		}
		again, err := seeder(t, d).Seed(context.Background(), cfg)
		if err != nil || again.Seeded != 0 || again.Patients != 12 {
			t.Fatalf("third run: %+v %v", again, err)
		}
		if got, _ := digest(t, d); got != want {
			t.Fatal("a run after completion changed the data")
		}
		if len(again.Accounts) < 5 {
			t.Fatalf("accounts %v", again.Accounts)
		}
		for _, a := range again.Accounts {
			acct, hash, err := identity.NewStore(d).ByEmail(context.Background(), again.Org.ID, a.Email)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := identity.VerifyPassword(hash, demo.DemoPassword); !ok || err != nil {
				t.Errorf("%s: demo password does not verify (%v)", acct.Email, err)
			}
		}
	})
}

// TestSeedSurvivesKill9 kills a seeding process with SIGKILL part-way and
// checks that the database is consistent and a new run completes it to the
// same content as an uninterrupted run.
func TestSeedSurvivesKill9(t *testing.T) {
	if os.Getenv("CARELOOP_SEED_CHILD") != "" {
		seedChild(t)
		return
	}
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		cfg := demo.Config{Seed: 3, Patients: 40, Anchor: anchor}
		ref := dbtest.Open(t, d.Dialect)
		if _, err := seeder(t, ref).Seed(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		want, _ := digest(t, ref)

		_, opts := dbtest.OpenWithOptions(t, d.Dialect)
		target, err := db.Open(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		optsJSON, _ := json.Marshal(opts)
		cmd := exec.Command(os.Args[0], "-test.run=^TestSeedSurvivesKill9$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CARELOOP_SEED_CHILD="+string(optsJSON))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			var next int
			err := target.Read.QueryRow("SELECT next_patient FROM demo_seeds").Scan(&next)
			if err == nil && next >= 9 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("child did not get to patient 9 (last error %v)", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		cmd.Wait()

		var next int
		if err := target.Read.QueryRow("SELECT next_patient FROM demo_seeds").Scan(&next); err != nil {
			t.Fatal(err)
		}
		if next >= 40 {
			t.Fatal("child finished before it was killed; the test proves nothing")
		}
		if got := count(t, target, "SELECT count(*) FROM fhir_resources WHERE resource_type = 'Patient'"); got != next {
			t.Fatalf("after kill -9: %d patients stored but progress says %d", got, next)
		}
		if target.Dialect == db.SQLite {
			var check string
			if err := target.Read.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Fatalf("integrity_check %q %v", check, err)
			}
		}
		res, err := seeder(t, target).Seed(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Resumed || res.Patients != 40 {
			t.Fatalf("resume %+v", res)
		}
		if got, _ := digest(t, target); got != want {
			t.Fatal("seeding resumed after kill -9 differs from an uninterrupted one")
		}
	})
}

func seedChild(t *testing.T) {
	var opts db.Options
	if err := json.Unmarshal([]byte(os.Getenv("CARELOOP_SEED_CHILD")), &opts); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s := seeder(t, d)
	s.Progress = func(done, total int) { time.Sleep(15 * time.Millisecond) }
	s.Seed(context.Background(), demo.Config{Seed: 3, Patients: 40, Anchor: anchor})
	time.Sleep(time.Hour) // finished early: wait to be killed, the parent will notice
}
