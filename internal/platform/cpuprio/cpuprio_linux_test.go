package cpuprio

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIdleAndGuard runs its checks in a child process: Idle changes every
// thread of the process that calls it.
func TestIdleAndGuard(t *testing.T) {
	if os.Getenv("CPUPRIO_CHILD") == "1" {
		idleChild(t)
		return
	}
	if !Supported() {
		t.Skip("this user cannot return a thread from idle priority (needs root, CAP_SYS_NICE or RLIMIT_NICE ≥ 20)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleAndGuard$", "-test.v")
	cmd.Env = append(os.Environ(), "CPUPRIO_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child ok") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// This process is untouched.
	if p, err := policy(0); err != nil || p != policyNormal {
		t.Fatalf("the parent's policy is %d (%v), want normal", p, err)
	}
}

func idleChild(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := Idle(); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if p, err := policy(tid); err == nil && p != policyIdle {
			t.Fatalf("thread %d has policy %d after Idle, want idle (%d)", tid, p, policyIdle)
		}
	}
	// A thread started afterwards inherits idle priority.
	started := make(chan int)
	go func() {
		runtime.LockOSThread() // ends the thread with the goroutine
		started <- unix.Gettid()
	}()
	if p, err := policy(<-started); err == nil && p != policyIdle {
		t.Fatalf("a thread started after Idle has policy %d, want idle", p)
	}

	var g Guard
	raise = func(run, wait uint64) bool { return true } // as if starved
	g.Hold()()                                          // the first Hold has nothing to compare with
	if p, _ := policy(0); p != policyIdle {
		t.Fatalf("after the first Hold the policy is %d, want idle", p)
	}
	release := g.Hold()
	if p, _ := policy(0); p != policyNormal {
		t.Fatalf("a starved thread holds the lock at policy %d, want normal", p)
	}
	release()
	if p, _ := policy(0); p != policyIdle {
		t.Fatalf("after release the policy is %d, want idle", p)
	}
	raise = func(run, wait uint64) bool { return false } // not starved
	release = g.Hold()
	if p, _ := policy(0); p != policyIdle {
		t.Fatalf("a thread that is not starved was raised to policy %d", p)
	}
	release()
	t.Log("child ok")
}

func TestStarvedWhenWaitingLongerThanRunning(t *testing.T) {
	for _, c := range []struct {
		run, wait uint64
		want      bool
	}{{1000, 0, false}, {1000, 1000, false}, {1000, 1001, true}, {0, 5, true}, {0, 0, false}} {
		if got := starved(c.run, c.wait); got != c.want {
			t.Errorf("starved(run %d, wait %d) = %v, want %v", c.run, c.wait, got, c.want)
		}
	}
}

func TestThreadTimesAdvance(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	run0, _, ok := threadTimes()
	if !ok {
		t.Fatal("cannot read /proc/thread-self/schedstat")
	}
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	run1, _, _ := threadTimes()
	if run1 <= run0 {
		t.Fatalf("running time did not advance: %d then %d (x=%d)", run0, run1, x)
	}
}
