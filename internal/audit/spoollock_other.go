//go:build !unix

package audit

import (
	"fmt"
	"os"
)

// lockSpool opens the spool's lock file at path, creating it if needed.
// Elsewhere than on Unix-like systems the file is not locked: nothing stops
// a second process from using the same spool there.
func lockSpool(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open the spool's lock file: %w", err)
	}
	return f, nil
}
