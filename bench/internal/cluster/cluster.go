package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/eventwire/sse/bench/internal/load"
	"github.com/eventwire/sse/bench/internal/server"
	"github.com/eventwire/sse/bench/internal/services"
)

// MaxPerProcess is the most client connections one client process opens,
// and the most streams one server is given: each process stays under the
// machine's 20,000 open files.
const MaxPerProcess = 19000

// A Runner runs the cluster scenarios. Every process it starts (Redis,
// servers, client processes) is stopped by its process ID before a
// scenario returns.
type Runner struct {
	Exe   string    // this program: re-executed with -serve and -cluster-agent
	Log   io.Writer // progress lines
	Stall time.Duration
	// RedisImpl is the server implementation backed by Redis; the URL
	// reaches it in the environment variable BENCH_REDIS_URL.
	RedisImpl string
	// MemImpl is the in-memory implementation compared with it.
	MemImpl string
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// A rig is one scenario's processes: maybe a Redis server, servers and
// client processes.
type rig struct {
	r       *Runner
	redis   *services.Redis
	servers []*load.Child
	agents  []*agent
	hc      *http.Client
	batch   int // events per publish call, see BroadcastSpec.Batch
}

// newRig starts Redis if redis is set, n servers (of RedisImpl, or of
// MemImpl without Redis) and agents client processes.
func (r *Runner) newRig(ctx context.Context, redis bool, n, agents int) (*rig, error) {
	g := &rig{r: r, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}}
	impl := r.MemImpl
	var env []string
	if redis {
		rd, err := services.StartRedis(ctx)
		if err != nil {
			return nil, err
		}
		g.redis = rd
		impl = r.RedisImpl
		env = []string{server.RedisURLEnv + "=" + rd.URL()}
	}
	for range n {
		s, err := load.StartChild(ctx, r.Exe, impl, env)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.servers = append(g.servers, s)
	}
	for i := range agents {
		a, err := startAgent(r.Exe, i)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.agents = append(g.agents, a)
	}
	return g, nil
}

// stop ends every process of the rig, clients first.
func (g *rig) stop() {
	var wg sync.WaitGroup
	for _, a := range g.agents {
		wg.Go(a.Stop)
	}
	wg.Wait()
	for _, s := range g.servers {
		wg.Go(s.Stop)
	}
	wg.Wait()
	if g.redis != nil {
		if err := g.redis.Stop(); err != nil {
			g.r.logf("  stop redis: %v", err)
		}
	}
	g.hc.CloseIdleConnections()
}

func (g *rig) addrs() []string {
	var a []string
	for _, s := range g.servers {
		a = append(a, s.Addr)
	}
	return a
}

// connect spreads total clients over the client processes; each process's
// clients go round the servers in addrs.
func (g *rig) connect(addrs []string, total int, resume bool) (Status, error) {
	per := (total + len(g.agents) - 1) / len(g.agents)
	var mu sync.Mutex
	var sum Status
	var errs []error
	var wg sync.WaitGroup
	left := total
	for i, a := range g.agents {
		n := min(per, left)
		left -= n
		wg.Go(func() {
			var st Status
			err := a.do(command{Op: "connect", Addrs: addrs, N: n, Conc: 64, Offset: i, Resume: resume}, &st, 10*time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			sum = addStatus(sum, st)
		})
	}
	wg.Wait()
	return sum, errors.Join(errs...)
}

func addStatus(a, b Status) Status {
	a.Readers += b.Readers
	a.Failed += b.Failed
	a.Primed += b.Primed
	a.Ended += b.Ended
	a.Received += b.Received
	a.Reconnects += b.Reconnects
	a.DialFails += b.DialFails
	a.Down += b.Down
	a.Back += b.Back
	a.LastBack = max(a.LastBack, b.LastBack)
	a.MaxOutage = max(a.MaxOutage, b.MaxOutage)
	a.MaxRedial = max(a.MaxRedial, b.MaxRedial)
	a.Other += b.Other
	a.RSSKiB += b.RSSKiB
	return a
}

// status sums the client processes' counters.
func (g *rig) status() (Status, error) {
	var sum Status
	for _, a := range g.agents {
		st, err := a.status()
		if err != nil {
			return sum, err
		}
		sum = addStatus(sum, st)
	}
	return sum, nil
}

// arm makes every client process measure events base to base+n-1.
func (g *rig) arm(base, n int) error {
	for _, a := range g.agents {
		var st Status
		if err := a.do(command{Op: "arm", Base: base, N: n}, &st, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// publish makes server i publish n events of size bytes numbered from
// seq0 at rate events/s (0: unpaced), and waits until it has.
func (g *rig) publish(ctx context.Context, i, n, size int, rate float64, seq0 int) (server.PublishResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := g.control(i).Publish(ctx, n, size, rate, seq0, g.batch)
	if err == nil && res.Err != "" {
		err = fmt.Errorf("server: %s after %d events", res.Err, res.Published)
	}
	return res, err
}

// stats asks server i for its stats, after a GC that returns free memory
// to the OS if gc is set.
func (g *rig) stats(ctx context.Context, i int, gc bool) (server.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return g.control(i).Stats(ctx, gc)
}

func (g *rig) control(i int) server.Control {
	return server.Control{Base: "http://" + g.servers[i].Addr, HC: g.hc}
}

// prime publishes primer events (number -1) on server 0 every 200 ms
// until every client has one, so that every stream is known to be
// subscribed, then lets the last primers drain.
func (g *rig) prime(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, err := g.status()
		if err != nil {
			return err
		}
		if st.Primed >= st.Readers {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d streams subscribed within %v", st.Primed, st.Readers, within)
		}
		if _, err := g.publish(ctx, 0, 1, 32, 0, -1); err != nil {
			return fmt.Errorf("primer: %w", err)
		}
		if err := load.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return load.Sleep(ctx, 500*time.Millisecond)
}

// cpu is the CPU time used so far by each process of the rig.
type cpu struct {
	redis   time.Duration
	servers []time.Duration
	agents  []time.Duration
	at      time.Time
}

func (g *rig) cpu() cpu {
	c := cpu{at: time.Now()}
	if g.redis != nil {
		c.redis = load.ProcessCPU(g.redis.Pid())
	}
	for _, s := range g.servers {
		c.servers = append(c.servers, load.ProcessCPU(s.Pid))
	}
	for _, a := range g.agents {
		c.agents = append(c.agents, load.ProcessCPU(a.Pid))
	}
	return c
}

// Load is the share of one core each kind of process used between two
// readings: 1.0 is one core busy all the time.
type Load struct {
	Redis     float64
	Publisher float64 // server 0, which publishes
	Servers   float64 // the other servers, the busiest of them
	Clients   float64 // all client processes together
}

func loadBetween(a, b cpu) Load {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return Load{}
	}
	share := func(x, y time.Duration) float64 { return (y - x).Seconds() / wall }
	l := Load{Redis: share(a.redis, b.redis)}
	for i := range a.servers {
		s := share(a.servers[i], b.servers[i])
		if i == 0 {
			l.Publisher = s
		} else {
			l.Servers = max(l.Servers, s)
		}
	}
	for i := range a.agents {
		l.Clients += share(a.agents[i], b.agents[i])
	}
	return l
}
