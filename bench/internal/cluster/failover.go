package cluster

import (
	"context"
	"fmt"
	"time"
)

// FailoverSpec is scenario R4: Servers servers sharing one Redis, Clients
// clients on each; the first server publishes Events events at Rate, and
// KillAfter after the first the last server is killed (SIGKILL). Its
// clients reconnect to the other servers with their Last-Event-ID.
type FailoverSpec struct {
	Servers, Clients, Events, Size int
	Rate                           float64
	KillAfter                      time.Duration
}

// FailoverResult is R4.
type FailoverResult struct {
	Spec       FailoverSpec
	Step       Step
	Moved      int64         // clients whose stream broke
	Back       int64         // of those, clients that caught up again
	ToLastBack time.Duration // kill to the last client caught up
	MaxOutage  time.Duration // longest break to catch-up of one client
	MaxRedial  time.Duration // longest break to the new stream's response
	Reconnects int64
	DialFails  int64
	Err        string
}

// Failover runs R4.
func (r *Runner) Failover(ctx context.Context, spec FailoverSpec) (res FailoverResult) {
	res = FailoverResult{Spec: spec}
	r.logf("R4: %d servers × %d clients, %d events at %g/s, last server killed after %v", spec.Servers, spec.Clients, spec.Events, spec.Rate, spec.KillAfter)
	if spec.Servers < 2 {
		res.Err = "R4 needs at least 2 servers"
		return res
	}
	g, err := r.newRig(ctx, true, spec.Servers, spec.Servers)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer g.stop()
	// Client process i starts on server i and, when its stream breaks,
	// moves on to one of the others.
	addrs := g.addrs()
	for i, a := range g.agents {
		order := append(append([]string{}, addrs[i:]...), addrs[:i]...)
		var st Status
		if err := a.do(command{Op: "connect", Addrs: order, N: spec.Clients, Conc: 64, Resume: true}, &st, 5*time.Minute); err != nil {
			res.Err = err.Error()
			return res
		}
		if st.Failed > 0 {
			res.Err = fmt.Sprintf("%d clients could not connect", st.Failed)
			return res
		}
	}
	if err := g.prime(ctx, time.Minute); err != nil {
		res.Err = err.Error()
		return res
	}
	victim := g.servers[len(g.servers)-1]
	var killed time.Time
	kill := func() {
		killed = time.Now()
		victim.Kill()
		r.logf("  killed server %d (pid %d)", len(g.servers)-1, victim.Pid)
	}
	s, err := g.measure(ctx, 1, 0, spec.Events, spec.Size, spec.Rate, spec.KillAfter, kill)
	res.Step = s
	if err != nil {
		res.Err = err.Error()
	}
	res.Moved, res.Back = s.Clients.Down, s.Clients.Back
	res.Reconnects, res.DialFails = s.Clients.Reconnects, s.Clients.DialFails
	res.MaxOutage = time.Duration(s.Clients.MaxOutage)
	res.MaxRedial = time.Duration(s.Clients.MaxRedial)
	if !killed.IsZero() && s.Clients.LastBack > 0 {
		res.ToLastBack = time.Duration(s.Clients.LastBack - killed.UnixNano())
	} else if killed.IsZero() && res.Err == "" {
		res.Err = "the run ended before the kill"
	}
	r.logf("  %d clients moved, %d caught up, last %v after the kill (longest break %v, longest to a new stream's response %v); lost %d, dup/out of order %d, short %d; CPU redis %.2f, publisher %.2f, other server %.2f, clients %.2f %s",
		res.Moved, res.Back, res.ToLastBack, res.MaxOutage, res.MaxRedial, s.Lost, s.Backs, s.Short, s.Load.Redis, s.Load.Publisher, s.Load.Servers, s.Load.Clients, res.Err)
	for _, n := range s.Notes {
		r.logf("    %s", n)
	}
	return res
}
