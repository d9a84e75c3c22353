package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// A Child is a server process: this program re-executed with -serve.
type Child struct {
	*Proc
	Impl string
	Addr string // host:port it listens on
}

// StartChild starts exe -serve impl on a free loopback port, with env
// added to this process's environment, and waits (at most 10 s) until it
// says where it listens. The child exits when its standard input closes,
// so it dies with this process even if Stop is never called; on Linux the
// kernel also kills it (Pdeathsig).
func StartChild(ctx context.Context, exe, impl string, env []string) (*Child, error) {
	p, err := StartProc(impl+" server", exe, []string{"-serve", impl, "-listen", "127.0.0.1:0"}, env)
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		for {
			line, err := p.ReadLine()
			if a, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "listening "); ok {
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
		return &Child{Proc: p, Impl: impl, Addr: a}, nil
	case <-p.Exited():
		err = errors.New("exited before listening")
	case <-t.C:
		err = errors.New("did not start listening within 10s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Stop()
	return nil, fmt.Errorf("%s server: %w", impl, err)
}

// RSSKiB returns the child's resident set size in KiB, or -1.
func (c *Child) RSSKiB() int64 { return server.RSSKiB(c.Pid) }
