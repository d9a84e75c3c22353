package services

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Postgres is a PostgreSQL server started by [StartPostgres]. Its methods
// are safe for concurrent use.
type Postgres struct {
	port int
	p    *process
}

// StartPostgres makes a new cluster with initdb in a temporary folder
// (user postgres, trust authentication on 127.0.0.1, UTF8, no locale),
// starts a server on it on a free port of 127.0.0.1 and waits until it
// accepts connections or ctx ends (ctx bounds the start only, not the
// server's life). This takes a few seconds.
//
// The server runs with fsync=off (a benchmark measures the backend, not
// the disk; a crash of the machine may lose data, which nobody keeps) and
// max_connections=200; args are added to its command line after these,
// e.g. "-c", "fsync=on".
//
// Without PostgreSQL installed it returns an error wrapping
// [ErrNotInstalled]. The caller must call [Postgres.Stop].
func StartPostgres(ctx context.Context, args ...string) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := postgresUser()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// dir (the server's user's) holds the log, the socket and data/, the
	// cluster, which initdb makes.
	dir, err := os.MkdirTemp("", "bench-postgres-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := chown(dir, cred); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	initdb := command(ctx, bin, "initdb", cred, "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	argv := append([]string{
		"-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir,
		"-c", "fsync=off", "-c", "max_connections=200",
	}, args...)
	// SIGQUIT when the tool dies: PostgreSQL's immediate shutdown, which
	// ends the server's own children too.
	cmd := command(context.Background(), bin, "postgres", cred, argv...)
	cmd.SysProcAttr = procAttr(cred, syscall.SIGQUIT)
	p, err := start("postgres", cmd, dir, filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	s := &Postgres{port: port, p: p}
	if err := s.wait(ctx, bin); err != nil {
		out := p.output()
		p.stop(syscall.SIGQUIT, 10*time.Second) //nolint:errcheck // the error below says more
		return nil, fmt.Errorf("postgres: %w; its log:\n%s", err, out)
	}
	return s, nil
}

// command returns the PostgreSQL program name in bin, to run as cred.
func command(ctx context.Context, bin, name string, cred *credential, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.SysProcAttr = procAttr(cred, 0)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// wait returns when the server accepts connections (pg_isready says so),
// or an error if it exited, ctx ended or 30 s passed.
func (s *Postgres) wait(ctx context.Context, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ready := exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"),
			"-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "-t", "1")
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-s.p.exited:
			return fmt.Errorf("exited: %v", s.p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("does not accept connections: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// postgresBin returns the folder of initdb, postgres and pg_isready: the
// one initdb on the PATH links to, or the newest version's under
// /usr/lib/postgresql.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil { // Debian's links go to /usr/lib/postgresql/*/bin
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 { // "/usr/lib/postgresql/16/bin": 16
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) }) // newest first
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: initdb is neither on the PATH nor under /usr/lib/postgresql/*/bin (Debian package postgresql)", ErrNotInstalled)
}

// URL returns the server's connection string,
// "postgres://postgres@127.0.0.1:port/postgres?sslmode=disable", as
// pgxpool.New takes it.
func (s *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Pid returns the server's (the postmaster's) process ID.
func (s *Postgres) Pid() int { return s.p.cmd.Process.Pid }

// Stop shuts the server down (SIGINT, PostgreSQL's fast shutdown: open
// sessions are ended), waits for it (killing it after 30 s) and removes
// its folder. Only the first call acts; later ones return its result. It
// returns an error if the server had exited before or had to be killed.
func (s *Postgres) Stop() error { return s.p.stop(syscall.SIGINT, 30*time.Second) }
