//go:build !linux

package e2e

import (
	"errors"
	"os"
	"os/exec"
)

// ownGroup does nothing here: process groups and the parent-death signal
// are used on Linux only. A test binary that dies without running its
// cleanups can leave processes behind.
func ownGroup(*exec.Cmd) {}

// killGroup kills the process pid only.
func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// groupAlive reports false: without groups nothing is left to wait for.
func groupAlive(int) bool { return false }
