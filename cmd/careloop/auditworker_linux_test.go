package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/careloop/careloop/internal/platform/cpuprio"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestAuditWorker runs the careloop binary: serve starts "careloop audit
// worker", every thread of which runs at idle CPU priority, and the
// entries of the server's audited reads get their place in the log's tree
// from it. A worker that is killed is started again and carries on; a
// server that is killed takes its worker with it.
func TestAuditWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	if !cpuprio.Supported() {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs the audit worker's test: give the user CAP_SYS_NICE or an RLIMIT_NICE of 20")
		}
		t.Skip("this user cannot run a worker at idle priority (needs CAP_SYS_NICE or RLIMIT_NICE 20)")
	}
	bin := buildCareloop(t)
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			store := storeFlags(t, e)
			token, _ := crashSetup(t, store)
			d := openStore(t, store)

			srv := startServe(t, bin, store)
			first := idleWorker(t, srv)
			fhirDo(t, srv.base, token, http.MethodPut, "/fhir/Patient/worker-1", `{"resourceType":"Patient","id":"worker-1","name":[{"family":"Worker"}]}`, http.StatusCreated)
			for range 20 {
				fhirDo(t, srv.base, token, http.MethodGet, "/fhir/Patient/worker-1", "", http.StatusOK)
			}
			n := waitSequenced(t, d, 21)
			t.Logf("worker %d sequenced %d entries", first, n)
			if e == db.SQLite {
				// The reads' entries went through the server's spool, which
				// the worker follows.
				spool := filepath.Join(store[1], "audit-spool")
				if !hasOpen(first, spool) {
					t.Fatalf("worker %d does not have %s open", first, spool)
				}
			}

			if err := unix.Kill(first, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			var second int
			for deadline := time.Now().Add(20 * time.Second); second == 0 || second == first; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no new worker 20 s after the first was killed: %s", srv.stderr.String())
				}
				if pids := childPIDs(srv.cmd.Process.Pid); len(pids) == 1 && !processGone(pids[0]) {
					second = pids[0]
				}
			}
			idleWorker(t, srv)
			for range 10 {
				fhirDo(t, srv.base, token, http.MethodGet, "/fhir/Patient/worker-1", "", http.StatusOK)
			}
			t.Logf("worker %d, started after the first was killed, sequenced up to %d entries", second, waitSequenced(t, d, n+10))
			if !strings.Contains(srv.stderr.String(), "the audit worker stopped; starting it again") {
				t.Fatalf("the server did not log the worker's restart: %s", srv.stderr.String())
			}

			srv.kill() // waits for the worker to exit
			if !processGone(second) {
				t.Fatalf("worker %d outlived its server", second)
			}
		})
	}
}

// idleWorker waits for the one audit worker of srv to run with every
// thread at idle CPU priority (SCHED_IDLE), which it sets up as it starts.
func idleWorker(t *testing.T, srv *serveProc) int {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("careloop serve has no audit worker at idle priority (%s): %s", last, srv.stderr.String())
		}
		pids := childPIDs(srv.cmd.Process.Pid)
		if len(pids) != 1 || processGone(pids[0]) {
			last = fmt.Sprintf("children %v", pids)
			continue
		}
		pid := pids[0]
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if got := strings.ReplaceAll(string(cmdline), "\x00", " "); !strings.HasSuffix(got, " audit worker ") {
			last = fmt.Sprintf("the child runs %q", got)
			continue
		}
		if p := notIdle(pid); p != "" {
			last = p
			continue
		}
		return pid
	}
}

// notIdle names a thread of pid that is not at idle priority, if any.
func notIdle(pid int) string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if len(tasks) == 0 {
		return "no threads listed"
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(filepath.Base(task))
		a, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // the thread ended
		}
		if a.Policy != 5 { // SCHED_IDLE
			return fmt.Sprintf("thread %d of worker %d has scheduling policy %d", tid, pid, a.Policy)
		}
	}
	return ""
}

// hasOpen reports whether process pid has the file path open.
func hasOpen(pid int, path string) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == path {
			return true
		}
	}
	return false
}

// waitSequenced waits until at least want audit entries are stored and all
// of them are leaves of the tree, and returns how many there are.
func waitSequenced(t *testing.T, d *db.DB, want int) int {
	t.Helper()
	var entries, leaves int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := d.Read.QueryRow("SELECT (SELECT count(*) FROM audit_entry), (SELECT count(*) FROM audit_leaf)").Scan(&entries, &leaves); err != nil {
			t.Fatal(err)
		}
		if entries >= want && leaves == entries {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit entries stored and %d sequenced 20 s on, want all of at least %d", entries, leaves, want)
		}
	}
}

// fhirDo sends one FHIR request with the API key and checks its status.
func fhirDo(t *testing.T, base, token, method, path, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
}
