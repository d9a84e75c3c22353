//go:build !linux

package load

import "time"

// serviceCPU returns -1: the services' CPU time is read from /proc.
func serviceCPU([]int) time.Duration { return -1 }

// ProcessCPU returns -1: a process's CPU time is read from /proc.
func ProcessCPU(int) time.Duration { return -1 }
