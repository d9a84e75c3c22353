package load

import (
	"fmt"
	"strings"
	"time"
)

func (rep *Report) drainTable(b *strings.Builder) {
	b.WriteString("\n## Drain onto a second server (S)\n\n")
	fmt.Fprintf(b, "- %s\n\n", rep.Drain[0].Spec)
	b.WriteString("Two servers share one backend. The clients' streams are on the first; the second publishes. " +
		"The first server's `http.Server.Shutdown` runs with `sse.DrainOnShutdown(srv, window)`: each stream ends at a random moment of the window with a retry hint, " +
		"and its client waits for the hint and resumes on the second server with its Last-Event-ID (the client picks the other server, as a load balancer would). " +
		"Reconnections/s counts the resumptions (the second server's response headers) in each second from the start of the shutdown: busiest second of the window, " +
		"and the average over the window (goal: busiest ≤ 2× average). Gap is from a stream's end on the first server to its resumption on the second. " +
		"Lost and repeated count each client's events, all clients together (in brackets: clients with at least one). " +
		"Shutdown is the time from the call of `Shutdown` to its return, in the first server.\n\n")
	b.WriteString("| Implementation | Streams | Moved | Reconnections/s busiest · average | Ratio | Retry hints | Gap p50 · max | Shutdown returned after | Published | Lost (clients) | Repeated (clients) | Delivery p50 · p99 · max | Notes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rep.Drain {
		if r.Err != "" && r.Moved == 0 {
			fmt.Fprintf(b, "| %s | %d | | | | | | | | | | | failed: %s |\n", r.Impl, r.Spec.Clients, mdEscape(r.Err))
			continue
		}
		var notes []string
		if r.Err != "" {
			notes = append(notes, mdEscape(r.Err))
		}
		if r.ShutdownErr != "" {
			notes = append(notes, "Shutdown: "+mdEscape(r.ShutdownErr))
		}
		if r.ConnectFailed > 0 {
			notes = append(notes, fmt.Sprintf("%d clients failed to connect", r.ConnectFailed))
		}
		if r.NotEnded > 0 {
			notes = append(notes, fmt.Sprintf("%d streams never ended on the first server", r.NotEnded))
		}
		if r.ResumeFailed > 0 {
			notes = append(notes, fmt.Sprintf("%d clients could not resume on the second", r.ResumeFailed))
		}
		if r.EndedEarly > 0 {
			notes = append(notes, fmt.Sprintf("%d streams ended outside the drain", r.EndedEarly))
		}
		if r.Reordered > 0 {
			notes = append(notes, fmt.Sprintf("%d out of order", r.Reordered))
		}
		if r.Resets > 0 {
			notes = append(notes, fmt.Sprintf("%d reset events", r.Resets))
		}
		ratio := "–"
		if r.Average > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(r.Busiest)/r.Average)
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d · %.0f | %s | %s – %s | %s · %s | %s | %d | %d (%d) | %d (%d) | %s · %s · %s | %s |\n",
			r.Impl, r.Readers, r.Moved, r.Busiest, r.Average, ratio, dur(r.RetryMin), dur(r.RetryMax),
			dur(r.GapP50), dur(r.GapMax), dur(r.ShutdownTook), r.Published, r.Lost, r.Short, r.Dups, r.DupConns,
			dur(r.P50), dur(r.P99), dur(r.Max), strings.Join(notes, "; "))
	}
	for _, r := range rep.Drain {
		if len(r.PerSecond) == 0 {
			continue
		}
		fmt.Fprintf(b, "\nIn each second from the shutdown's start, %s (the window is %v):\n\n- streams ended on the first server: %s\n- reconnections to the second: %s\n",
			r.Impl, r.Spec.Window.Round(time.Second), counts(r.EndedPerSecond), counts(r.PerSecond))
		for _, e := range r.DupExamples {
			fmt.Fprintf(b, "\n- repeated: %s", mdEscape(e))
		}
		for e, n := range r.ResumeErrors {
			fmt.Fprintf(b, "\n- %d clients could not resume: %s", n, mdEscape(e))
		}
		if len(r.DupExamples)+len(r.ResumeErrors) > 0 {
			b.WriteString("\n")
		}
	}
}

func counts(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}
