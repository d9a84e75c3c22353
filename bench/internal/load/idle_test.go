package load

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFitStreams(t *testing.T) {
	for _, tt := range []struct {
		streams int
		limit   uint64
		want    int
	}{
		{20000, 20000, 19800},
		{19800, 20000, 19800},
		{19801, 20000, 19800},
		{10000, 20000, 10000},
		{20000, 0, 20000},              // unknown limit
		{20000, math.MaxUint64, 20000}, // unlimited
		{500, 100, 1},
	} {
		if got := FitStreams(tt.streams, tt.limit); got != tt.want {
			t.Errorf("FitStreams(%d, %d) = %d, want %d", tt.streams, tt.limit, got, tt.want)
		}
	}
}

// sweep is what a C sweep at two sizes returns, the larger one fitted to
// an open-file limit of 1,000.
func sweep() []IdleResult {
	ms := time.Millisecond
	run := func(impl string, clients int, kib int64, cost time.Duration) IdleResult {
		fitted := FitStreams(clients, 1000)
		return IdleResult{Impl: impl, Clients: clients, Fitted: fitted, FileLimit: 1000, Readers: fitted,
			RSSBefore: 10 << 10, RSSAfter: 10<<10 + kib*int64(fitted), Costs: []time.Duration{cost, 2 * cost, cost}}
	}
	return []IdleResult{
		run(Baseline, 500, 30, 20*ms),
		run("eventwire", 500, 27, 30*ms),
		run(Baseline, 2000, 31, 40*ms),
		run("eventwire", 2000, 26, 60*ms),
		{Impl: "go-sse", Clients: 2000, Fitted: 800, FileLimit: 1000, Err: "server did not start"},
	}
}

func TestIdleTablePerSize(t *testing.T) {
	md := (&Report{Idle: sweep()}).Markdown()
	for _, want := range []string{
		"### 500 streams",
		"### 2,000 streams",
		"2000 streams exceed the open-file limit 1000 less a margin of 200: running 800.",
		"| eventwire | 500 | 10.0 MiB → 23.2 MiB | 27.0 | 0.90× |",
		"| eventwire | 800 | 10.0 MiB → 30.3 MiB | 26.0 | 0.84× |",
		"| go-sse | 800 | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "failed to connect") {
		t.Errorf("report counts the streams left out for the open-file limit as failed connections:\n%s", md)
	}
	one := (&Report{Idle: sweep()[:2]}).Markdown()
	if strings.Contains(one, "###") || strings.Contains(one, "open-file limit") {
		t.Errorf("a single size that fits has a size heading or a limit note:\n%s", one)
	}
}

func TestWriteIdleCharts(t *testing.T) {
	s := idleSeries(sweep(), IdleResult.PerConnKiB)
	if len(s) != 2 || s[0].Name != Baseline || s[1].Name != "eventwire" {
		t.Fatalf("series = %+v; want the baseline, then eventwire (go-sse failed)", s)
	}
	if !slices.Equal(s[1].X, []float64{500, 800}) || !slices.Equal(s[1].Y, []float64{27, 26}) {
		t.Errorf("eventwire = %v, %v; want 27 KiB at 500 streams and 26 at 800 (the size run, not asked)", s[1].X, s[1].Y)
	}
	dir := filepath.Join(t.TempDir(), "charts")
	if err := WriteIdleCharts(dir, sweep()); err != nil {
		t.Fatal(err)
	}
	for _, name := range IdleChartFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "<polyline"); n != 2 {
			t.Errorf("%s has %d lines, want 2", name, n)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "idle-publish-to-last.svg"))
	if !strings.Contains(string(b), "one publish to the last stream") {
		t.Errorf("idle-publish-to-last.svg has another title:\n%s", b)
	}
}
