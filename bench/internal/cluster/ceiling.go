package cluster

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/eventwire/sse/bench/internal/load"
)

// CeilingSpec is scenario R3: Servers servers listen to one Redis, with
// Clients reading clients each; the first server publishes at each rate
// in turn for Step, until delivery p99 passes a second or events are
// lost.
type CeilingSpec struct {
	Servers, Clients, Size int
	Publishers             int // publishing at once on the first server, each its share of the rate
	Rates                  string
	Step                   time.Duration
}

// CeilingStep is one rate of R3.
type CeilingStep struct {
	Rate     float64
	Achieved float64 // events/s the publisher managed: events / publishing time
	Step     Step
	Err      string
}

// CeilingResult is R3.
type CeilingResult struct {
	Servers, Clients int
	Steps            []CeilingStep
	Err              string
}

// Ceiling runs R3.
func (r *Runner) Ceiling(ctx context.Context, spec CeilingSpec) CeilingResult {
	res := CeilingResult{Servers: spec.Servers, Clients: spec.Clients}
	var rates []float64
	for _, f := range strings.Split(spec.Rates, ",") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil && v > 0 {
			rates = append(rates, v)
		}
	}
	r.logf("R3: %d servers × %d clients, rates %v for %v each", spec.Servers, spec.Clients, rates, spec.Step)
	g, err := r.newRig(ctx, true, spec.Servers, 1)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer g.stop()
	if _, err := g.connect(g.addrs(), spec.Servers*spec.Clients, false); err != nil {
		res.Err = err.Error()
		return res
	}
	if err := g.prime(ctx, time.Minute); err != nil {
		res.Err = err.Error()
		return res
	}
	base := 0
	for _, rate := range rates {
		if ctx.Err() != nil {
			break
		}
		n := int(rate * spec.Step.Seconds())
		s, err := g.measure(ctx, spec.Publishers, base, n, spec.Size, rate, 0, nil)
		base += n
		cs := CeilingStep{Rate: rate, Step: s}
		if s.Publish > 0 {
			cs.Achieved = float64(n) / s.Publish.Seconds()
		}
		if err != nil {
			cs.Err = err.Error()
		}
		r.logf("  %g ev/s (publisher managed %.0f): p50 %v, p99 %v, lost %d, other events %d, streams ended %d, hubs dropped %d clients; CPU: redis %.2f, publisher %.2f, busiest other server %.2f, clients %.2f %s",
			rate, cs.Achieved, s.P50, s.P99, s.Lost, s.Clients.Other, s.Clients.Ended, s.DroppedClients, s.Load.Redis, s.Load.Publisher, s.Load.Servers, s.Load.Clients, cs.Err)
		res.Steps = append(res.Steps, cs)
		if err != nil || s.P99 > time.Second || s.Lost > 0 || s.Stalled {
			break
		}
		if err := load.Sleep(ctx, 2*time.Second); err != nil {
			break
		}
	}
	return res
}
