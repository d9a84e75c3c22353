// Command load compares SSE broadcast implementations under the same load,
// in one run: this module's hub (eventwire), a hand-written net/http
// baseline, github.com/tmaxmax/go-sse and github.com/r3labs/sse/v2.
//
// For each implementation and scenario it re-executes itself with -serve
// to run the server in a child process, connects loopback SSE clients to
// it from this process, makes the server publish, and measures delivery
// rate, delivery time, losses, memory and goroutines. It prints a markdown
// report and writes it to -out. See ../../README.md.
//
// Usage (from the bench directory):
//
//	go run ./cmd/load [-quick] [-impls handwritten,eventwire] [-scenarios A,B,C,D] [-out results.md]
//	go run ./cmd/load -scenarios C -c-sizes 1000,5000,10000,20000 -charts charts
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eventwire/sse/bench/internal/cluster"
	"github.com/eventwire/sse/bench/internal/load"
	"github.com/eventwire/sse/bench/internal/server"
)

// settings are the knobs of a run; full and quick are the two presets.
type settings struct {
	aClients, aEvents, aSize int
	aRate                    float64
	bClients, bEvents, bSize int
	bRate                    float64
	stuck                    int
	cClients, cPublishes     int
	cSizes                   string // C at each of these sizes instead of cClients
	dCycles, dConc           int
	latest                   load.LatestSpec
	drain                    load.DrainSpec
	repeat                   int
	stall, limit, timeout    time.Duration
}

var (
	full = settings{
		aClients: 1000, aEvents: 100, aSize: 128, aRate: 0,
		bClients: 200, bEvents: 1000, bSize: 8 << 10, bRate: 100,
		stuck: 5, repeat: 3,
		cClients: 10000, cPublishes: 5,
		dCycles: 10000, dConc: 32,
		latest: load.LatestSpec{Clients: 200, Stuck: 5, Slow: 2, Events: 10000, Size: 1024, Rate: 500, SlowRate: 256 << 10},
		drain:  load.DrainSpec{Clients: 10000, Window: 10 * time.Second, Rate: 10, Size: 128, Before: 2 * time.Second, After: 3 * time.Second},
		stall:  15 * time.Second, limit: 90 * time.Second, timeout: 30 * time.Minute,
	}
	quick = settings{
		aClients: 200, aEvents: 50, aSize: 128, aRate: 0,
		bClients: 50, bEvents: 200, bSize: 8 << 10, bRate: 200,
		stuck: 5, repeat: 3,
		cClients: 1000, cPublishes: 3,
		dCycles: 1000, dConc: 16,
		latest: load.LatestSpec{Clients: 200, Stuck: 5, Slow: 2, Events: 10000, Size: 1024, Rate: 500, SlowRate: 256 << 10},
		drain:  load.DrainSpec{Clients: 500, Window: 10 * time.Second, Rate: 10, Size: 128, Before: 2 * time.Second, After: 3 * time.Second},
		stall:  8 * time.Second, limit: 30 * time.Second, timeout: 5 * time.Minute,
	}
)

func main() {
	serve := flag.String("serve", "", "internal: run `IMPL`'s server (the load tool starts these itself)")
	listen := flag.String("listen", "127.0.0.1:0", "internal: loopback address the -serve server listens on")
	isQuick := flag.Bool("quick", false, "run scaled-down scenarios (under 2 minutes)")
	impls := flag.String("impls", strings.Join(server.Names(), ","), "comma-separated `implementations` to compare; besides the default ones: "+
		"eventwire-latest (scenario L), eventwire-redis and eventwire-pg (the hub through a Redis or PostgreSQL backend; the tool starts the server), eventwire-otel (with OpenTelemetry metrics)")
	scenarios := flag.String("scenarios", "A,B,C,D", "comma-separated `scenarios`: A, B (each also with stuck clients), C (idle), D (churn), "+
		"L (latest values with stuck and slow clients; try -impls eventwire,eventwire-latest), "+
		"S (drain onto a second server; with -impls eventwire-redis or eventwire-pg), "+
		"R1 to R4 (several servers sharing one Redis; see the README)")
	out := flag.String("out", "", "also write the markdown report to this `file`")
	sources := flag.Int("sources", 64, "loopback source addresses the clients use (127.0.0.1 to 127.0.0.N)")
	churnAll := flag.Bool("churn-all", true, "run D against every implementation, not only eventwire")
	agent := flag.Bool("cluster-agent", false, "internal: run a client process of the R scenarios (the load tool starts these itself)")
	cs := cluster.DefaultSettings()
	cluster.RegisterFlags(flag.CommandLine, &cs)

	s := full
	flag.IntVar(&s.aClients, "a-clients", s.aClients, "A: reading clients")
	flag.IntVar(&s.aEvents, "a-events", s.aEvents, "A: events")
	flag.IntVar(&s.aSize, "a-size", s.aSize, "A: event data bytes")
	flag.Float64Var(&s.aRate, "a-rate", s.aRate, "A: events per second (0: unpaced)")
	flag.IntVar(&s.bClients, "b-clients", s.bClients, "B: reading clients")
	flag.IntVar(&s.bEvents, "b-events", s.bEvents, "B: events")
	flag.IntVar(&s.bSize, "b-size", s.bSize, "B: event data bytes")
	flag.Float64Var(&s.bRate, "b-rate", s.bRate, "B: events per second (0: unpaced)")
	flag.IntVar(&s.stuck, "stuck", s.stuck, "stuck clients (never read) in the second run of A and B; 0 skips those runs")
	flag.IntVar(&s.repeat, "repeat", s.repeat, "runs of each broadcast scenario and implementation (the report shows medians)")
	flag.IntVar(&s.cClients, "c-clients", s.cClients, "C: idle streams")
	flag.StringVar(&s.cSizes, "c-sizes", s.cSizes, "C: comma-separated `sizes` (idle streams) to run in turn instead of -c-clients, e.g. 1000,5000,10000,20000; "+
		"with -charts, draws memory per stream and publish→last against the size; a size above the open-file limit less 200 is cut down to that")
	flag.IntVar(&s.cPublishes, "c-publishes", s.cPublishes, "C: single publishes timed to all streams")
	flag.IntVar(&s.dCycles, "d-cycles", s.dCycles, "D: connect/disconnect cycles")
	flag.IntVar(&s.dConc, "d-conc", s.dConc, "D: cycles at a time")
	flag.IntVar(&s.latest.Clients, "l-clients", s.latest.Clients, "L: reading clients")
	flag.IntVar(&s.latest.Stuck, "l-stuck", s.latest.Stuck, "L: stuck clients (never read)")
	flag.IntVar(&s.latest.Slow, "l-slow", s.latest.Slow, "L: slow clients")
	flag.IntVar(&s.latest.SlowRate, "l-slow-rate", s.latest.SlowRate, "L: bytes/s a slow client reads")
	flag.IntVar(&s.latest.Events, "l-events", s.latest.Events, "L: events")
	flag.IntVar(&s.latest.Size, "l-size", s.latest.Size, "L: event data bytes")
	flag.Float64Var(&s.latest.Rate, "l-rate", s.latest.Rate, "L: events per second")
	flag.IntVar(&s.drain.Clients, "s-clients", s.drain.Clients, "S: streams drained")
	flag.DurationVar(&s.drain.Window, "s-window", s.drain.Window, "S: the first server's drain window")
	flag.Float64Var(&s.drain.Rate, "s-rate", s.drain.Rate, "S: events per second published during the run")
	flag.IntVar(&s.drain.Size, "s-size", s.drain.Size, "S: event data bytes")
	flag.DurationVar(&s.drain.Before, "s-before", s.drain.Before, "S: publishing before the shutdown starts")
	flag.DurationVar(&s.drain.After, "s-after", s.drain.After, "S: publishing after the window ends")
	flag.DurationVar(&s.stall, "stall", s.stall, "stop a run after no event was delivered for this long")
	flag.DurationVar(&s.limit, "limit", s.limit, "longest publishing phase of one run")
	flag.DurationVar(&s.timeout, "timeout", s.timeout, "stop everything after this long")
	flag.Parse()

	raiseFDLimit()
	if *agent {
		if err := cluster.ServeAgent(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "cluster agent:", err)
			os.Exit(1)
		}
		return
	}
	if *serve != "" {
		if err := runServer(*serve, *listen); err != nil {
			fmt.Fprintf(os.Stderr, "serve %s: %v\n", *serve, err)
			os.Exit(1)
		}
		return
	}
	if *isQuick {
		s = applyQuick(s)
	}
	if err := run(s, cs, *impls, *scenarios, *out, *sources, *churnAll); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// applyQuick replaces every setting not given on the command line by its
// quick value.
func applyQuick(s settings) settings {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	q := quick
	pick := func(name string, dst *int, v int) {
		if !set[name] {
			*dst = v
		}
	}
	pick("a-clients", &s.aClients, q.aClients)
	pick("a-events", &s.aEvents, q.aEvents)
	pick("a-size", &s.aSize, q.aSize)
	pick("b-clients", &s.bClients, q.bClients)
	pick("b-events", &s.bEvents, q.bEvents)
	pick("b-size", &s.bSize, q.bSize)
	pick("stuck", &s.stuck, q.stuck)
	pick("repeat", &s.repeat, q.repeat)
	pick("c-clients", &s.cClients, q.cClients)
	pick("c-publishes", &s.cPublishes, q.cPublishes)
	pick("d-cycles", &s.dCycles, q.dCycles)
	pick("d-conc", &s.dConc, q.dConc)
	pick("s-clients", &s.drain.Clients, q.drain.Clients)
	if !set["a-rate"] {
		s.aRate = q.aRate
	}
	if !set["b-rate"] {
		s.bRate = q.bRate
	}
	if !set["stall"] {
		s.stall = q.stall
	}
	if !set["limit"] {
		s.limit = q.limit
	}
	if !set["timeout"] {
		s.timeout = q.timeout
	}
	return s
}

func run(s settings, cs cluster.Settings, implList, scenarioList, out string, sources int, churnAll bool) error {
	s.repeat = max(s.repeat, 1)
	impls := splitList(implList)
	for _, impl := range impls {
		if !server.Valid(impl) {
			return fmt.Errorf("unknown implementation %q (have %s)", impl, strings.Join(server.Names(), ", "))
		}
	}
	scen := map[string]bool{}
	for _, sc := range splitList(scenarioList) {
		switch sc = strings.ToUpper(sc); sc {
		case "A", "B", "C", "D", "L", "S":
			scen[sc] = true
		case "R1", "R2", "R3", "R4":
			scen[sc] = true
		default:
			return fmt.Errorf("unknown scenario %q", sc)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// Whatever happens, do not outlive the deadline by much: the children
	// exit when this process does (their standard input closes).
	go func() {
		<-ctx.Done()
		time.Sleep(20 * time.Second)
		fmt.Fprintln(os.Stderr, "load: still running 20s after stop was requested; exiting")
		os.Exit(2)
	}()

	env, pids, stopServices, err := startServices(ctx, impls, os.Stderr)
	defer stopServices()
	if err != nil {
		return err
	}
	r := &load.Runner{Exe: exe, Sources: load.NewSources(sources), Log: os.Stderr, Stall: s.stall, Limit: s.limit, Env: env, ServicePids: pids, FileLimit: fdLimit()}
	rep := &load.Report{}
	started := time.Now()
	loadBefore := loadavg()

	specs := []load.FanoutSpec{}
	if scen["A"] {
		specs = append(specs, load.FanoutSpec{Name: "A", Clients: s.aClients, Events: s.aEvents, Size: s.aSize, Rate: s.aRate})
	}
	if scen["B"] {
		specs = append(specs, load.FanoutSpec{Name: "B", Clients: s.bClients, Events: s.bEvents, Size: s.bSize, Rate: s.bRate})
	}
	for _, spec := range specs {
		silents := []int{0}
		if s.stuck > 0 {
			silents = append(silents, s.stuck)
		}
		// Repeats go round the implementations, with and without stuck
		// clients, so that a burst of other load on the machine hits them
		// all alike.
		runs := make([][][]load.FanoutResult, len(silents))
		for i := range runs {
			runs[i] = make([][]load.FanoutResult, len(impls))
		}
		for rep := range s.repeat {
			for si, silent := range silents {
				for ii, impl := range impls {
					if ctx.Err() != nil {
						break
					}
					r.Log.Write(fmt.Appendf(nil, "%s %s, %d stuck, run %d/%d: %s\n",
						time.Now().Format("15:04:05"), spec, silent, rep+1, s.repeat, impl))
					res := r.Fanout(ctx, impl, spec, silent)
					runs[si][ii] = append(runs[si][ii], res)
					logFanout(r.Log, res)
				}
			}
		}
		for _, bySilent := range runs {
			for _, rs := range bySilent {
				if len(rs) > 0 {
					rep.Fanout = append(rep.Fanout, load.Merge(rs))
				}
			}
		}
	}
	if scen["C"] {
		sizes := []int{s.cClients}
		if s.cSizes != "" {
			if sizes, err = parseSizes(s.cSizes); err != nil {
				return err
			}
		}
		for _, size := range sizes {
			for _, impl := range impls {
				if ctx.Err() != nil {
					break
				}
				r.Log.Write(fmt.Appendf(nil, "%s C: %d idle streams: %s\n", time.Now().Format("15:04:05"), size, impl))
				res := r.Idle(ctx, impl, size, s.cPublishes)
				rep.Idle = append(rep.Idle, res)
				fmt.Fprintf(r.Log, "  %.1f KiB/stream, publish→last %v, missing %d %s\n", res.PerConnKiB(), res.Costs, res.Missing, res.Err)
			}
		}
		if len(sizes) > 1 && cs.Charts != "" {
			if err := load.WriteIdleCharts(cs.Charts, rep.Idle); err != nil {
				return err
			}
			fmt.Fprintf(r.Log, "load: C charts in %s: %s\n", cs.Charts, strings.Join(load.IdleChartFiles, ", "))
		}
	}
	if scen["D"] {
		for _, impl := range impls {
			if ctx.Err() != nil {
				break
			}
			if impl != "eventwire" && !churnAll {
				continue
			}
			r.Log.Write(fmt.Appendf(nil, "%s D: %d connect/disconnect cycles: %s\n", time.Now().Format("15:04:05"), s.dCycles, impl))
			res := r.Churn(ctx, impl, s.dCycles, s.dConc)
			rep.Churn = append(rep.Churn, res)
			fmt.Fprintf(r.Log, "  goroutines %d → %d → %d, RSS %d → %d → %d KiB %s\n",
				res.GBefore, res.GMid, res.GAfter, res.RSSBefore, res.RSSMid, res.RSSAfter, res.Err)
		}
	}

	if scen["L"] {
		for _, impl := range impls {
			if ctx.Err() != nil {
				break
			}
			r.Log.Write(fmt.Appendf(nil, "%s %s: %s\n", time.Now().Format("15:04:05"), s.latest, impl))
			res := r.Latest(ctx, impl, s.latest)
			rep.Latest = append(rep.Latest, res)
			fmt.Fprintf(r.Log, "  lost %d of %d, p99 %v, heap %d → %d → %d KiB, slow got %v, latest %d of %d in %v, dropped %d clients, %d events, stuck in %v %s\n",
				res.Expected-res.Delivered, res.Expected, res.P99, res.HeapBefore>>10, res.HeapMax>>10, res.HeapAfter>>10,
				res.SlowGot, res.SlowLatest, len(res.SlowGot), res.CatchUp, res.Hub.DroppedClients, res.Hub.Dropped, res.StuckIn, res.Err)
		}
	}

	if scen["S"] {
		ran := false
		for _, impl := range impls {
			if ctx.Err() != nil || server.Service(impl) == "" {
				continue
			}
			ran = true
			r.Log.Write(fmt.Appendf(nil, "%s %s: %s\n", time.Now().Format("15:04:05"), s.drain, impl))
			res := r.Drain(ctx, impl, s.drain)
			rep.Drain = append(rep.Drain, res)
			fmt.Fprintf(r.Log, "  moved %d of %d, reconnections/s busiest %d, average %.0f, shutdown %v, lost %d (%d clients), repeated %d (%d clients) %s\n",
				res.Moved, res.Readers, res.Busiest, res.Average, res.ShutdownTook, res.Lost, res.Short, res.Dups, res.DupConns, res.Err)
		}
		if !ran {
			fmt.Fprintln(r.Log, "load: S needs an implementation with a backend (-impls eventwire-redis or eventwire-pg): skipped")
		}
	}

	var clusterMD string
	if scen["R1"] || scen["R2"] || scen["R3"] || scen["R4"] {
		cr := &cluster.Runner{Exe: exe, Log: os.Stderr, Stall: s.stall, RedisImpl: "eventwire-redis", MemImpl: "eventwire"}
		clusterMD, err = cr.Run(ctx, cs, scen)
		if err != nil {
			return err
		}
	}

	rep.Header = header(s, impls, started, loadBefore, loadavg(), ctx.Err())
	md := rep.Markdown() + clusterMD
	fmt.Print(md)
	if out != "" {
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped early: %w", context.Cause(ctx))
	}
	return nil
}

func logFanout(w io.Writer, r load.FanoutResult) {
	if r.Err != "" {
		fmt.Fprintf(w, "  failed: %s\n", r.Err)
		return
	}
	fmt.Fprintf(w, "  %.0f ev/s, p50 %v, p99 %v, lost %d of %d (%d clients short), ended %d, published in %v, stalled %v %s\n",
		r.PerSec, r.P50, r.P99, r.Lost(), r.Expected, r.Short, r.Ended, r.PublishTime, r.Stalled, r.PublishErr)
}

func header(s settings, impls []string, started time.Time, before, after string, stopped error) string {
	var b strings.Builder
	b.WriteString("# SSE broadcast load comparison\n\n")
	fmt.Fprintf(&b, "Run %s, took %v. Machine: %d cores (GOMAXPROCS %d), %s, %s/%s. ",
		started.Format("2006-01-02 15:04 MST"), time.Since(started).Round(time.Second),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "Load average before: %s; after: %s. ", before, after)
	b.WriteString("Server and clients share the machine's cores, and other work may have been running: compare within one run, not across runs.\n\n")
	fmt.Fprintf(&b, "Implementations: %s (baseline: %s).\n", strings.Join(impls, ", "), load.Baseline)
	if stopped != nil {
		fmt.Fprintf(&b, "\n**The run was stopped early (%v): tables are incomplete.**\n", stopped)
	}
	return b.String()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// parseSizes reads a comma-separated list of positive stream counts.
func parseSizes(list string) ([]int, error) {
	var sizes []int
	for _, f := range splitList(list) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-c-sizes: %q is not a number of streams", f)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 0 {
		return nil, errors.New("-c-sizes: no sizes")
	}
	return sizes, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runServer serves impl on addr until its standard input closes (the load
// tool exited or stopped it) or it gets SIGINT or SIGTERM.
func runServer(impl, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("the server listens on loopback addresses only")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin) //nolint:errcheck // any end means stop
		cancel()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	return server.Serve(ctx, impl, ln)
}
