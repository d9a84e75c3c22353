package services

import "syscall"

// setDeathSignal makes the kernel send sig to the server when the thread
// that started it ends. Go sets the credentials before the parent-death
// signal, so the change of user does not clear it.
func setDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }
