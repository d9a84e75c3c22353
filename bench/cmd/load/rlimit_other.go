//go:build !unix

package main

// raiseFDLimit does nothing where there is no RLIMIT_NOFILE.
func raiseFDLimit() {}
