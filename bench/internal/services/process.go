package services

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is a started server: its command, a channel closed when it has
// exited, and the folder removed when it is stopped.
type process struct {
	name string
	cmd  *exec.Cmd
	dir  string
	log  string // the file the server's output goes to

	exited  chan struct{}
	waitErr error // set before exited is closed

	once    sync.Once
	stopErr error
}

// start starts cmd, its output going to the file logPath, and waits for
// it in a goroutine of its own.
func start(name string, cmd *exec.Cmd, dir, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// A file, not a pipe: the server can write however much it likes
	// without this process copying it.
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	log.Close() // the child has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, dir: dir, log: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// output returns the last few KiB the server wrote, for error messages.
func (p *process) output() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	const tail = 4 << 10
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}

// stop sends sig, waits up to grace for the process to exit, then kills
// it (SIGKILL), and removes its folder. Only the first call acts; the
// others return its result. It returns an error if the process had to be
// killed, had exited on its own before, or the folder could not be
// removed.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	p.once.Do(func() {
		var errs []error
		if !p.running() {
			errs = append(errs, fmt.Errorf("%s (pid %d) had exited already: %v; its output:\n%s",
				p.name, p.cmd.Process.Pid, p.waitErr, p.output()))
		} else {
			if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, err)
			}
			t := time.NewTimer(grace)
			select {
			case <-p.exited:
			case <-t.C:
				errs = append(errs, fmt.Errorf("%s (pid %d) did not exit within %v of %v; killed", p.name, p.cmd.Process.Pid, grace, sig))
				p.cmd.Process.Kill() //nolint:errcheck // it may have just exited; we wait below
				<-p.exited
			}
			t.Stop()
		}
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, err)
		}
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}
