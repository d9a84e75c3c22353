package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	sse "github.com/eventwire/sse/core"
	sseotel "github.com/eventwire/sse/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// otelCollect is how often eventwire-otel collects its metrics, as a
// periodic exporter would (the SDK's default interval is a minute).
const otelCollect = 10 * time.Second

// eventwireOtel is eventwire with sseotel's metrics on: one
// sseotel.Metrics on an SDK MeterProvider whose manual reader is collected
// every otelCollect (and the data dropped), given to the hub and the
// handler (Metrics.Option), and reporting the hub's fan-out lag
// (Metrics.ObserveHub).
type eventwireOtel struct {
	*eventwire
	provider    *sdkmetric.MeterProvider
	reader      *sdkmetric.ManualReader
	stopObserve func() error
	stopCollect context.CancelFunc
	collecting  sync.WaitGroup
}

func newEventwireOtel() (Broadcaster, error) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m, err := sseotel.New(sseotel.WithMeterProvider(provider))
	if err != nil {
		return nil, errors.Join(err, provider.Shutdown(context.Background()))
	}
	hub, err := sse.NewHub(m.Option())
	if err != nil {
		return nil, errors.Join(err, provider.Shutdown(context.Background()))
	}
	stop, err := m.ObserveHub(hub)
	if err != nil {
		return nil, errors.Join(err, hub.Close(), provider.Shutdown(context.Background()))
	}
	e := &eventwireOtel{
		eventwire:   &eventwire{hub: hub, Handler: sse.Handler(hub.StreamFunc(Topic), m.Option())},
		provider:    provider,
		reader:      reader,
		stopObserve: stop,
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopCollect = cancel
	e.collecting.Add(1)
	go func() {
		defer e.collecting.Done()
		collect(ctx, reader)
	}()
	return e, nil
}

// collect collects reader's metrics every otelCollect until ctx ends.
func collect(ctx context.Context, reader *sdkmetric.ManualReader) {
	t := time.NewTicker(otelCollect)
	defer t.Stop()
	var rm metricdata.ResourceMetrics
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := reader.Collect(ctx, &rm); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "eventwire-otel: collect metrics:", err)
		}
	}
}

func (e *eventwireOtel) Close(ctx context.Context) error {
	e.stopCollect()
	e.collecting.Wait()
	return errors.Join(e.stopObserve(), e.hub.Shutdown(ctx), e.provider.Shutdown(ctx))
}
