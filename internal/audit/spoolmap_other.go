//go:build !linux

package audit

import (
	"errors"
	"os"
)

// spoolMapped is false: elsewhere than Linux the spool is written with
// WriteAt.
const spoolMapped = false

var errNoMapping = errors.New("audit: the spool is not mapped on this platform")

func reserveSpool(*os.File, int64) error       { return errNoMapping }
func mapSpool(*os.File, int64) ([]byte, error) { return nil, errNoMapping }
func unmapSpool([]byte) error                  { return nil }
