package e2e

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownGroup makes cmd's process the leader of a new process group, so that
// its children can be killed with it, and makes the kernel kill it when
// the thread that starts it ends, so that a test binary that dies without
// running its cleanups (a -timeout panic, a Ctrl-C) leaves nothing behind.
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// killGroup kills every process of the group led by pid.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// groupAlive reports whether a process of the group led by pid still runs.
func groupAlive(pid int) bool { return syscall.Kill(-pid, 0) == nil }
