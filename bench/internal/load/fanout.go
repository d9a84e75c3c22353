package load

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// FanoutSpec is a broadcast run: Clients readers, Events events of Size
// bytes published at Rate events/s (0: as fast as the server takes them).
type FanoutSpec struct {
	Name    string
	Clients int
	Events  int
	Size    int
	Rate    float64
}

func (s FanoutSpec) String() string {
	rate := "unpaced"
	if s.Rate > 0 {
		rate = fmt.Sprintf("%g ev/s", s.Rate)
	}
	return fmt.Sprintf("%s: %d clients × %d events × %s, %s", s.Name, s.Clients, s.Events, byteSize(s.Size), rate)
}

// FanoutResult is what one broadcast run measured. Only the readers count:
// silent clients are load, not subjects.
type FanoutResult struct {
	Impl   string
	Spec   FanoutSpec
	Silent int // clients that never read

	Readers       int   // reading clients connected
	ConnectFailed int64 // clients that could not connect
	Expected      int64 // events × readers
	Delivered     int64 // distinct events received in time
	HeldBack      int64 // events received only once the stuck clients were closed
	Short         int   // readers missing at least one event
	Ended         int   // readers whose stream the server ended during the run
	Dups          int
	Reordered     int
	Wall          time.Duration // first send to last receipt
	PerSec        float64       // Delivered / Wall
	P50, P99, Max time.Duration // delivery time: receipt − send
	ServerCPU     time.Duration // CPU time the server used from the first publish until delivery ended
	ServiceCPU    time.Duration // the same for the backend's service (Redis, PostgreSQL), if the tool started one; else 0
	PublishTime   time.Duration // how long the server took to publish the events
	Stalled       bool          // delivery stopped before the publisher finished
	PublishErr    string
	Err           string // the run could not be made

	Runs, StalledRuns, FailedRuns int // set by Merge
}

// CPUPerEvent returns the server's CPU time per event delivered.
func (r FanoutResult) CPUPerEvent() time.Duration {
	if r.Delivered == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Delivered)
}

// ServiceCPUPerEvent returns the service's CPU time per event delivered.
func (r FanoutResult) ServiceCPUPerEvent() time.Duration {
	if r.Delivered == 0 {
		return 0
	}
	return r.ServiceCPU / time.Duration(r.Delivered)
}

// Lost returns the events not delivered.
func (r FanoutResult) Lost() int64 { return r.Expected - r.Delivered }

// Fanout runs spec against impl, with silent extra clients that never read.
func (r *Runner) Fanout(ctx context.Context, impl string, spec FanoutSpec, silent int) (res FanoutResult) {
	res = FanoutResult{Impl: impl, Spec: spec, Silent: silent}
	child, ctl, err := r.server(ctx, impl)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer child.Stop()
	defer ctl.close()
	f := NewFleet(spec.Events)
	defer f.Close()

	if silent > 0 {
		f.ConnectSilent(ctx, r.Sources, child.Addr, silent)
	}
	f.Connect(ctx, r.Sources, child.Addr, spec.Clients, 128)
	res.ConnectFailed = f.Failed()
	res.Readers = f.Readers()
	if err := r.prime(ctx, ctl, f, 60*time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	res.Expected = int64(res.Readers) * int64(spec.Events)

	cpu0, err := ctl.stats(ctx, false)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	svc0 := serviceCPU(r.servicePids(impl))
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pubErr := make(chan error, 1)
	pubDone := make(chan struct{})
	var pubTime time.Duration
	go func() {
		defer close(pubDone)
		out, err := ctl.publish(pctx, spec.Events, spec.Size, spec.Rate, 0)
		if err == nil && out.Err != "" {
			err = fmt.Errorf("server: %s after %d events", out.Err, out.Published)
		}
		pubTime = time.Duration(out.ElapsedNs)
		pubErr <- err
	}()
	res.Stalled, res.PublishErr = r.await(ctx, f, res.Expected, pubErr)
	if cpu1, err := ctl.stats(ctx, false); err == nil && cpu0.CPUNs >= 0 {
		res.ServerCPU = time.Duration(cpu1.CPUNs - cpu0.CPUNs)
	}
	if svc1 := serviceCPU(r.servicePids(impl)); svc0 >= 0 && svc1 >= 0 {
		res.ServiceCPU = svc1 - svc0
	}
	if silent > 0 && f.Received() < res.Expected {
		// Are the missing events lost, or held up behind the stuck
		// clients? Close those and see whether the rest arrive.
		f.CloseSilent()
		r.drain(ctx, f, res.Expected)
	}
	cancel()
	<-pubDone // returns at once: the request is canceled
	if !res.Stalled {
		res.PublishTime = pubTime
	}
	f.Close()

	var lat []int64
	minSent, lastRecv := int64(1<<63-1), int64(0)
	for _, rd := range f.readers {
		short := false
		for _, l := range rd.lat {
			switch {
			case l == late:
				res.HeldBack++
				short = true
			case l < 0:
				short = true
			default:
				lat = append(lat, l)
			}
		}
		if short {
			res.Short++
		}
		if rd.err != nil {
			res.Ended++
		}
		res.Dups += rd.dups
		res.Reordered += rd.reordered
		minSent = min(minSent, rd.minSent)
		lastRecv = max(lastRecv, rd.lastRecv)
	}
	res.Delivered = int64(len(lat))
	if len(lat) > 0 {
		res.Wall = time.Duration(lastRecv - minSent)
		res.PerSec = float64(len(lat)) / res.Wall.Seconds()
		slices.Sort(lat)
		res.P50 = time.Duration(percentile(lat, 50))
		res.P99 = time.Duration(percentile(lat, 99))
		res.Max = time.Duration(lat[len(lat)-1])
	}
	return res
}

// Merge combines repeated runs of one implementation and scenario into
// one result: the medians of the rate and of the percentiles, the sums of
// the counts, the worst of the rest. Runs that could not be made are left
// out and counted.
func Merge(runs []FanoutResult) FanoutResult {
	var ok []FanoutResult
	for _, r := range runs {
		if r.Err == "" {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		m := runs[0]
		m.Runs, m.FailedRuns = len(runs), len(runs)
		return m
	}
	m := FanoutResult{Impl: ok[0].Impl, Spec: ok[0].Spec, Silent: ok[0].Silent, Runs: len(runs), FailedRuns: len(runs) - len(ok)}
	for _, r := range runs {
		if r.Err != "" && m.Err == "" {
			m.Err = r.Err
		}
	}
	var perSec []float64
	var p50, p99, wall, cpu, svc, pub []time.Duration
	for _, r := range ok {
		m.Readers = max(m.Readers, r.Readers)
		m.ConnectFailed += r.ConnectFailed
		m.Expected += r.Expected
		m.Delivered += r.Delivered
		m.HeldBack += r.HeldBack
		m.Short = max(m.Short, r.Short)
		m.Ended = max(m.Ended, r.Ended)
		m.Dups += r.Dups
		m.Reordered += r.Reordered
		m.Max = max(m.Max, r.Max)
		if r.Stalled {
			m.Stalled = true
			m.StalledRuns++
		}
		if m.PublishErr == "" {
			m.PublishErr = r.PublishErr
		}
		perSec = append(perSec, r.PerSec)
		p50 = append(p50, r.P50)
		p99 = append(p99, r.P99)
		wall = append(wall, r.Wall)
		cpu = append(cpu, r.CPUPerEvent())
		svc = append(svc, r.ServiceCPUPerEvent())
		pub = append(pub, r.PublishTime)
	}
	m.PerSec, m.P50, m.P99, m.Wall = median(perSec), median(p50), median(p99), median(wall)
	m.PublishTime = median(pub)
	// Keep the median CPU per event: ServerCPU over the summed deliveries.
	m.ServerCPU = median(cpu) * time.Duration(m.Delivered)
	m.ServiceCPU = median(svc) * time.Duration(m.Delivered)
	return m
}

func median[T int64 | float64 | time.Duration](v []T) T {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// await waits until the readers have received want events, or delivery
// has stopped: no event for 2 s after the publisher finished, or for
// r.Stall while it still runs (a stall), or r.Limit has passed. It returns
// whether the run stalled and the publisher's error.
func (r *Runner) await(ctx context.Context, f *Fleet, want int64, pubErr <-chan error) (stalled bool, perr string) {
	start := time.Now()
	last, lastChange := f.Received(), start
	published := false
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err().Error()
		case err := <-pubErr:
			published = true
			if err != nil && perr == "" {
				perr = err.Error()
			}
		case <-tick.C:
		}
		now := time.Now()
		got := f.Received()
		if got >= want {
			return false, perr
		}
		if got != last {
			last, lastChange = got, now
		}
		idle := now.Sub(lastChange)
		switch {
		case published && idle > 2*time.Second:
			return false, perr
		case int(f.Ended()) >= f.Readers():
			return !published, perr
		case idle > r.Stall:
			r.logf("  no event delivered for %v with %d of %d delivered: stopping", r.Stall, got, want)
			return !published, perr
		case now.Sub(start) > r.Limit:
			r.logf("  run limit %v reached with %d of %d delivered: stopping", r.Limit, got, want)
			return !published, perr
		}
	}
}

// drain waits until the readers have received want events or none has
// come for 3 s, at most r.Stall.
func (r *Runner) drain(ctx context.Context, f *Fleet, want int64) {
	start := time.Now()
	last, lastChange := f.Received(), start
	for f.Received() < want && ctx.Err() == nil && time.Since(start) < r.Stall {
		if got := f.Received(); got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 3*time.Second {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// percentile returns the p-th percentile of sorted values (nearest rank).
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func byteSize(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}
