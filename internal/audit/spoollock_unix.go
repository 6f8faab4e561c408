//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, which the operating system
// releases when f is closed or the process ends. It fails at once with
// errSpoolInUse when another open file of f's path holds the lock, in this
// process or another.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errSpoolInUse
	}
	if err != nil {
		return fmt.Errorf("audit: lock the spool: %w", err)
	}
	return nil
}
