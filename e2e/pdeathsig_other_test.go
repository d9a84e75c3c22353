//go:build !linux

package e2e

import "os/exec"

// dieWithParent does nothing here: only Linux has a parent-death signal. A
// test binary that dies without running its cleanups can leave a server
// behind.
func dieWithParent(*exec.Cmd) {}
