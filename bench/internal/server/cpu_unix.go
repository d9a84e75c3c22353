//go:build unix

package server

import "syscall"

// cpuNs returns the CPU time (user and system) this process has used, in
// nanoseconds, or -1 if it cannot be read.
func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
