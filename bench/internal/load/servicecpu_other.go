//go:build !linux

package load

import "time"

// serviceCPU returns -1: the services' CPU time is read from /proc.
func serviceCPU([]int) time.Duration { return -1 }
