package chart

import (
	"slices"
	"strings"
	"testing"
)

func TestSorted(t *testing.T) {
	s := Series{Name: "a", X: []float64{3, 1, 2}, Y: []float64{30, 10, 20}}.Sorted()
	if !slices.Equal(s.X, []float64{1, 2, 3}) || !slices.Equal(s.Y, []float64{10, 20, 30}) || s.Name != "a" {
		t.Errorf("Sorted() = %+v; want X 1, 2, 3 with Y 10, 20, 30", s)
	}
}

func TestSVG(t *testing.T) {
	c := Chart{
		Title: "t <x>", XLabel: "streams", YLabel: "ms",
		Series: []Series{
			{Name: "one & two", X: []float64{1000, 5000}, Y: []float64{10, 40}},
			{Name: "b", X: []float64{1000, 5000, 20000}, Y: []float64{5, 7, 90}},
		},
		Goal: 1000, GoalLabel: "goal",
	}
	svg := c.SVG()
	for _, want := range []string{"<svg", "t &lt;x&gt;", "one &amp; two", "stroke-dasharray", "20k"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("svg has %d lines, want 2", n)
	}
	if n := strings.Count(svg, "<circle"); n != 5 {
		t.Errorf("svg has %d points, want 5", n)
	}
	if !strings.HasSuffix(svg, "</svg>\n") {
		t.Errorf("svg is not closed")
	}
}

func TestNiceMax(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {0.3, 0.5}, {1, 1}, {19800, 20000}, {21000, 50000}, {101, 200}} {
		if got := niceMax(tt.in); got != tt.want {
			t.Errorf("niceMax(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
