package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

func noEnv(string) string { return "" }

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

func TestCommandLineMistakesExitTwoWithOneLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"sevre"}, `careloop: unknown command "sevre"`},
		{"unknown flag", []string{"serve", "--data-dir", dir, "--port", "80"}, "careloop serve: flag provided but not defined: -port"},
		{"bad database URL", []string{"migrate", "--db", "postgres://nohost"}, "careloop migrate: --db: PostgreSQL URL"},
		{"unwritable data folder", []string{"demo", "--data-dir", filepath.Join(file, "data")}, "careloop demo: --data-dir: cannot create folder"},
		{"bench without target", []string{"bench"}, "careloop bench: name what to measure"},
		{"audit worker without origin", []string{"audit", "worker", "--data-dir", dir}, "careloop audit worker: --origin is required"},
		{"audit worker sequencing too slow", []string{"audit", "worker", "--data-dir", dir, "--origin", "careloop/x", "--audit-sequence-every", "2m"}, "careloop audit worker: --audit-sequence-every 2m0s is outside 1ms to 1m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
			}
			if tc.want == "" {
				return
			}
			last := strings.TrimSpace(stderr)
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, tc.want) {
				t.Fatalf("stderr %q, want a line starting %q", stderr, tc.want)
			}
		})
	}
}

func TestDatabaseFaultsExitOneWithClearError(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	os.WriteFile(corrupt, bytes.Repeat([]byte("garbage!"), 1000), 0o600)

	newer := filepath.Join(dir, "newer")
	if code, _, stderr := runCmd(t, "migrate", "--data-dir", newer); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	d, err := db.Open(context.Background(), db.Options{SQLitePath: filepath.Join(newer, "careloop.db")})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.MustExec(t, d, "INSERT INTO careloop_schema_version (version_id, is_applied) VALUES (500, true)")
	d.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"corrupt file", []string{"migrate", "--db", "sqlite:" + corrupt}, "is not a valid careloop database"},
		{"newer schema", []string{"serve", "--data-dir", newer, "--addr", "127.0.0.1:0"}, "schema is at version 500 but this careloop knows versions up to"},
		{"unreachable postgres", []string{"migrate", "--db", "postgres://careloop@127.0.0.1:1/careloop?connect_timeout=2"}, "cannot reach PostgreSQL at 127.0.0.1:1/careloop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(corrupt)
			code, _, stderr := runCmd(t, tc.args...)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d stderr %q, want 1 and %q", code, stderr, tc.want)
			}
			if after, _ := os.ReadFile(corrupt); !bytes.Equal(before, after) {
				t.Fatal("the corrupt file was modified")
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startDemo runs "careloop demo" until the returned stop is called, which
// shuts it down as SIGTERM would and returns the exit code.
func startDemo(t *testing.T, dataDir string) (base string, stdout *syncBuffer, stop func() int) {
	t.Helper()
	return startDemoIn(t, dataDir, "12")
}

// startDemoIn is startDemo with the number of patients.
func startDemoIn(t *testing.T, dataDir, patients string) (base string, stdout *syncBuffer, stop func() int) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--data-dir", dataDir, "--addr", addr, "--patients", patients, "--log-level", "warn"}, stdout, stderr, noEnv)
	}()
	base = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get(t, base+"/readyz"); code == 200 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo not ready in 60s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base, stdout, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(40 * time.Second):
			t.Fatal("demo did not shut down")
			return -1
		}
	}
}

func TestDemoSeedsServesAndReusesItsData(t *testing.T) {
	dataDir := t.TempDir()
	base, stdout, stop := startDemo(t, dataDir)
	out := stdout.String()
	for _, want := range []string{"Seeded \"Riverside Family Clinic\" with 12 synthetic patients", "careloop demo is running at " + base, "patient@example.com", "careloop-demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// The page shows the counts once the change job has run.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, page := get(t, base+"/")
		if strings.Contains(page, "<td>Patient</td><td class=\"n\">12</td>") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status page never showed 12 patients:\n%s", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
	// The demo patient signs in with the printed password; the secret key
	// that seals second factors was made, private, in the data folder.
	signIn := func(password string) (int, string) {
		resp, err := http.Post(base+"/auth/signin", "application/json",
			strings.NewReader(`{"org":"riverside-family-clinic","email":"patient@example.com","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := signIn("careloop-demo"); code != 200 || !strings.Contains(body, `"stage":"signed-in"`) {
		t.Errorf("demo sign-in: %d %s", code, body)
	}
	if code, body := signIn("wrong-password"); code != 401 || !strings.Contains(body, "not right") {
		t.Errorf("wrong password: %d %s", code, body)
	}
	if st, err := os.Stat(filepath.Join(dataDir, "secret.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret key file: %v %v", st, err)
	}
	// The counts per type follow the demo's writes through the outbox.
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, body := get(t, base+"/metrics")
		if code == 200 && strings.Contains(body, "careloop_http_requests_total") && strings.Contains(body, `careloop_outbox_applied_total{topic="fhir.counts"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics %d lack careloop series:\n%s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("shutdown exit %d", code)
	}

	_, stdout2, stop2 := startDemo(t, dataDir)
	if !strings.Contains(stdout2.String(), "Using the demo data already in") {
		t.Errorf("second run did not reuse the data:\n%s", stdout2.String())
	}
	if code := stop2(); code != 0 {
		t.Fatalf("second shutdown exit %d", code)
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "careloop ") {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ := runCmd(t, "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range []string{"demo", "serve", "migrate", "bench", "version"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %s", c)
		}
	}
	if code, out, _ := runCmd(t, "serve", "-h"); code != 0 || !strings.Contains(out, "CARELOOP_ADDR") {
		t.Errorf("serve -h: %d %q", code, out)
	}
}
