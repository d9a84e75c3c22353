package load

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Baseline is the implementation the others are compared with.
const Baseline = "handwritten"

// Report collects a run's results and writes them as markdown.
type Report struct {
	Header string // machine and run notes, markdown
	Fanout []FanoutResult
	Idle   []IdleResult
	Churn  []ChurnResult
	Latest []LatestResult
	Drain  []DrainResult
}

// Markdown renders the report's tables.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString(rep.Header)
	if len(rep.Fanout) > 0 {
		rep.fanoutTable(&b)
	}
	if len(rep.Idle) > 0 {
		rep.idleTable(&b)
	}
	if len(rep.Churn) > 0 {
		rep.churnTable(&b)
	}
	if len(rep.Latest) > 0 {
		rep.latestTable(&b)
	}
	if len(rep.Drain) > 0 {
		rep.drainTable(&b)
	}
	return b.String()
}

func (rep *Report) fanoutTable(b *strings.Builder) {
	b.WriteString("\n## Broadcast (A, B; with stuck clients)\n\n")
	specs := map[string]FanoutSpec{}
	var order []string
	for _, r := range rep.Fanout {
		if _, ok := specs[r.Spec.Name]; !ok {
			order = append(order, r.Spec.Name)
		}
		specs[r.Spec.Name] = r.Spec
	}
	for _, name := range order {
		fmt.Fprintf(b, "- %s\n", specs[name])
	}
	b.WriteString("\nDelivered/s counts events received by all reading clients together, from the first send to the last receipt. " +
		"p50/p99 are delivery times (receipt − send timestamp carried in the event). " +
		"×base compares with the hand-written baseline in the same scenario (delivered/s: higher is better; p99: lower is better). " +
		"×no-stuck compares the reading clients' p50 · p99 with the same implementation's run without stuck clients (goal ≤ 1.2). " +
		"Server CPU/event is the user+system CPU time of the server process from the first publish to the end of delivery, per event delivered: " +
		"less sensitive than wall time to other load on the machine (lower is better); through a backend, the notes give the same for the service the tool started (redis-server; PostgreSQL and its sessions). " +
		"Lost counts events that reading clients did not get, over all runs (in brackets: most clients short of at least one event in one run). " +
		"Each row is the median of the runs (max: worst delivery time of any run).\n\n")
	b.WriteString("| Scenario | Implementation | Delivered/s | ×base | p50 | p99 | p99 ×base | ×no-stuck p50 · p99 | Server CPU/event | ×base | Lost (clients) | Notes |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	find := func(impl, spec string, silent bool) *FanoutResult {
		for i := range rep.Fanout {
			r := &rep.Fanout[i]
			if r.Impl == impl && r.Spec.Name == spec && (r.Silent > 0) == silent && r.FailedRuns < r.Runs {
				return r
			}
		}
		return nil
	}
	for _, name := range order {
		for _, silent := range []bool{false, true} {
			for _, r := range rep.Fanout {
				if r.Spec.Name != name || (r.Silent > 0) != silent {
					continue
				}
				scen := name
				if silent {
					scen = fmt.Sprintf("%s + %d stuck", name, r.Silent)
				}
				if r.Err != "" && r.FailedRuns == r.Runs {
					fmt.Fprintf(b, "| %s | %s | – | | | | | | | | | failed: %s |\n", scen, r.Impl, mdEscape(r.Err))
					continue
				}
				base := find(Baseline, name, silent)
				vsBase, p99Base, cpuBase := "", "", ""
				if base != nil && r.Impl != Baseline {
					vsBase = ratio(r.PerSec, base.PerSec)
					p99Base = ratio(float64(r.P99), float64(base.P99))
					cpuBase = ratio(float64(r.CPUPerEvent()), float64(base.CPUPerEvent()))
				}
				noStuck := ""
				if silent {
					if ref := find(r.Impl, name, false); ref != nil {
						noStuck = ratio(float64(r.P50), float64(ref.P50)) + " · " + ratio(float64(r.P99), float64(ref.P99))
					}
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d (%d) | %s |\n",
					scen, r.Impl, rate(r.PerSec), vsBase, dur(r.P50), dur(r.P99), p99Base, noStuck,
					dur(r.CPUPerEvent()), cpuBase, r.Lost(), r.Short, fanoutNotes(r))
			}
		}
	}
}

func fanoutNotes(r FanoutResult) string {
	var n []string
	if r.Stalled {
		n = append(n, fmt.Sprintf("**stalled** in %d of %d runs: delivery stopped while the publisher was blocked", r.StalledRuns, r.Runs))
	}
	if r.FailedRuns > 0 {
		n = append(n, fmt.Sprintf("%d of %d runs failed: %s", r.FailedRuns, r.Runs, mdEscape(r.Err)))
	}
	if r.HeldBack > 0 {
		n = append(n, fmt.Sprintf("**held back**: %d of the lost events came only once the stuck clients were closed", r.HeldBack))
	}
	if r.Ended > 0 {
		n = append(n, fmt.Sprintf("server ended %d reading streams", r.Ended))
	}
	if r.ConnectFailed > 0 {
		n = append(n, fmt.Sprintf("%d clients failed to connect", r.ConnectFailed))
	}
	if r.Dups > 0 {
		n = append(n, fmt.Sprintf("%d duplicates", r.Dups))
	}
	if r.Reordered > 0 {
		n = append(n, fmt.Sprintf("%d out of order", r.Reordered))
	}
	if r.PublishErr != "" && !r.Stalled {
		n = append(n, "publish: "+mdEscape(r.PublishErr))
	}
	if r.ServiceCPU > 0 {
		n = append(n, "service CPU/event "+dur(r.ServiceCPUPerEvent()))
	}
	n = append(n, "max "+dur(r.Max))
	if r.Spec.Rate == 0 && r.PublishTime > 0 {
		n = append(n, "publishing took "+dur(r.PublishTime))
	}
	return strings.Join(n, "; ")
}

func (rep *Report) idleTable(b *strings.Builder) {
	b.WriteString("\n## Idle streams (C)\n\n")
	b.WriteString("Server RSS (VmRSS, after returning free memory to the OS) before connecting and with every stream open and primed; " +
		"KiB/stream is the difference divided by the streams. Publish → last is the time from the send timestamp of one 128 B event " +
		"to its receipt by the last of all streams (median and worst of the publishes). ×base compares with the hand-written baseline (lower is better).\n")
	var sizes []int
	for _, r := range rep.Idle {
		if !slices.Contains(sizes, r.Clients) {
			sizes = append(sizes, r.Clients)
		}
	}
	for _, size := range sizes {
		var rows []IdleResult
		for _, r := range rep.Idle {
			if r.Clients == size {
				rows = append(rows, r)
			}
		}
		if len(sizes) > 1 {
			fmt.Fprintf(b, "\n### %s streams\n", thousands(size))
		}
		if note := rows[0].fitNote(); note != "" {
			fmt.Fprintf(b, "\n%s.\n", strings.ToUpper(note[:1])+note[1:])
		}
		idleRows(b, rows)
	}
}

// idleRows writes the C table of one size.
func idleRows(b *strings.Builder, rows []IdleResult) {
	b.WriteString("\n| Implementation | Streams | Server RSS before → after | KiB/stream | ×base | Goroutines/stream | Publish → last (median) | ×base | Worst | Missing | Notes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var base *IdleResult
	for i := range rows {
		if rows[i].Impl == Baseline && rows[i].Err == "" {
			base = &rows[i]
		}
	}
	for _, r := range rows {
		if r.Err != "" && r.RSSAfter == 0 {
			fmt.Fprintf(b, "| %s | %d | – | | | | | | | | failed: %s |\n", r.Impl, r.Fitted, mdEscape(r.Err))
			continue
		}
		memBase, costBase := "", ""
		if base != nil && r.Impl != Baseline {
			memBase = ratio(r.PerConnKiB(), base.PerConnKiB())
			costBase = ratio(float64(r.MedianCost()), float64(base.MedianCost()))
		}
		worst := time.Duration(0)
		for _, c := range r.Costs {
			worst = max(worst, c)
		}
		gPer := 0.0
		if r.Readers > 0 {
			gPer = float64(r.GAfter-r.GBefore) / float64(r.Readers)
		}
		var notes []string
		if r.Err != "" {
			notes = append(notes, mdEscape(r.Err))
		}
		if r.ConnectFailed > 0 {
			notes = append(notes, fmt.Sprintf("%d clients failed to connect", r.ConnectFailed))
		}
		notes = append(notes, fmt.Sprintf("heap %s → %s", mib(int64(r.HeapBefore)/1024), mib(int64(r.HeapAfter)/1024)))
		notes = append(notes, fmt.Sprintf("stacks %s → %s", mib(int64(r.StackBefore)/1024), mib(int64(r.StackAfter)/1024)))
		if r.CPUPerDelivery > 0 {
			notes = append(notes, fmt.Sprintf("server CPU %.1f µs per delivery", float64(r.CPUPerDelivery)/1e3))
		}
		fmt.Fprintf(b, "| %s | %d | %s → %s | %.1f | %s | %.2f | %s | %s | %s | %d | %s |\n",
			r.Impl, r.Readers, mib(r.RSSBefore), mib(r.RSSAfter), r.PerConnKiB(), memBase, gPer,
			dur(r.MedianCost()), costBase, dur(worst), r.Missing, strings.Join(notes, "; "))
	}
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (rep *Report) churnTable(b *strings.Builder) {
	b.WriteString("\n## Connect/disconnect churn (D)\n\n")
	b.WriteString("Short-lived streams while the server publishes 100 small events/s: every other client closes right after its request, " +
		"the others after their first event. Before/half-way/after are server goroutines and RSS (after returning free memory to the OS); " +
		"settled means the goroutine count came back to the count before within 15 s. " +
		"RSS is flat if the second half of the cycles added (next to) nothing: a one-off growth in the first half is the runtime's, a leak grows in both.\n\n")
	b.WriteString("| Implementation | Cycles (failed) | Time | Goroutines before → half → after | Settled | Server RSS before → half → after | RSS Δ 1st half · 2nd half | Heap before → after | Subscribers after | Notes |\n")
	b.WriteString("|---|--:|--:|--:|---|--:|--:|--:|--:|---|\n")
	for _, r := range rep.Churn {
		if r.Err != "" && r.RSSAfter == 0 {
			fmt.Fprintf(b, "| %s | %d | – | | | | | | | failed: %s |\n", r.Impl, r.Cycles, mdEscape(r.Err))
			continue
		}
		settled := "no"
		if r.Settled {
			settled = "yes, in " + dur(r.SettleTime)
		}
		subs := "n/a"
		if r.SubsAfter >= 0 {
			subs = fmt.Sprint(r.SubsAfter)
		}
		fmt.Fprintf(b, "| %s | %d (%d) | %s | %d → %d → %d | %s | %s → %s → %s | %+.1f · %+.1f MiB | %s → %s | %s | %s |\n",
			r.Impl, r.Cycles, r.Failed, dur(r.Elapsed), r.GBefore, r.GMid, r.GAfter, settled,
			mib(r.RSSBefore), mib(r.RSSMid), mib(r.RSSAfter),
			float64(r.RSSMid-r.RSSBefore)/1024, float64(r.RSSAfter-r.RSSMid)/1024,
			mib(int64(r.HeapBefore)/1024), mib(int64(r.HeapAfter)/1024), subs, mdEscape(r.Err))
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func rate(perSec float64) string {
	switch {
	case perSec >= 1e6:
		return fmt.Sprintf("%.2fM", perSec/1e6)
	case perSec >= 1e3:
		return fmt.Sprintf("%.1fk", perSec/1e3)
	}
	return fmt.Sprintf("%.0f", perSec)
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(kib int64) string {
	if kib < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func (rep *Report) latestTable(b *strings.Builder) {
	b.WriteString("\n## Latest values with stuck and slow clients (L)\n\n")
	fmt.Fprintf(b, "- %s\n\n", rep.Latest[0].Spec)
	b.WriteString("Readers keep up; stuck clients never read; slow clients read at a fixed rate. " +
		"Lost counts events the readers did not get (in brackets: readers short of one or more); under KeepLatest an event replaced by a newer one of its key before the reader's handler took it is lost by design, " +
		"so Latest counts the readers that received the latest event of every key. " +
		"Heap is the server's heap in use before publishing (after a GC), the highest seen while publishing, and at the end (after a GC). " +
		"Slow: events each slow client received of those published, and whether it ended with the latest event of every key, " +
		"reached this long after the readers had every event (its kernel buffers drain first). " +
		"Dropped clients and events are the hub's Stats; stuck dropped in is the time from the first publish until the hub had dropped every stuck client.\n\n")
	b.WriteString("| Implementation | Readers | Lost (clients) | Latest | p50 | p99 | Server heap before → max → after | RSS before → max | Slow: events received | Slow: latest of every key | Dropped clients · events | Stuck dropped in | Notes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rep.Latest {
		if r.Err != "" && r.Delivered == 0 {
			fmt.Fprintf(b, "| %s | | | | | | | | | | | | failed: %s |\n", r.Impl, mdEscape(r.Err))
			continue
		}
		got := make([]string, len(r.SlowGot))
		for i, n := range r.SlowGot {
			got[i] = fmt.Sprintf("%d of %d", n, r.Spec.Events)
		}
		latest := fmt.Sprintf("%d of %d", r.SlowLatest, len(r.SlowGot))
		switch {
		case r.SlowLatest > 0 && r.CatchUp > 0:
			latest += ", in " + dur(r.CatchUp)
		case r.SlowLatest > 0:
			latest += ", at once"
		}
		var notes []string
		if r.SlowEnded > 0 {
			notes = append(notes, fmt.Sprintf("%d slow clients disconnected", r.SlowEnded))
		}
		if r.Err != "" {
			notes = append(notes, mdEscape(r.Err))
		}
		stuck := "–"
		if r.StuckIn > 0 {
			stuck = dur(r.StuckIn)
		}
		fmt.Fprintf(b, "| %s | %d | %d (%d) | %d | %s | %s | %s → %s → %s | %s → %s | %s | %s | %d · %d | %s | %s |\n",
			r.Impl, r.Readers, r.Expected-r.Delivered, r.Short, r.Latest, dur(r.P50), dur(r.P99),
			mib(int64(r.HeapBefore/1024)), mib(int64(r.HeapMax/1024)), mib(int64(r.HeapAfter/1024)),
			mib(r.RSSBefore), mib(r.RSSMax), strings.Join(got, ", "), latest,
			r.Hub.DroppedClients, r.Hub.Dropped, stuck, strings.Join(notes, "; "))
	}
}
