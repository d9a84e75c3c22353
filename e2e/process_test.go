package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/syncbuf"
)

// exitTimeout bounds how long a process may take to exit once told to.
const exitTimeout = 10 * time.Second

// process is one program a test started: a server, a browser, a driver,
// nginx, Xvfb. On Linux it runs in a process group of its own, so that
// killing it also kills the children it started (a browser's content
// processes).
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer // its stdout and stderr, unless the caller set them
	done chan struct{}   // closed once the process has exited
	err  error           // the exit error; read it only after done is closed
}

// start runs cmd and returns at once. When the test ends, the process
// group is killed if it still runs and waited for. If the test failed, the
// process's output is logged.
func start(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{
		name: filepath.Base(cmd.Path),
		cmd:  cmd,
		out:  new(syncbuf.Buffer),
		done: make(chan struct{}),
	}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	ownGroup(cmd)

	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the
		// process ends, not the test process, so that thread must live as
		// long as the process does.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			if out := strings.TrimSpace(p.out.String()); out != "" {
				t.Logf("%s printed:\n%s", p.name, out)
			}
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process and waits up to exitTimeout for it to
// exit; it reports whether it did.
func (p *process) stop(sig os.Signal) bool {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return false
	}
	select {
	case <-p.done:
		return true
	case <-time.After(exitTimeout):
		return false
	}
}

// kill ends the process group at once, as a crash would, and waits until
// the process is gone and its group empty.
func (p *process) kill(t *testing.T) {
	t.Helper()
	pid := p.cmd.Process.Pid
	if err := killGroup(pid); err != nil {
		t.Errorf("killing %s: %v", p.name, err)
	}
	<-p.done
	p.waitGroup(t)
}

// waitGroup waits until no process is left in the process's group, once
// the process itself has exited: a browser's children may outlive it for
// a moment. Stragglers are killed.
func (p *process) waitGroup(t *testing.T) {
	t.Helper()
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(exitTimeout)
	for groupAlive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("processes of %s's group %d still run %v after it exited", p.name, pid, exitTimeout)
			return
		}
		if err := killGroup(pid); err != nil {
			t.Errorf("killing what is left of %s: %v", p.name, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
