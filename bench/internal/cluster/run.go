package cluster

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"time"
)

// Settings are the knobs of the cluster scenarios, set by flags.
type Settings struct {
	Broadcast BroadcastSpec
	Idle      IdleSpec
	Ceiling   CeilingSpec
	Failover  FailoverSpec
	Charts    string // folder for the SVG charts; empty: none
}

// DefaultSettings are the sizes.
func DefaultSettings() Settings {
	return Settings{
		Broadcast: BroadcastSpec{Servers: 3, Clients: 1000, Events: 100, Size: 128, Repeat: 3, Publishers: 1},
		Idle:      IdleSpec{Sizes: "1x1000,1x5000,1x10000,1x19000,3x1000,3x5000,3x10000,3x19000,5x1000,5x5000,5x10000,5x19000", Publishes: 5},
		Ceiling:   CeilingSpec{Servers: 5, Clients: 10, Size: 128, Publishers: 1, Rates: "1000,2000,4000,8000,16000,32000", Step: 5 * time.Second},
		Failover:  FailoverSpec{Servers: 3, Clients: 1000, Events: 1000, Size: 128, Rate: 50, KillAfter: 5 * time.Second},
	}
}

// RegisterFlags defines the flags of the cluster scenarios on fs, with s's
// values as defaults.
func RegisterFlags(fs *flag.FlagSet, s *Settings) {
	fs.IntVar(&s.Broadcast.Servers, "r1-servers", s.Broadcast.Servers, "R1: servers sharing Redis")
	fs.IntVar(&s.Broadcast.Clients, "r1-clients", s.Broadcast.Clients, "R1: reading clients per server")
	fs.IntVar(&s.Broadcast.Events, "r1-events", s.Broadcast.Events, "R1: events")
	fs.IntVar(&s.Broadcast.Size, "r1-size", s.Broadcast.Size, "R1: event data bytes")
	fs.IntVar(&s.Broadcast.Publishers, "r1-publishers", s.Broadcast.Publishers, "R1: publishers at once on the first server (above 1, the order is not checked)")
	fs.BoolVar(&s.Broadcast.Apart, "r1-apart", s.Broadcast.Apart, "R1: publish through Redis from an extra server that has no clients")
	fs.IntVar(&s.Broadcast.Batch, "r1-batch", s.Broadcast.Batch, "R1: above 1, each publisher publishes up to this many events in one call (Hub.PublishBatch), on both logs")
	fs.IntVar(&s.Broadcast.Repeat, "r1-repeat", s.Broadcast.Repeat, "R1: runs of each (the report shows medians)")
	fs.StringVar(&s.Idle.Sizes, "r2-sizes", s.Idle.Sizes, "R2: comma-separated `SERVERSxSTREAMS` (streams per server, at most 19000)")
	fs.IntVar(&s.Idle.Publishes, "r2-publishes", s.Idle.Publishes, "R2: single publishes timed to the last stream")
	fs.IntVar(&s.Ceiling.Servers, "r3-servers", s.Ceiling.Servers, "R3: listening servers")
	fs.IntVar(&s.Ceiling.Clients, "r3-clients", s.Ceiling.Clients, "R3: reading clients per server")
	fs.IntVar(&s.Ceiling.Size, "r3-size", s.Ceiling.Size, "R3: event data bytes")
	fs.IntVar(&s.Ceiling.Publishers, "r3-publishers", s.Ceiling.Publishers, "R3: publishers at once on the first server")
	fs.StringVar(&s.Ceiling.Rates, "r3-rates", s.Ceiling.Rates, "R3: comma-separated publish `rates` (events/s) tried in turn")
	fs.DurationVar(&s.Ceiling.Step, "r3-step", s.Ceiling.Step, "R3: publishing time at each rate")
	fs.IntVar(&s.Failover.Servers, "r4-servers", s.Failover.Servers, "R4: servers")
	fs.IntVar(&s.Failover.Clients, "r4-clients", s.Failover.Clients, "R4: clients per server")
	fs.IntVar(&s.Failover.Events, "r4-events", s.Failover.Events, "R4: events")
	fs.IntVar(&s.Failover.Size, "r4-size", s.Failover.Size, "R4: event data bytes")
	fs.Float64Var(&s.Failover.Rate, "r4-rate", s.Failover.Rate, "R4: events per second")
	fs.DurationVar(&s.Failover.KillAfter, "r4-kill-after", s.Failover.KillAfter, "R4: when the last server is killed, after the first event")
	fs.StringVar(&s.Charts, "charts", s.Charts, "write the SVG charts of R2, and of C with -c-sizes, into this `folder`")
}

// Run runs the scenarios named in scen (R1 to R4) and returns their report
// in markdown.
func (r *Runner) Run(ctx context.Context, s Settings, scen map[string]bool) (string, error) {
	rep := &Report{Settings: s}
	if scen["R1"] {
		rep.Broadcast = r.Broadcast(ctx, s.Broadcast)
	}
	if scen["R2"] {
		rep.Idle = r.Idle(ctx, s.Idle)
	}
	if scen["R3"] {
		rep.Ceiling = r.Ceiling(ctx, s.Ceiling)
	}
	if scen["R4"] {
		rep.Failover = r.Failover(ctx, s.Failover)
	}
	if s.Charts != "" && len(rep.Idle) > 0 {
		if err := writeCharts(s.Charts, rep.Idle); err != nil {
			return rep.Markdown(), err
		}
	}
	return rep.Markdown(), nil
}

func cores() string {
	return fmt.Sprintf("%d cores", runtime.NumCPU())
}
