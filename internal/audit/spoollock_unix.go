//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockSpool opens the spool's lock file at path, creating it if needed,
// and takes an exclusive lock on it, which the operating system releases
// when the file is closed or the process ends. It fails at once with
// errSpoolInUse when another process, or another open spool of this one,
// holds the lock.
func lockSpool(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open the spool's lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errSpoolInUse
		}
		return nil, fmt.Errorf("audit: lock the spool: %w", err)
	}
	return f, nil
}
