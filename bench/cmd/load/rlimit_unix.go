//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// raiseFDLimit lifts the open-file limit, so that one process can hold
// tens of thousands of connections: to 1<<17 if allowed (root), else to
// the hard limit.
func raiseFDLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	const want = 1 << 17
	if l.Cur >= want {
		return
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: max(l.Max, want)}) == nil {
		return
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintln(os.Stderr, "load: cannot raise the open-file limit:", err)
	}
}

// fdLimit returns the open-file limit in force (after raiseFDLimit), or 0
// if it cannot be read.
func fdLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
