package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// buildTimeout bounds one go build of an example. A build with an empty
	// cache takes minutes: gin and echo pull in much.
	buildTimeout = 5 * time.Minute
	// listenTimeout bounds how long a started server may take to listen.
	listenTimeout = 15 * time.Second
	// exitTimeout bounds how long a server may take to exit once signaled.
	exitTimeout = 10 * time.Second
)

// buildExample builds the example ./examples/name of the module in root
// into dir and returns the binary's path. When the test runs with the race
// detector, so does the example; the build then also reuses what the root
// module's race tests compiled.
func buildExample(ctx context.Context, root, name, dir string) (string, error) {
	bin := filepath.Join(dir, name)
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "./examples/"+name)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
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

// server is one running example server process.
type server struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer   // its stdout and stderr
	done chan struct{} // closed once the process has exited
	err  error         // the exit error; read it only after done is closed
}

// startServer runs bin on addr with the given event interval and waits until
// it accepts connections. The process is killed, if it still runs, and its
// output checked for data races when the test ends.
func startServer(t *testing.T, bin, addr string, interval time.Duration) *server {
	t.Helper()
	s := &server{
		name: filepath.Base(bin),
		cmd:  exec.Command(bin, "-addr", addr, "-interval", interval.String()),
		out:  new(syncBuffer),
		done: make(chan struct{}),
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	dieWithParent(s.cmd)

	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the
		// process ends, not the test process, so that thread must live as
		// long as the server does.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		s.kill(t)
		out := s.out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s on %s reported a data race:\n%s", s.name, addr, out)
		} else if t.Failed() {
			t.Logf("%s on %s printed:\n%s", s.name, addr, out)
		}
	})

	deadline := time.Now().Add(listenTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before listening on %s: %v", s.name, addr, s.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after %v: %v", s.name, addr, listenTimeout, err)
		}
	}
}

// interrupt stops the server as Ctrl-C would, and fails the test unless it
// exits cleanly and in time, open event streams notwithstanding.
func (s *server) interrupt(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupting %s: %v", s.name, err)
	}
	select {
	case <-s.done:
	case <-time.After(exitTimeout):
		t.Fatalf("%s still runs %v after an interrupt", s.name, exitTimeout)
	}
	if s.err != nil {
		t.Fatalf("%s exited with %v after an interrupt", s.name, s.err)
	}
}

// kill ends the server at once, as a crash would, and waits until it is
// gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing %s: %v", s.name, err)
		return
	}
	<-s.done
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

// syncBuffer is a bytes.Buffer that is safe for concurrent use, for the
// output of a process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
