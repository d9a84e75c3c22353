package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/eventwire/sse/bench/internal/load"
)

// An agent is a client process: the tool run with -cluster-agent, driven
// by commands on its standard input.
type agent struct {
	*load.Proc
	mu sync.Mutex
}

func startAgent(exe string, i int) (*agent, error) {
	p, err := load.StartProc("client process "+strconv.Itoa(i), exe, []string{"-cluster-agent"}, nil)
	if err != nil {
		return nil, err
	}
	return &agent{Proc: p}, nil
}

// do sends c and decodes the answer into v, within timeout.
func (a *agent) do(c command, v any, timeout time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := a.WriteLine(b); err != nil {
		return fmt.Errorf("%s: %w", a.Name, err)
	}
	type answer struct {
		line []byte
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := a.ReadLine()
		ch <- answer{line, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ans := <-ch:
		if ans.err != nil {
			return fmt.Errorf("%s: %w", a.Name, ans.err)
		}
		return json.Unmarshal(ans.line, v)
	case <-t.C:
		// The reader goroutine is left blocked; the stream is out of
		// step now, so the process is of no more use.
		a.Kill()
		return fmt.Errorf("%s: no answer to %s within %v", a.Name, c.Op, timeout)
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
