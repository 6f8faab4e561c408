//go:build !unix

package app

import "syscall"

func workerProcAttr() *syscall.SysProcAttr { return nil }
