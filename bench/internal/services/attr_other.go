//go:build !unix

package services

import (
	"fmt"
	"runtime"
	"syscall"
)

// credential is who a server runs as.
type credential struct{}

// postgresUser returns an error: the servers are only started on Unix.
func postgresUser() (*credential, error) {
	return nil, fmt.Errorf("%w: servers are started on Unix only, not %s", ErrNotInstalled, runtime.GOOS)
}

func procAttr(*credential, syscall.Signal) *syscall.SysProcAttr { return nil }

func chown(string, *credential) error { return nil }
