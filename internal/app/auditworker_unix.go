//go:build unix

package app

import "syscall"

// workerProcAttr puts the audit worker in a process group of its own, so
// that a Ctrl-C in the server's terminal reaches the server alone, which
// then stops the worker in turn, after its requests.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
