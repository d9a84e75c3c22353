// Package services starts the servers the load tool's backends need, a
// redis-server and a PostgreSQL server, as child processes of the tool:
// each on a free port of 127.0.0.1, with its data in a temporary folder
// of its own, stopped by its process ID when the tool is done with it.
//
//	rd, err := services.StartRedis(ctx)
//	if errors.Is(err, services.ErrNotInstalled) {
//		// say so, and skip what needs Redis
//	}
//	defer rd.Stop()
//	b, err := sseredis.Open(ctx, rd.URL())
//
// They die with the tool even if Stop is never called: on Linux the
// kernel sends them a signal when the thread that started them ends
// (Pdeathsig; SIGKILL for Redis, SIGQUIT, PostgreSQL's immediate
// shutdown, for PostgreSQL). Their temporary folders are only removed by
// Stop (or Kill).
//
// Redis is Debian's redis-server found on the PATH. PostgreSQL is initdb
// and postgres found on the PATH or, failing that, the newest version
// under /usr/lib/postgresql/*/bin (Debian's postgresql package); initdb
// and postgres refuse to run as root, so when the tool runs as root,
// PostgreSQL runs as the system user postgres.
package services

import (
	"errors"
	"net"
)

// ErrNotInstalled is returned (wrapped, test with errors.Is) by
// [StartRedis] and [StartPostgres] when the server's programs are not
// installed, or cannot be run (as root, without a user postgres).
var ErrNotInstalled = errors.New("services: not installed")

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
