package cluster

import (
	"context"
	"fmt"
	"time"
)

// BroadcastSpec is scenario R1: Servers servers sharing one Redis, Clients
// reading clients on each, Events events of Size bytes published unpaced
// on the first server; compared with the same clients all on one
// in-memory server.
type BroadcastSpec struct {
	Servers, Clients, Events, Size, Repeat int
	// Publishers is how many publish at once on the first server (1: one
	// event after the other, each Publish waiting for the last).
	Publishers int
	// Apart runs the Redis publisher on a server of its own, with no
	// clients, besides the Servers that have them.
	Apart bool
	// Batch, above 1, has each publisher make up to Batch events at a
	// time and publish them in one call (sse.Hub.PublishBatch: one Redis
	// round trip per batch).
	Batch int
}

// BroadcastResult is one R1 run: Redis or in-memory.
type BroadcastResult struct {
	Redis   bool
	Servers int
	Step    Step
	Err     string
}

// Broadcast runs R1, alternating Redis and in-memory runs spec.Repeat
// times.
func (r *Runner) Broadcast(ctx context.Context, spec BroadcastSpec) []BroadcastResult {
	var out []BroadcastResult
	for rep := range max(spec.Repeat, 1) {
		for _, redis := range []bool{true, false} {
			if ctx.Err() != nil {
				return out
			}
			servers := spec.Servers
			if !redis {
				servers = 1
			}
			r.logf("R1 run %d: %d clients on %d %s server(s), %d events × %d B", rep+1, spec.Servers*spec.Clients, servers, kind(redis), spec.Events, spec.Size)
			res := BroadcastResult{Redis: redis, Servers: servers}
			st, err := r.broadcast(ctx, redis, servers, spec)
			res.Step = st
			if err != nil {
				res.Err = err.Error()
			}
			r.logf("  %.0f ev/s, p50 %v, p99 %v, lost %d, dup/out of order %d, published in %v; CPU: redis %.2f, publisher %.2f, other server %.2f, clients %.2f %s",
				st.PerSec, st.P50, st.P99, st.Lost, st.Backs, st.Publish, st.Load.Redis, st.Load.Publisher, st.Load.Servers, st.Load.Clients, res.Err)
			out = append(out, res)
		}
	}
	return out
}

func kind(redis bool) string {
	if redis {
		return "Redis"
	}
	return "in-memory"
}

func (r *Runner) broadcast(ctx context.Context, redis bool, servers int, spec BroadcastSpec) (Step, error) {
	apart := redis && spec.Apart
	if apart {
		servers++
	}
	g, err := r.newRig(ctx, redis, servers, spec.Servers)
	if err != nil {
		return Step{}, err
	}
	defer g.stop()
	// Client process i connects to server i (with one in-memory server,
	// all of them to it); with the publisher apart, server 0 has none.
	readable := g.servers
	if apart {
		readable = g.servers[1:]
	}
	for i, a := range g.agents {
		var st Status
		addr := readable[i%len(readable)].Addr
		if err := a.do(command{Op: "connect", Addrs: []string{addr}, N: spec.Clients, Conc: 64}, &st, 5*time.Minute); err != nil {
			return Step{}, err
		}
		if st.Failed > 0 {
			return Step{}, fmt.Errorf("%d clients could not connect", st.Failed)
		}
	}
	if err := g.prime(ctx, time.Minute); err != nil {
		return Step{}, err
	}
	g.batch = spec.Batch
	return g.measure(ctx, spec.Publishers, 0, spec.Events, spec.Size, 0, 0, nil)
}
