package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
)

// Group commit. On SQLite every commit writes each page the transaction
// dirtied to the WAL, one system call per page header and one per page: a
// transaction Bundle of a few hundred resources dirties hundreds of index
// pages, and under concurrent Bundles the commits became a quarter of the
// server's CPU. Writes that arrive while another commits wait for the one
// writer anyway; InGroupTx runs them together in one transaction, each in
// a savepoint of its own, and commits once, so that pages they share are
// written once.

// maxGroup bounds the callers whose work shares one transaction, so that
// the first of them is not held up behind an unbounded queue.
const maxGroup = 16

// groupSavepoint names the savepoint each caller's work runs in.
const groupSavepoint = "careloop_group"

// groupCommitter batches the InGroupTx calls of one DB.
type groupCommitter struct {
	leader chan struct{} // holding its one slot is leading a group
	queue  chan *groupCall
	// Counters, for tests and for the curious.
	groups, calls atomic.Int64
}

// groupCall is one InGroupTx call.
type groupCall struct {
	ctx   context.Context
	fn    func(ctx context.Context, tx *sql.Tx) error
	err   error
	panic any           // what fn panicked with, re-raised in the caller
	done  chan struct{} // closed when the call's outcome is known
}

func newGroupCommitter() *groupCommitter {
	return &groupCommitter{leader: make(chan struct{}, 1), queue: make(chan *groupCall, 1024)}
}

// InGroupTx runs fn in a write transaction, as InTx does, and returns once
// the transaction has committed (nil) or fn's work has been undone (an
// error; a panic of fn is raised again here).
//
// On SQLite the transaction may be shared with other InGroupTx calls made
// at the same time: each fn runs in a savepoint of its own, one after the
// other, and sees what the fns before it in the group wrote, as if they had
// committed just before; a fn that fails or panics has only its own work
// undone. The group commits once; if that commit fails, every call in it
// gets the error. fn's ctx carries the caller's values but not its
// cancellation: on SQLite interrupting a statement would roll back the whole
// shared transaction, so a caller that goes away cannot cut a statement
// short (a call whose ctx is done before its turn does not run at all).
//
// On PostgreSQL, where transactions run side by side, InGroupTx is InTx
// with fn given ctx as it is.
func (d *DB) InGroupTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if d.group == nil {
		return d.InTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan struct{})}
	g := d.group
	select {
	case g.queue <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case <-c.done:
			return c.outcome()
		case g.leader <- struct{}{}:
		}
		// Leading: run what is queued (this call, unless a group before
		// took it), as many groups as it takes to reach this call.
		for {
			select {
			case <-c.done:
				<-g.leader
				return c.outcome()
			default:
			}
			d.runGroup(g)
		}
	}
}

// outcome returns the call's error, or raises its panic again.
func (c *groupCall) outcome() error {
	if c.panic != nil {
		panic(c.panic)
	}
	return c.err
}

// runGroup takes up to maxGroup queued calls and runs them in one
// transaction. Every call it takes is done when it returns.
func (d *DB) runGroup(g *groupCommitter) {
	var calls []*groupCall
	for len(calls) < maxGroup {
		select {
		case c := <-g.queue:
			calls = append(calls, c)
			continue
		default:
		}
		break
	}
	if len(calls) == 0 {
		return
	}
	g.groups.Add(1)
	g.calls.Add(int64(len(calls)))
	defer func() {
		for _, c := range calls {
			close(c.done)
		}
	}()
	fail := func(err error) {
		for _, c := range calls {
			if c.err == nil && c.panic == nil {
				c.err = err
			}
		}
	}
	// The transaction belongs to no one caller: it must outlive any of
	// their contexts.
	tx, err := d.Write.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("db: begin: %w", err))
		return
	}
	ran := 0
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		if _, err := tx.Exec("SAVEPOINT " + groupSavepoint); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("db: savepoint: %w", err))
			return
		}
		c.err, c.panic = callInSavepoint(c, tx)
		ends := []string{"RELEASE " + groupSavepoint}
		if c.err != nil || c.panic != nil {
			ends = append([]string{"ROLLBACK TO " + groupSavepoint}, ends...)
		} else {
			ran++
		}
		for _, end := range ends {
			if _, err := tx.Exec(end); err != nil {
				// The savepoint is gone: SQLite rolled the whole
				// transaction back (a full disk, an I/O error). Nothing
				// of the group stays.
				_ = tx.Rollback()
				fail(fmt.Errorf("db: the shared transaction was rolled back: %w", err))
				return
			}
		}
	}
	if ran == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("db: commit: %w", err))
	}
}

// callInSavepoint runs c's fn, turning a panic into a value.
func callInSavepoint(c *groupCall, tx *sql.Tx) (err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return c.fn(context.WithoutCancel(c.ctx), tx), nil
}

// GroupCommits reports how many shared transactions InGroupTx has run and
// how many calls they carried (both 0 on PostgreSQL, where it runs none).
func (d *DB) GroupCommits() (groups, calls int64) {
	if d.group == nil {
		return 0, 0
	}
	return d.group.groups.Load(), d.group.calls.Load()
}
