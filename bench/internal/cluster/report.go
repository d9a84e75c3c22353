package cluster

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report holds the cluster scenarios' results.
type Report struct {
	Settings  Settings
	Broadcast []BroadcastResult
	Idle      []IdleResult
	Ceiling   CeilingResult
	Failover  FailoverResult
}

// Markdown renders the results.
func (rep *Report) Markdown() string {
	var b strings.Builder
	if len(rep.Broadcast) > 0 {
		rep.broadcast(&b)
	}
	if len(rep.Idle) > 0 {
		rep.idle(&b)
	}
	if len(rep.Ceiling.Steps) > 0 || rep.Ceiling.Err != "" {
		rep.ceiling(&b)
	}
	if rep.Failover.Spec.Servers > 0 {
		rep.failover(&b)
	}
	return b.String()
}

func (rep *Report) broadcast(b *strings.Builder) {
	s := rep.Settings.Broadcast
	fmt.Fprintf(b, "\n## R1: broadcast through Redis\n\n%d servers sharing one Redis, %d reading clients on each (%d in all), %d events × %d B published unpaced on the first server; "+
		"beside the same %d clients on one in-memory server. %s Median of %d runs each (lost and dup: sums over the runs).\n\n",
		s.Servers, s.Clients, s.Servers*s.Clients, s.Events, s.Size, s.Servers*s.Clients, publishers(s.Publishers)+apart(s.Apart)+batch(s.Batch), s.Repeat)
	b.WriteString("| Setup | Delivered/s | ×in-memory | p50 | p99 | max | Published in | CPU Redis · publisher · other server · clients | Lost | Dup/out of order | Failed runs |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	type agg struct {
		rate                []float64
		p50, p99, mx, pub   []time.Duration
		load                []Load
		lost, backs, failed int64
		runs                int
		err                 string
	}
	var red, mem agg
	for _, r := range rep.Broadcast {
		a := &mem
		if r.Redis {
			a = &red
		}
		a.runs++
		if r.Err != "" {
			a.failed++
			a.err = r.Err
			continue
		}
		a.rate = append(a.rate, r.Step.PerSec)
		a.p50, a.p99, a.mx = append(a.p50, r.Step.P50), append(a.p99, r.Step.P99), append(a.mx, r.Step.Max)
		a.pub, a.load = append(a.pub, r.Step.Publish), append(a.load, r.Step.Load)
		a.lost += r.Step.Lost
		a.backs += r.Step.Backs
	}
	medRate := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	row := func(name string, a agg, ratio string) {
		var l Load // the median of each share
		var rd, pb, sv, cl []float64
		for _, x := range a.load {
			rd, pb, sv, cl = append(rd, x.Redis), append(pb, x.Publisher), append(sv, x.Servers), append(cl, x.Clients)
		}
		l = Load{Redis: medRate(rd), Publisher: medRate(pb), Servers: medRate(sv), Clients: medRate(cl)}
		fmt.Fprintf(b, "| %s | %.0f | %s | %s | %s | %s | %s | %.2f · %.2f · %.2f · %.2f | %d | %d | %d of %d %s |\n", name, medRate(a.rate), ratio,
			dur(median(a.p50)), dur(median(a.p99)), dur(slices.Max(append(a.mx, 0))), dur(median(a.pub)), l.Redis, l.Publisher, l.Servers, l.Clients,
			a.lost, a.backs, a.failed, a.runs, a.err)
	}
	ratio := ""
	if m := medRate(mem.rate); m > 0 {
		ratio = fmt.Sprintf("%.2f", medRate(red.rate)/m)
	}
	row(fmt.Sprintf("Redis, %d servers", s.Servers), red, ratio)
	row("in-memory, 1 server", mem, "1")
}

func (rep *Report) idle(b *strings.Builder) {
	fmt.Fprintf(b, "\n## R2: idle streams at scale\n\nServers sharing one Redis, idle streams spread evenly over them (clients in processes of at most %d connections). "+
		"One 128 B event published on the first server, timed from its send until the last stream has it, %d times: median and worst. "+
		"Server memory per stream: the servers' RSS growth (after a GC) divided by the streams. Redis: used_memory and RSS with the streams open, "+
		"CPU time during the publishes. CPU/delivery: the CPU time all servers, and all client processes, used during the publishes "+
		"(pauses included) per event delivered.\n\n", MaxPerProcess, rep.Settings.Idle.Publishes)
	b.WriteString("| Servers | Streams | Publish→last median | worst | Missing | Server KiB/stream | Servers RSS | Redis used · RSS | Redis CPU | CPU/delivery servers · clients | Connect+subscribe | Notes |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rep.Idle {
		perDelivery := "–"
		if n := r.Streams * int64(len(r.ToLast)); n > 0 {
			perDelivery = dur(r.ServerCPU/time.Duration(n)) + " · " + dur(r.ClientCPU/time.Duration(n))
		}
		fmt.Fprintf(b, "| %d | %d | %s | %s | %d | %.1f | %s | %s · %s | %s | %s | %s | %s |\n", r.Servers, r.Streams, dur(r.Median()), dur(r.Worst()),
			r.Missing, r.ServerKiBPerStream, mib(r.ServerRSSKiB<<10), mib(r.RedisUsed), mib(r.RedisRSS), dur(r.RedisCPU), perDelivery,
			r.Connect.Round(100*time.Millisecond), r.Err)
	}
}

func (rep *Report) ceiling(b *strings.Builder) {
	c := rep.Ceiling
	fmt.Fprintf(b, "\n## R3: the ceiling of one Redis\n\n%d servers listening to one Redis, %d reading clients on each; the first server publishes %d B events at each rate for %v "+
		"(paced: an event's time is when it was due, so a publisher that falls behind shows as delay), until p99 passes 1 s. "+publishers(rep.Settings.Ceiling.Publishers)+" "+
		"CPU: share of one core used by Redis, the publishing server, the busiest other server, and all client processes (the machine has %s).\n\n",
		c.Servers, c.Clients, rep.Settings.Ceiling.Size, rep.Settings.Ceiling.Step, cores())
	b.WriteString("| Rate (ev/s) | Published at | Delivered/s | p50 | p99 | Lost | CPU Redis | CPU publisher | CPU other server | CPU clients | Notes |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, s := range c.Steps {
		l := s.Step.Load
		note := s.Err
		if s.Step.Stalled {
			note = strings.TrimSpace(note + " stalled")
		}
		if c := s.Step.Clients; c.Other > 0 || c.Ended > 0 || s.Step.DroppedClients > 0 {
			note = strings.TrimSpace(fmt.Sprintf("%s %d other events (resets), %d streams ended, hubs dropped %d clients (counts so far)", note, c.Other, c.Ended, s.Step.DroppedClients))
		}
		fmt.Fprintf(b, "| %g | %.0f | %.0f | %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %s |\n", s.Rate, s.Achieved, s.Step.PerSec,
			dur(s.Step.P50), dur(s.Step.P99), s.Step.Lost, l.Redis, l.Publisher, l.Servers, l.Clients, note)
	}
	if c.Err != "" {
		fmt.Fprintf(b, "\nFailed: %s\n", c.Err)
	}
}

func (rep *Report) failover(b *strings.Builder) {
	f := rep.Failover
	s := f.Spec
	fmt.Fprintf(b, "\n## R4: a server killed mid-broadcast\n\n%d servers sharing one Redis, %d clients on each; the first publishes %d events × %d B at %g/s; "+
		"%v after the first event the last server is killed with SIGKILL. Its clients reconnect at once to another server with their Last-Event-ID. "+
		"Every client checks that events come exactly once and in order by their number. A client is back when it receives the first event sent after its stream broke "+
		"(everything before it having been replayed in order).\n\n", s.Servers, s.Clients, s.Events, s.Size, s.Rate, s.KillAfter)
	st := f.Step
	b.WriteString("| Clients | Moved | Back | Kill → last back | Longest break | Longest to new response | Lost | Dup/out of order | Short | p50 | p99 | Reconnects | Failed dials | Notes |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	fmt.Fprintf(b, "| %d | %d | %d | %s | %s | %s | %d | %d | %d | %s | %s | %d | %d | %s |\n", st.Readers, f.Moved, f.Back, dur(f.ToLastBack), dur(f.MaxOutage), dur(f.MaxRedial),
		st.Lost, st.Backs, st.Short, dur(st.P50), dur(st.P99), f.Reconnects, f.DialFails, f.Err)
	if len(st.Notes) > 0 {
		b.WriteString("\nThe first anomalies the clients saw (up to 10 per client process):\n\n")
		for _, n := range st.Notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func mib(bytes int64) string {
	if bytes <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}

func publishers(n int) string {
	if n <= 1 {
		return "One publisher: each Publish returns before the next starts; every client checks order."
	}
	return fmt.Sprintf("%d publishers at once, each with its share of the events: order is not checked, lost counts deliveries missing.", n)
}

func batch(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" Each publish call carries up to %d events (Hub.PublishBatch; through Redis, one round trip per call), on both logs.", n)
}

func apart(on bool) string {
	if !on {
		return ""
	}
	return " Through Redis, the publisher is an extra server with no clients (the in-memory hub has to publish where its clients are)."
}
