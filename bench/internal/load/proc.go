package load

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A Proc is a child process of the load tool: a server or a client
// process. It exits when its standard input closes, so it dies with the
// tool even if Stop is never called; on Linux the kernel also kills it
// when the tool dies (Pdeathsig).
type Proc struct {
	Name string
	Pid  int

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	exited  chan struct{}
	once    sync.Once
	stopped atomic.Bool
}

// StartProc starts exe with args, env added to this process's
// environment, its standard error on this process's.
func StartProc(name, exe string, args, env []string) (*Proc, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Pid: cmd.Process.Pid, cmd: cmd, stdin: stdin,
		stdout: bufio.NewReaderSize(stdout, 1<<20), exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err != nil && !p.stopped.Load() {
			fmt.Fprintf(os.Stderr, "load: %s (pid %d) exited: %v\n", name, p.Pid, err)
		}
		close(p.exited)
	}()
	return p, nil
}

// WriteLine writes b and a newline to the process's standard input.
func (p *Proc) WriteLine(b []byte) error {
	_, err := p.stdin.Write(append(b, '\n'))
	return err
}

// ReadLine reads a line of the process's standard output, newline
// included. It is not safe for concurrent use.
func (p *Proc) ReadLine() ([]byte, error) { return p.stdout.ReadBytes('\n') }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Stop closes the process's standard input, waits up to 5 s for it to
// exit, then kills it. It returns once the process has exited.
func (p *Proc) Stop() {
	p.once.Do(func() {
		p.stopped.Store(true)
		p.stdin.Close()
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
		p.cmd.Process.Kill()
		<-p.exited
	})
}

// Kill sends SIGKILL and waits until the process has exited.
func (p *Proc) Kill() {
	p.once.Do(func() {
		p.stopped.Store(true)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		p.stdin.Close()
	})
}
