//go:build unix && !linux

package services

import "syscall"

// setDeathSignal does nothing: without a parent-death signal, a server
// outlives a tool that dies without stopping it.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
