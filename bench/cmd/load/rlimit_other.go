//go:build !unix

package main

// raiseFDLimit does nothing where there is no RLIMIT_NOFILE.
func raiseFDLimit() {}

// fdLimit returns 0: unknown.
func fdLimit() uint64 { return 0 }
