// Package cpuprio runs a process's background work at idle CPU priority,
// so that it takes only CPU time that requests leave unused, without
// holding up others while it holds a lock.
//
// At idle priority (Linux's SCHED_IDLE) a thread runs only when no normal
// thread wants the core, and gives way as soon as one does. That is what
// work that nobody waits for needs, such as the audit log's sequencer
// beside a server answering requests. It has one danger: a thread starved
// of CPU while it holds a lock that normal threads wait for (SQLite's write
// lock) holds them up for as long as it is starved. A Guard prevents that:
// work done under such a lock runs at normal priority whenever the thread
// had to wait for a core more than it ran since the lock was last held.
//
// Where the platform has no idle priority, Idle reports ErrUnsupported and
// a Guard does nothing. Supported says beforehand whether both work.
package cpuprio

import "errors"

// ErrUnsupported is returned by Idle where the platform has no idle CPU
// priority.
var ErrUnsupported = errors.New("cpuprio: idle CPU priority is not supported on this platform")

// Supported reports whether a process of this user can run at idle
// priority with a Guard that works: the platform has idle priority, and a
// thread may return from it to normal priority. On Linux that takes root,
// CAP_SYS_NICE, or an RLIMIT_NICE of at least 20 (systemd's LimitNICE=20);
// without it a thread at idle priority could be starved while it holds a
// lock, and the work should run at normal priority instead.
func Supported() bool { return supported() }

// Idle moves every thread of the calling process to idle CPU priority.
// Threads started later inherit it from the thread that starts them.
func Idle() error { return idle() }

// A Guard raises the priority of the work done under a lock when the
// calling thread is being starved of CPU. It is meant for one goroutine,
// locked to its thread (runtime.LockOSThread) for as long as it uses the
// Guard, so that every Hold measures the same thread. Its zero value is
// ready for use.
type Guard struct {
	run, wait uint64 // the thread's running and waiting time at the last Hold, in ns
	primed    bool
}

// Hold is called before the lock is taken; the function it returns is
// called once the lock is released. If the thread waited for a core longer
// than it ran since the previous Hold, the work in between runs at normal
// priority, and returns to idle priority on release.
func (g *Guard) Hold() (release func()) {
	return g.hold()
}

// starved reports whether a thread that ran run ns and waited for a core
// wait ns since the last look should be raised while it holds a lock.
func starved(run, wait uint64) bool {
	return wait > run
}
