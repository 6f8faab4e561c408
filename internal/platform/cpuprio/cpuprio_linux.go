package cpuprio

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The scheduling policies of sched_setattr(2).
const (
	policyNormal = 0 // SCHED_OTHER
	policyIdle   = 5 // SCHED_IDLE
)

func supported() bool {
	ok := make(chan bool)
	go func() {
		// A thread of its own, which ends with the goroutine unless it is
		// back at normal priority.
		runtime.LockOSThread()
		tid := unix.Gettid()
		back := setPolicy(tid, policyIdle) == nil && setPolicy(tid, policyNormal) == nil
		if back {
			runtime.UnlockOSThread()
		}
		ok <- back
	}()
	return <-ok
}

func idle() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("cpuprio: list the process's threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := setPolicy(tid, policyIdle); err != nil && err != unix.ESRCH { // ESRCH: the thread ended
			return fmt.Errorf("cpuprio: set thread %d to idle priority: %w", tid, err)
		}
	}
	return nil
}

func setPolicy(tid, policy int) error {
	return unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: uint32(policy)}, 0)
}

// policy returns the scheduling policy of thread tid (0: the calling one).
func policy(tid int) (int, error) {
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, err
	}
	return int(a.Policy), nil
}

// threadTimes reads how long the calling thread has run and waited for a
// core, in ns, from /proc/thread-self/schedstat.
func threadTimes() (run, wait uint64, ok bool) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	run, err1 := strconv.ParseUint(f[0], 10, 64)
	wait, err2 := strconv.ParseUint(f[1], 10, 64)
	return run, wait, err1 == nil && err2 == nil
}

// raise is starved, replaceable by tests.
var raise = starved

func (g *Guard) hold() func() {
	run, wait, ok := threadTimes()
	if !ok {
		return func() {}
	}
	up := g.primed && raise(run-g.run, wait-g.wait)
	g.run, g.wait, g.primed = run, wait, true
	if !up {
		return func() {}
	}
	tid := unix.Gettid()
	if cur, err := policy(0); err != nil || cur != policyIdle {
		return func() {} // not at idle priority: nothing to raise
	}
	if setPolicy(tid, policyNormal) != nil {
		return func() {}
	}
	return func() {
		_ = setPolicy(tid, policyIdle)
		// What the thread ran while raised counts for the next look: the
		// next Hold asks about the time since this one.
		g.run, g.wait, _ = threadTimes()
	}
}
