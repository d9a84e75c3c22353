package cluster

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/eventwire/sse/bench/internal/chart"
)

// idleSeries groups R2's results by server count, as points of total
// streams and y(result); failed runs are left out.
func idleSeries(idle []IdleResult, y func(IdleResult) float64) []chart.Series {
	by := map[int]*chart.Series{}
	for _, r := range idle {
		if r.Err != "" || r.Streams == 0 {
			continue
		}
		s := by[r.Servers]
		if s == nil {
			name := fmt.Sprintf("%d servers", r.Servers)
			if r.Servers == 1 {
				name = "1 server"
			}
			s = &chart.Series{Name: name}
			by[r.Servers] = s
		}
		s.X = append(s.X, float64(r.Streams))
		s.Y = append(s.Y, y(r))
	}
	var out []chart.Series
	for _, s := range by {
		out = append(out, s.Sorted())
	}
	slices.SortFunc(out, func(a, b chart.Series) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// writeCharts writes R2's charts into dir: publish-to-last and memory
// against total streams, a line per server count.
func writeCharts(dir string, idle []IdleResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts := map[string]chart.Chart{
		"cluster-publish-to-last.svg": {
			Title: "One publish to the last of all streams (median)", XLabel: "streams, all servers together", YLabel: "milliseconds",
			Series: idleSeries(idle, func(r IdleResult) float64 { return r.Median().Seconds() * 1000 }),
			Goal:   1000, GoalLabel: "goal: 1 s",
		},
		"cluster-memory.svg": {
			Title: "Servers' resident memory with the streams open", XLabel: "streams, all servers together", YLabel: "MiB, all servers together",
			Series: idleSeries(idle, func(r IdleResult) float64 { return float64(r.ServerRSSKiB) / 1024 }),
		},
	}
	for name, c := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.SVG()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
