package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventwire/sse/bench/internal/load"
)

// IdleSpec is scenario R2: for each size, servers sharing one Redis with
// streams idle streams each; one small event published on the first
// server is timed until the last stream has it, Publishes times.
type IdleSpec struct {
	Sizes     string // "SERVERSxSTREAMS,..."
	Publishes int
}

type idleSize struct{ servers, perServer int }

func parseSizes(s string) ([]idleSize, error) {
	var out []idleSize
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, b, ok := strings.Cut(f, "x")
		n, err1 := strconv.Atoi(a)
		p, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n < 1 || p < 1 || p > MaxPerProcess {
			return nil, fmt.Errorf("bad size %q: want SERVERSxSTREAMS with at most %d streams a server", f, MaxPerProcess)
		}
		out = append(out, idleSize{n, p})
	}
	return out, nil
}

// IdleResult is one R2 run.
type IdleResult struct {
	Servers, PerServer int
	Streams            int64 // streams connected and subscribed
	Failed             int64
	ToLast             []time.Duration // per publish: send to receipt by the last stream
	Missing            int64           // publishes × streams − deliveries
	// ServerKiBPerStream is the servers' resident memory growth per
	// stream (RSS with the streams open, after a GC, less RSS before).
	ServerKiBPerStream float64
	ServerRSSKiB       int64 // all servers together, with the streams open
	ClientRSSKiB       int64 // all client processes
	RedisUsed          int64 // bytes, with the streams open
	RedisRSS           int64
	RedisCPU           time.Duration // Redis CPU time during the publishes
	PublishLoad        Load          // during the publishes
	// ServerCPU and ClientCPU are the CPU time all servers and all client
	// processes used during the publishes (and the pauses between them).
	ServerCPU, ClientCPU time.Duration
	Connect              time.Duration // time to open and subscribe every stream
	Err                  string
}

// Median returns the median publish-to-last time.
func (r IdleResult) Median() time.Duration { return median(r.ToLast) }

// Worst returns the longest publish-to-last time.
func (r IdleResult) Worst() time.Duration {
	var w time.Duration
	for _, d := range r.ToLast {
		w = max(w, d)
	}
	return w
}

// Idle runs R2 for each size of spec.
func (r *Runner) Idle(ctx context.Context, spec IdleSpec) []IdleResult {
	sizes, err := parseSizes(spec.Sizes)
	if err != nil {
		return []IdleResult{{Err: err.Error()}}
	}
	var out []IdleResult
	for _, sz := range sizes {
		if ctx.Err() != nil {
			break
		}
		r.logf("R2: %d servers × %d idle streams", sz.servers, sz.perServer)
		res := r.idle(ctx, sz, max(spec.Publishes, 1))
		r.logf("  publish→last median %v, worst %v, missing %d, %.1f KiB/stream, Redis %d KiB used %s",
			res.Median(), res.Worst(), res.Missing, res.ServerKiBPerStream, res.RedisUsed>>10, res.Err)
		out = append(out, res)
	}
	return out
}

func (r *Runner) idle(ctx context.Context, sz idleSize, publishes int) (res IdleResult) {
	res = IdleResult{Servers: sz.servers, PerServer: sz.perServer}
	total := sz.servers * sz.perServer
	agents := (total + MaxPerProcess - 1) / MaxPerProcess
	g, err := r.newRig(ctx, true, sz.servers, agents)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer g.stop()
	var before int64
	for i := range g.servers {
		st, err := g.stats(ctx, i, true)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		before += st.RSSKiB
	}
	start := time.Now()
	st, err := g.connect(g.addrs(), total, false)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.Failed = st.Failed
	if err := g.prime(ctx, 3*time.Minute); err != nil {
		res.Err = err.Error()
		return res
	}
	res.Connect = time.Since(start)
	r.logf("  %d streams connected and subscribed in %v (%d failed)", st.Readers, res.Connect.Round(time.Millisecond), st.Failed)
	if err := load.Sleep(ctx, time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	for i := range g.servers {
		st, err := g.stats(ctx, i, true)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		res.ServerRSSKiB += st.RSSKiB
	}
	if ri, err := redisInfo(g.redis.Addr()); err == nil {
		res.RedisUsed, res.RedisRSS, res.RedisCPU = ri.UsedMemory, ri.RSS, -ri.CPU
	}
	c0 := g.cpu()
	for k := range publishes {
		s, err := g.measure(ctx, 1, k, 1, 128, 0, 0, nil)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		res.Streams = s.Readers
		res.ClientRSSKiB = s.Clients.RSSKiB
		res.ToLast = append(res.ToLast, s.ToLast[0])
		res.Missing += s.Expected - s.Delivered
		if err := load.Sleep(ctx, 300*time.Millisecond); err != nil {
			break
		}
	}
	c1 := g.cpu()
	res.PublishLoad = loadBetween(c0, c1)
	for i := range c0.servers {
		res.ServerCPU += c1.servers[i] - c0.servers[i]
	}
	for i := range c0.agents {
		res.ClientCPU += c1.agents[i] - c0.agents[i]
	}
	if ri, err := redisInfo(g.redis.Addr()); err == nil {
		res.RedisCPU += ri.CPU
	}
	if res.Streams > 0 {
		res.ServerKiBPerStream = float64(res.ServerRSSKiB-before) / float64(res.Streams)
	}
	return res
}
