package load

import (
	"os"
	"path/filepath"

	"github.com/eventwire/sse/bench/internal/chart"
)

// IdleChartFiles are the charts [WriteIdleCharts] writes.
var IdleChartFiles = []string{"idle-memory.svg", "idle-publish-to-last.svg"}

// idleSeries returns a line per implementation, in the order they first
// appear in idle, of y(result) against the streams opened; failed runs
// are left out.
func idleSeries(idle []IdleResult, y func(IdleResult) float64) []chart.Series {
	var out []chart.Series
	at := map[string]int{}
	for _, r := range idle {
		if r.Err != "" || r.Readers == 0 {
			continue
		}
		i, ok := at[r.Impl]
		if !ok {
			i = len(out)
			at[r.Impl] = i
			out = append(out, chart.Series{Name: r.Impl})
		}
		out[i].X = append(out[i].X, float64(r.Fitted))
		out[i].Y = append(out[i].Y, y(r))
	}
	for i := range out {
		out[i] = out[i].Sorted()
	}
	return out
}

// WriteIdleCharts writes scenario C's charts at several sizes into dir
// (made if missing), a line per implementation against the streams
// opened: the server's resident memory per stream (idle-memory.svg) and
// the median time from one publish to the last stream
// (idle-publish-to-last.svg).
func WriteIdleCharts(dir string, idle []IdleResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts := []chart.Chart{
		{
			Title: "Idle streams: server memory per stream", XLabel: "open streams", YLabel: "KiB per stream (RSS)",
			Series: idleSeries(idle, IdleResult.PerConnKiB),
		},
		{
			Title: "Idle streams: one publish to the last stream (median)", XLabel: "open streams", YLabel: "milliseconds",
			Series: idleSeries(idle, func(r IdleResult) float64 { return r.MedianCost().Seconds() * 1000 }),
		},
	}
	for i, c := range charts {
		if err := os.WriteFile(filepath.Join(dir, IdleChartFiles[i]), []byte(c.SVG()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
