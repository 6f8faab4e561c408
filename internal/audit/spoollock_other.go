//go:build !unix

package audit

import "os"

// lockFile does nothing: elsewhere than on Unix-like systems the spool's
// lock file is not locked, and nothing stops a second process from using
// the same spool.
func lockFile(*os.File) error { return nil }
