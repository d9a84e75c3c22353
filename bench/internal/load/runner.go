// Package load drives the benchmark: it starts each implementation's
// server as a child process, connects loopback SSE clients to it, makes it
// publish, and measures what the clients receive.
package load

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// Runner runs scenarios. Each scenario run starts its own server process
// and stops it before returning.
type Runner struct {
	Exe     string        // this program, re-executed with -serve
	Sources *Sources      // loopback source addresses for the clients
	Log     io.Writer     // progress lines
	Stall   time.Duration // a run with no delivery for this long is stopped
	Limit   time.Duration // longest a run's publishing phase may take
	// Env is added to the environment of every server process: where
	// the services of the backends are (server.RedisURLEnv, ...).
	Env []string
	// ServicePids are the process IDs of the services the tool started,
	// by server.Service's names: their CPU time is measured beside the
	// server's in the broadcast runs of the implementations that use them.
	ServicePids map[string]int
	// FileLimit is the open-file limit of this process and of the
	// servers it starts (they inherit it); 0 if unknown. Idle fits its
	// streams under it.
	FileLimit uint64
}

// servicePids returns the PIDs of the service impl uses, or nil.
func (r *Runner) servicePids(impl string) []int {
	if pid, ok := r.ServicePids[server.Service(impl)]; ok {
		return []int{pid}
	}
	return nil
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// server starts impl's server process and its control client.
func (r *Runner) server(ctx context.Context, impl string) (*Child, *control, error) {
	c, err := StartChild(ctx, r.Exe, impl, r.Env)
	if err != nil {
		return nil, nil, err
	}
	return c, newControl(c.Addr), nil
}

// prime publishes primer events (seq -1) every 100 ms until every reader
// of f that is still connected has received one, so that every stream is
// known to be subscribed before the measured run; then it lets the last
// primers drain.
func (r *Runner) prime(ctx context.Context, ctl *control, f *Fleet, within time.Duration) error {
	deadline := time.Now().Add(within)
	for f.Primed()+f.Ended() < int64(f.Readers()) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d streams subscribed within %v", f.Primed(), f.Readers(), within)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := ctl.publish(pctx, 1, 32, 0, -1)
		cancel()
		if err != nil && ctx.Err() == nil && time.Now().Before(deadline) {
			r.logf("  primer publish: %v", err)
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	if f.Ended() > 0 {
		return fmt.Errorf("%d of %d streams ended before the run", f.Ended(), f.Readers())
	}
	return Sleep(ctx, 300*time.Millisecond)
}

// Sleep waits d, or until ctx ends, and returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
