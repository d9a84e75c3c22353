//go:build !unix

package server

// cpuNs returns -1: the CPU time is not measured here.
func cpuNs() int64 { return -1 }
