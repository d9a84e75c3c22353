package cluster

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A series is one line of a chart: points sorted by x.
type series struct {
	name string
	x, y []float64
}

// chart is a line chart drawn as SVG with the standard library.
type chart struct {
	title, xLabel, yLabel string
	series                []series
	goal                  float64 // a dashed line at this y, if above 0
	goalLabel             string
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func label(v float64) string {
	switch {
	case v >= 10000 && math.Mod(v, 1000) == 0:
		return fmt.Sprintf("%gk", v/1000)
	default:
		return fmt.Sprintf("%g", v)
	}
}

// svg renders the chart, 640 × 400 pixels.
func (c chart) svg() string {
	const w, h = 640.0, 400.0
	const left, right, top, bottom = 70.0, 130.0, 40.0, 50.0
	var xmax, ymax float64
	for _, s := range c.series {
		for i := range s.x {
			xmax, ymax = max(xmax, s.x[i]), max(ymax, s.y[i])
		}
	}
	xmax, ymax = niceMax(xmax), niceMax(max(ymax, c.goal))
	px := func(x float64) float64 { return left + x/xmax*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - y/ymax*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(c.title))
	for i := 0; i <= 5; i++ {
		x, y := xmax*float64(i)/5, ymax*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(0), py(y), px(xmax), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", px(0)-6, py(y)+4, label(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), py(0)+18, label(x))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(xmax), py(0))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(0), py(ymax))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(xmax/2), h-12, html.EscapeString(c.xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", py(ymax/2), html.EscapeString(c.yLabel))
	if c.goal > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="6 4"/>`+"\n", px(0), py(c.goal), px(xmax), py(c.goal))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555">%s</text>`+"\n", px(0)+6, py(c.goal)-5, html.EscapeString(c.goalLabel))
	}
	for i, s := range c.series {
		col := palette[i%len(palette)]
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[j]), py(s.y[j])))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), col)
		for j := range s.x {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(s.x[j]), py(s.y[j]), col)
		}
		ly := top + 10 + float64(i)*20
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", w-right+15, ly, w-right+35, ly, col)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", w-right+40, ly+4, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// idleSeries groups R2's results by server count, as points of total
// streams and y(result); failed runs are left out.
func idleSeries(idle []IdleResult, y func(IdleResult) float64) []series {
	by := map[int]*series{}
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
			s = &series{name: name}
			by[r.Servers] = s
		}
		s.x = append(s.x, float64(r.Streams))
		s.y = append(s.y, y(r))
	}
	var out []series
	for _, s := range by {
		idx := make([]int, len(s.x))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(s.x[a], s.x[b]) })
		sorted := series{name: s.name}
		for _, i := range idx {
			sorted.x, sorted.y = append(sorted.x, s.x[i]), append(sorted.y, s.y[i])
		}
		out = append(out, sorted)
	}
	slices.SortFunc(out, func(a, b series) int { return cmp.Compare(a.name, b.name) })
	return out
}

// writeCharts writes R2's charts into dir: publish-to-last and memory
// against total streams, a line per server count.
func writeCharts(dir string, idle []IdleResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts := map[string]chart{
		"cluster-publish-to-last.svg": {
			title: "One publish to the last of all streams (median)", xLabel: "streams, all servers together", yLabel: "milliseconds",
			series: idleSeries(idle, func(r IdleResult) float64 { return r.Median().Seconds() * 1000 }),
			goal:   1000, goalLabel: "goal: 1 s",
		},
		"cluster-memory.svg": {
			title: "Servers' resident memory with the streams open", xLabel: "streams, all servers together", yLabel: "MiB, all servers together",
			series: idleSeries(idle, func(r IdleResult) float64 { return float64(r.ServerRSSKiB) / 1024 }),
		},
	}
	for name, c := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.svg()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
