package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// buildTimeout bounds one go build. A build with an empty cache takes
	// minutes: gin and echo pull in much.
	buildTimeout = 5 * time.Minute
	// listenTimeout bounds how long a started server may take to listen.
	listenTimeout = 15 * time.Second
)

// goBuild builds the package pkg of the module in dir into binDir and
// returns the binary's path. When the test runs with the race detector, so
// does the binary; the build then also reuses what the module's own race
// tests compiled.
func goBuild(ctx context.Context, dir, pkg, binDir string) (string, error) {
	bin := filepath.Join(binDir, filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

var (
	// binDir holds the binaries built for the whole run: the test server
	// and the examples. TestMain makes and removes it.
	binDir string

	testServerOnce sync.Once
	testServerBin  string
	testServerErr  error
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "sse-e2e-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := os.RemoveAll(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// testServer returns the test server's binary, built once per test run.
func testServer(t *testing.T) string {
	t.Helper()
	testServerOnce.Do(func() {
		buildMu.Lock()
		defer buildMu.Unlock()
		testServerBin, testServerErr = goBuild(context.Background(), ".", "./internal/testserver", binDir)
	})
	if testServerErr != nil {
		t.Fatal(testServerErr)
	}
	return testServerBin
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// server is one running server process: an example or the test server.
type server struct {
	*process
	addr string
}

// startServer runs bin with args, which make it listen on addr, and waits
// until it accepts connections. When the test ends the process is killed
// if it still runs, and its output checked for data races.
func startServer(t *testing.T, addr, bin string, args ...string) *server {
	t.Helper()
	s := &server{process: start(t, exec.Command(bin, args...)), addr: addr}
	t.Cleanup(func() {
		if out := s.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s on %s reported a data race:\n%s", s.name, addr, out)
		}
	})
	waitListening(t, s.process, addr)
	return s
}

// waitListening waits until something accepts connections on addr, and
// fails the test if p exits first or it takes over listenTimeout.
func waitListening(t *testing.T, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(listenTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening on %s: %v\n%s", p.name, addr, p.err, p.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after %v: %v", p.name, addr, listenTimeout, err)
		}
	}
}

// interrupt stops the server as Ctrl-C would, and fails the test unless it
// exits cleanly and in time, open event streams notwithstanding.
func (s *server) interrupt(t *testing.T) {
	t.Helper()
	if !s.stop(os.Interrupt) {
		t.Fatalf("%s still runs %v after an interrupt", s.name, exitTimeout)
	}
	if s.err != nil {
		t.Fatalf("%s exited with %v after an interrupt", s.name, s.err)
	}
}

// crash ends the server at once, as a crash would.
func (s *server) crash(t *testing.T) {
	t.Helper()
	s.kill(t)
}

// checkPlainGET fails the test unless a client that does not ask for an
// event stream gets the plain answer "ok" from /events.
func checkPlainGET(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatalf("GET /events without Accept: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /events without Accept: reading the body: %v", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET /events without Accept = %s %q, want 200 \"ok\"", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("GET /events without Accept has Content-Type %q, want no event stream", ct)
	}
}
