package ssepg

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMain stops the PostgreSQL server the tests share, if one started,
// and removes the template cluster.
func TestMain(m *testing.M) {
	code := m.Run()
	shared.stop()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

// pgServer is a PostgreSQL server of the tests' own: a cluster made by
// initdb in a temporary folder, on a free port of 127.0.0.1, with its
// socket in that folder. As root, the server runs as the system user
// postgres, since initdb and postgres refuse to run as root.
type pgServer struct {
	dir  string // the cluster's data folder
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// postgresBin returns the folder of initdb and postgres: the PATH's, or
// the newest under /usr/lib/postgresql (Debian's postgresql package).
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // 9.6 < 15 < 16
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("initdb is neither on the PATH nor under /usr/lib/postgresql/*/bin")
}

// templateCluster is a cluster made once by initdb, which each server
// copies.
type templateCluster struct {
	once sync.Once
	dir  string
	bin  string
	cred *syscall.Credential // nil unless the tests run as root
	err  error
}

var template templateCluster

// requirePostgres makes the template cluster the first time it is called.
// Without PostgreSQL installed the test is skipped, or fails when the
// environment variable CI is "true".
func requirePostgres(t testing.TB) {
	t.Helper()
	template.once.Do(func() {
		template.bin, template.err = postgresBin()
		if template.err != nil {
			return
		}
		if os.Geteuid() == 0 {
			u, err := user.Lookup("postgres")
			if err != nil {
				template.err = fmt.Errorf("running as root, and no user postgres to run PostgreSQL as: %w", err)
				return
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			template.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
		template.dir, template.err = tempDir()
		if template.err != nil {
			return
		}
		out, err := template.command("initdb", "-D", template.dir, "-U", "postgres", "--auth=trust",
			"-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput()
		if err != nil {
			template.err = fmt.Errorf("initdb: %v\n%s", err, out)
		}
	})
	if template.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is needed (Debian package postgresql): %v", template.err)
		}
		t.Skipf("PostgreSQL is not available (Debian package postgresql), skipping: %v", template.err)
	}
}

// tempDir makes a folder that the server's user owns.
func tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "ssepg-test-")
	if err != nil {
		return "", err
	}
	if c := template.cred; c != nil {
		if err := os.Chown(dir, int(c.Uid), int(c.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// command runs a PostgreSQL program as the server's user.
func (tp *templateCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(tp.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tp.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// shared is the server most tests use, each with tables of its own; it
// is started by the first test that asks and stopped by TestMain.
type sharedServer struct {
	once sync.Once
	srv  *pgServer
	err  error
}

var shared sharedServer

func (s *sharedServer) stop() {
	if s.srv != nil {
		s.srv.stop()
		os.RemoveAll(s.srv.dir)
	}
}

// sharedPostgres returns the shared server, starting it the first time.
func sharedPostgres(t testing.TB) *pgServer {
	t.Helper()
	requirePostgres(t)
	shared.once.Do(func() { shared.srv, shared.err = newServer() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// startPostgres starts a server for the test alone, stopped when it ends.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	requirePostgres(t)
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		os.RemoveAll(s.dir)
	})
	return s
}

// newServer copies the template cluster and starts a server on it.
func newServer() (*pgServer, error) {
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", template.dir+"/.", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy the template cluster: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &pgServer{dir: dir, port: port}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// url is the server's connection string.
func (s *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// start runs the server and waits until it accepts connections.
func (s *pgServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	log, err := os.OpenFile(filepath.Join(os.TempDir(), filepath.Base(s.dir)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// The server writes its log to a file, not a pipe: exec starts no
	// goroutine to copy it, and the leak checks see none.
	cmd := template.command("postgres", "-D", s.dir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "max_connections=60", "-c", "shared_buffers=16MB")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.log = cmd, log
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.url())
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) {
			s.stopLocked(syscall.SIGKILL)
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("postgres does not accept connections after 30s: %v; its log:\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts the server down (fast shutdown: sessions are ended, the data
// is kept) and waits until it has.
func (s *pgServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGINT)
}

// crash stops the server as a crash would: immediate shutdown, without a
// checkpoint; the next start recovers from the write-ahead log.
func (s *pgServer) crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGQUIT)
}

func (s *pgServer) stopLocked(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
	os.Remove(s.log.Name())
	s.cmd, s.log = nil, nil
}
