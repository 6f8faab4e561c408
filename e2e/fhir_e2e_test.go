// Package e2e holds careloop's end-to-end tests: the real binary, started
// as a person or a deployment would start it, driven from outside by
// standard clients.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/demo"
)

const (
	readyTimeout = 120 * time.Second // seeding the demo data and starting
	nodeTimeout  = 5 * time.Minute   // the whole node test run
	stopTimeout  = 60 * time.Second  // SIGTERM to exit (the server's own shutdown timeout is 30 s)
)

// TestFHIRClient runs e2e/fhir/*.test.mjs, which drive the FHIR API with
// fhir-kit-client from npm, against a demo server built from this tree.
func TestFHIRClient(t *testing.T) {
	root := repoRoot(t)
	fhirDir := filepath.Join(root, "e2e", "fhir")
	requireNode(t, fhirDir)

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "careloop")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/careloop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/careloop: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	srv := startServer(t, bin, "demo",
		"--data-dir", filepath.Join(tmp, "data"),
		"--addr", addr,
		"--patients", "20",
		"--log-level", "warn")
	base := "http://" + addr
	srv.waitReady(t, base+"/readyz", readyTimeout)

	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec")
	node.Dir = fhirDir
	node.Env = append(os.Environ(),
		"CARELOOP_FHIR_URL="+base+"/fhir",
		"CARELOOP_TOKEN="+demo.DemoAPIToken(1),
		"NO_COLOR=1")
	out := newLineLogger(t, "node: ")
	node.Stdout, node.Stderr = out, out
	node.WaitDelay = 10 * time.Second
	err := node.Run()
	out.Flush()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		t.Errorf("node --test did not finish within %s", nodeTimeout)
	case err != nil:
		t.Errorf("node --test in %s: %v (its output is above)", fhirDir, err)
	}

	if err := srv.stop(stopTimeout); err != nil {
		t.Errorf("careloop after SIGTERM: %v", err)
	}
}

// repoRoot returns the module root: the parent of this file's folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	candidates := []string{}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Dir(filepath.Dir(file)))
	}
	if wd, err := os.Getwd(); err == nil { // go test runs in the package folder
		candidates = append(candidates, filepath.Dir(wd))
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatalf("cannot find the repository root (tried %v)", candidates)
	return ""
}

// requireNode skips the test when node, npm or the npm packages of dir are
// missing, or fails it when CI is set: CI must never silently skip.
func requireNode(t *testing.T, dir string) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" is not on PATH")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client", "package.json")); err != nil {
		missing = append(missing, fmt.Sprintf("the npm packages are not installed in %s (run: cd e2e/fhir && npm ci)", dir))
	}
	if len(missing) == 0 {
		return
	}
	msg := "FHIR client end-to-end test needs Node.js 20+ and npm: " + strings.Join(missing, "; ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return addr
}

// server is a careloop process started by the test.
type server struct {
	cmd  *exec.Cmd
	out  *lineLogger
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed

	once    sync.Once
	stopErr error // the result of stop
}

// startServer starts bin with args, its output in the test log. The test's
// cleanup stops it if the test did not.
func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// Only the flags decide the configuration, not CARELOOP_* variables of
	// whoever runs the test.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CARELOOP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	s := &server{cmd: cmd, out: newLineLogger(t, "careloop: "), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		s.err = cmd.Wait()
		s.out.Flush()
		close(s.done)
	}()
	t.Cleanup(func() {
		if err := s.stop(stopTimeout); err != nil {
			t.Logf("careloop stopped at cleanup: %v", err)
		}
	})
	return s
}

// waitReady polls url until it answers 200, the process exits or timeout
// passes.
func (s *server) waitReady(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("careloop exited before it was ready: %v", s.err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s (last: %s)", url, timeout, last)
}

// stop sends SIGTERM and waits for the process to exit; it returns nil when
// the process exited with status 0. Later calls return the same result.
func (s *server) stop(timeout time.Duration) error {
	s.once.Do(func() { s.stopErr = s.terminate(timeout) })
	return s.stopErr
}

func (s *server) terminate(timeout time.Duration) error {
	select {
	case <-s.done:
		return fmt.Errorf("exited before SIGTERM: %v", s.err)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			return fmt.Errorf("exit after SIGTERM: %w", s.err)
		}
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("still running %s after SIGTERM; killed", timeout)
	}
}

// lineLogger writes each line written to it into the test log, as it comes.
type lineLogger struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func newLineLogger(t testing.TB, prefix string) *lineLogger {
	return &lineLogger{t: t, prefix: prefix}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(l.prefix + strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush logs a last line that has no newline.
func (l *lineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + strings.TrimRight(string(l.buf), "\r"))
		l.buf = nil
	}
}
