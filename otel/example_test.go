package sseotel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"

	sse "github.com/eventwire/sse/core"
	sseotel "github.com/eventwire/sse/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A server streams two events to a client; both report to one Metrics,
// read here with the SDK's manual reader (an application would install an
// exporter instead).
func Example() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	m, err := sseotel.New(sseotel.WithMeterProvider(provider))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		if err := s.Send(sse.Event{Data: "hello"}); err != nil {
			return err
		}
		return s.Send(sse.Event{Data: "world"})
	}, m.Option()))
	defer srv.Close()

	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range sse.Events(srv.Client(), req, m.Option(), sse.WithEndOnEOF()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("received", ev.Data)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue // the histogram of write durations
			}
			for _, dp := range sum.DataPoints {
				name := m.Name
				for _, kv := range dp.Attributes.ToSlice() {
					name += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.Emit())
				}
				lines = append(lines, fmt.Sprintf("%s: %d", name, dp.Value))
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// received hello
	// received world
	// sse.bytes.written: 26
	// sse.client.connections: 1
	// sse.client.events.received: 2
	// sse.events.written: 2
	// sse.streams.ended sse.end.cause=ended: 1
	// sse.streams.open: 0
	// sse.streams.opened: 1
}
