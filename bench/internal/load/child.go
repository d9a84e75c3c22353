package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// A Child is a server process: this program re-executed with -serve.
type Child struct {
	Impl string
	Addr string // host:port it listens on
	Pid  int

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
	once    sync.Once
	stopped atomic.Bool
}

// StartChild starts exe -serve impl on a free loopback port, with env
// added to this process's environment, and waits (at most 10 s) until it
// says where it listens. The child exits when its
// standard input closes, so it dies with this process even if Stop is
// never called; on Linux the kernel also kills it (Pdeathsig).
func StartChild(ctx context.Context, exe, impl string, env []string) (*Child, error) {
	cmd := exec.Command(exe, "-serve", impl, "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
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
		return nil, fmt.Errorf("start %s server: %w", impl, err)
	}
	c := &Child{Impl: impl, Pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err != nil && !c.stopped.Load() {
			fmt.Fprintf(os.Stderr, "load: %s server (pid %d) exited: %v\n", impl, c.Pid, err)
		}
		close(c.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case c.Addr = <-addr:
		return c, nil
	case <-c.exited:
		err = errors.New("exited before listening")
	case <-t.C:
		err = errors.New("did not start listening within 10s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.Stop()
	return nil, fmt.Errorf("%s server: %w", impl, err)
}

// Stop asks the child to exit (closes its standard input), waits up to
// 5 s, then kills it. It waits until the process has exited.
func (c *Child) Stop() {
	c.once.Do(func() {
		c.stopped.Store(true)
		c.stdin.Close()
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-c.exited:
			return
		case <-t.C:
		}
		c.cmd.Process.Kill()
		<-c.exited
	})
}

// RSSKiB returns the child's resident set size in KiB, or -1.
func (c *Child) RSSKiB() int64 { return server.RSSKiB(c.Pid) }
