package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A proc is a child process of the load tool: a server or a client
// process. It exits when its standard input closes, so it dies with the
// tool even if Stop is never called; on Linux the kernel also kills it
// when the tool dies (Pdeathsig).
type proc struct {
	name string
	Pid  int

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	exited  chan struct{}
	once    sync.Once
	stopped atomic.Bool
}

func startProc(name, exe string, args, env []string) (*proc, error) {
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
	p := &proc{name: name, Pid: cmd.Process.Pid, cmd: cmd, stdin: stdin,
		stdout: bufio.NewReaderSize(stdout, 1<<20), exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err != nil && !p.stopped.Load() {
			fmt.Fprintf(os.Stderr, "cluster: %s (pid %d) exited: %v\n", name, p.Pid, err)
		}
		close(p.exited)
	}()
	return p, nil
}

// Stop closes the process's standard input, waits up to 5 s for it to
// exit, then kills it. It returns once the process has exited.
func (p *proc) Stop() {
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
func (p *proc) Kill() {
	p.once.Do(func() {
		p.stopped.Store(true)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		p.stdin.Close()
	})
}

// A serverProc is a server child: the tool run with -serve IMPL.
type serverProc struct {
	*proc
	Impl string
	Addr string
}

// startServer starts exe -serve impl on a free loopback port, with env
// added to its environment, and waits at most 10 s until it listens.
func startServer(exe, impl string, env []string) (*serverProc, error) {
	p, err := startProc(impl+" server", exe, []string{"-serve", impl, "-listen", "127.0.0.1:0"}, env)
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		for {
			line, err := p.stdout.ReadString('\n')
			if a, ok := strings.CutPrefix(strings.TrimSpace(line), "listening "); ok {
				select {
				case addr <- a:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case a := <-addr:
		return &serverProc{proc: p, Impl: impl, Addr: a}, nil
	case <-p.exited:
		err = errors.New("exited before listening")
	case <-t.C:
		err = errors.New("did not start listening within 10s")
	}
	p.Stop()
	return nil, fmt.Errorf("%s server: %w", impl, err)
}

// An agent is a client process: the tool run with -cluster-agent, driven
// by commands on its standard input.
type agent struct {
	*proc
	mu sync.Mutex
}

func startAgent(exe string, i int) (*agent, error) {
	p, err := startProc("client process "+strconv.Itoa(i), exe, []string{"-cluster-agent"}, nil)
	if err != nil {
		return nil, err
	}
	return &agent{proc: p}, nil
}

// do sends c and decodes the answer into v, within timeout.
func (a *agent) do(c command, v any, timeout time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := a.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	type answer struct {
		line []byte
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := a.stdout.ReadBytes('\n')
		ch <- answer{line, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ans := <-ch:
		if ans.err != nil {
			return fmt.Errorf("%s: %w", a.name, ans.err)
		}
		return json.Unmarshal(ans.line, v)
	case <-t.C:
		// The reader goroutine is left blocked; the stream is out of
		// step now, so the process is of no more use.
		a.Kill()
		return fmt.Errorf("%s: no answer to %s within %v", a.name, c.Op, timeout)
	}
}

func (a *agent) status() (Status, error) {
	var s Status
	err := a.do(command{Op: "status"}, &s, 10*time.Second)
	return s, err
}

func (a *agent) collect() (Collected, error) {
	var c Collected
	err := a.do(command{Op: "collect"}, &c, 30*time.Second)
	return c, err
}

// cpuTime returns the user and system CPU time of process pid, or -1.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	// After the command: state is field 3; utime and stime are 14 and 15.
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}
