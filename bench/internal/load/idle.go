package load

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// IdleResult is what an idle-streams run measured.
type IdleResult struct {
	Impl          string
	Clients       int    // streams asked for
	Fitted        int    // streams opened: Clients fitted to FileLimit
	FileLimit     uint64 // the open-file limit; 0 if unknown
	Readers       int    // streams connected
	ConnectFailed int64  // clients that could not connect

	RSSBefore, RSSAfter     int64 // server RSS in KiB, before connecting and with every stream open
	HeapBefore, HeapAfter   uint64
	StackBefore, StackAfter uint64 // goroutine stacks in use, bytes
	GBefore, GAfter         int    // server goroutines

	Costs []time.Duration // per publish: send to receipt by the last stream
	// CPUPerDelivery is the server's CPU time (user and system) while the
	// publishes were timed, divided by the events delivered: what one
	// write to one idle stream costs it, clients not counted.
	CPUPerDelivery time.Duration
	Missing        int64 // publishes × streams − events received
	Err            string
}

// PerConnKiB returns the server's resident memory per open stream.
func (r IdleResult) PerConnKiB() float64 {
	if r.Readers == 0 {
		return 0
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Readers)
}

// MedianCost returns the median of Costs.
func (r IdleResult) MedianCost() time.Duration {
	if len(r.Costs) == 0 {
		return 0
	}
	c := slices.Clone(r.Costs)
	slices.Sort(c)
	return c[len(c)/2]
}

// Idle opens clients streams to impl, measures the server's memory with
// all of them open and idle, then publishes one small event publishes
// times, waiting each time until every stream has it. Clients above
// r.FileLimit less [FDMargin] are cut down to that, and it says so in
// r.Log and the result.
func (r *Runner) Idle(ctx context.Context, impl string, clients, publishes int) (res IdleResult) {
	res = IdleResult{Impl: impl, Clients: clients, Fitted: FitStreams(clients, r.FileLimit), FileLimit: r.FileLimit}
	if note := res.fitNote(); note != "" {
		fmt.Fprintf(r.Log, "C: %s\n", note)
	}
	clients = res.Fitted
	child, ctl, err := r.server(ctx, impl)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer child.Stop()
	defer ctl.close()
	before, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.RSSBefore, res.HeapBefore, res.GBefore = before.RSSKiB, before.HeapInuse, before.Goroutines
	res.StackBefore = before.StackInuse

	f := NewFleet(publishes)
	defer f.Close()
	start := time.Now()
	f.Connect(ctx, r.Sources, child.Addr, clients, 128)
	res.ConnectFailed = f.Failed()
	res.Readers = f.Readers()
	r.logf("  %d streams connected in %v (%d failed)", res.Readers, time.Since(start).Round(time.Millisecond), res.ConnectFailed)
	if err := r.prime(ctx, ctl, f, 120*time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	if err := Sleep(ctx, time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	after, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.RSSAfter, res.HeapAfter, res.GAfter = after.RSSKiB, after.HeapInuse, after.Goroutines
	res.StackAfter = after.StackInuse
	if err := Sleep(ctx, 500*time.Millisecond); err != nil {
		res.Err = err.Error()
		return res
	}

	cpuBefore, err := ctl.stats(ctx, false)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	for k := range publishes {
		if _, err := ctl.publish(ctx, 1, 128, 0, k); err != nil {
			res.Err = fmt.Sprintf("publish %d: %v", k, err)
			break
		}
		want := int64(k+1) * int64(res.Readers)
		deadline := time.Now().Add(r.Stall)
		for f.Received() < want && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if err := Sleep(ctx, 200*time.Millisecond); err != nil {
			break
		}
	}
	if cpuAfter, err := ctl.stats(ctx, false); err == nil && f.Received() > 0 {
		res.CPUPerDelivery = time.Duration((cpuAfter.CPUNs - cpuBefore.CPUNs) / f.Received())
	}
	f.Close()
	res.Costs = make([]time.Duration, publishes)
	for _, rd := range f.readers {
		for k, l := range rd.lat {
			if l < 0 {
				res.Missing++
				continue
			}
			res.Costs[k] = max(res.Costs[k], time.Duration(l))
		}
	}
	return res
}
