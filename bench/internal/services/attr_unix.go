//go:build unix

package services

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential is who a server runs as.
type credential = syscall.Credential

// postgresUser returns the user PostgreSQL runs as: nil (this process's
// user), or the system user postgres when this process runs as root,
// since initdb and postgres refuse to run as root.
func postgresUser() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root, and no user postgres to run the server as: %v", ErrNotInstalled, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// procAttr returns the process attributes of a server: run as cred (nil:
// this process's user), and sent sig when the thread that started it
// ends (Linux only).
func procAttr(cred *credential, sig syscall.Signal) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Credential: cred}
	setDeathSignal(a, sig)
	return a
}

// chown gives dir to cred's user (nothing if cred is nil).
func chown(dir string, cred *credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(dir, int(cred.Uid), int(cred.Gid))
}
