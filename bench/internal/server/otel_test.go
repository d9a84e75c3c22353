package server

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestEventwireOtelRecords checks that eventwire-otel's metrics are on:
// an event written to a client is counted by the handler's and the hub's
// instruments, and the fan-out lag gauge is observed.
func TestEventwireOtelRecords(t *testing.T) {
	b, err := newEventwireOtel()
	if err != nil {
		t.Fatal(err)
	}
	e := b.(*eventwireOtel)
	srv := httptest.NewServer(e)
	defer srv.Close()
	defer func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for e.Subscribers() < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := e.Publish(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v before the event", err)
		}
		if strings.HasPrefix(line, "data: hello") {
			break
		}
	}

	want := []string{"sse.streams.opened", "sse.events.written", "sse.hub.events.published", "sse.hub.events.fanned_out", "sse.hub.fanout.lag"}
	// The event is counted as written once the write has returned, which
	// may be just after the client read it: collect until it shows.
	var seen map[string]bool
	for range 100 {
		seen = recorded(t, e)
		if seen["sse.events.written"] {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("%s not recorded; seen %v", name, seen)
		}
	}
}

// recorded collects e's metrics and returns the names of the counters
// above zero and of the gauges observed.
func recorded(t *testing.T, e *eventwireOtel) map[string]bool {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					seen[m.Name] = seen[m.Name] || dp.Value > 0
				}
			case metricdata.Gauge[int64]:
				seen[m.Name] = len(d.DataPoints) > 0
			}
		}
	}
	return seen
}
