// Command dashboard serves a live dashboard on echo v5: / is a page whose
// EventSource shows the server's metrics (uptime, heap, goroutines and
// requests served) as they change, and /events streams them.
//
// The hub is made for live values (sse.WithLiveValues): each metric is an
// event type, the hub keeps the latest event of each, so a new tab shows
// every value at once, a reconnecting one gets the current values instead
// of a reset, and a slow client gets the newest value of each metric, not
// a backlog. The metrics are sampled at start and every -interval
// (default 2s); requests is published as each request arrives.
//
//	go run ./examples/dashboard -addr 127.0.0.1:8080
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/eventwire/sse/adapters/echo/v5"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/labstack/echo/v5"
)

// topic is the one topic of the dashboard.
const topic = "metrics"

//go:embed index.html
var page []byte

func main() {
	if err := run(demo.ParseFlags()); err != nil {
		log.Fatal(err)
	}
}

func run(flags demo.Flags) error {
	hub, err := newHub()
	if err != nil {
		return err
	}
	m := &metrics{hub: hub, start: time.Now()}
	ctx, stop := context.WithCancel(context.Background())
	m.sample(ctx) // before the first client: it sees values at once
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		m.sampleEvery(ctx, flags.Interval)
	}()
	// The server's shutdown ends every stream (sse.EndOnShutdown), then
	// the sampler and the hub go.
	err = demo.ListenAndServe(flags.Addr, newApp(hub, m))
	stop()
	<-sampling
	return errors.Join(err, hub.Close())
}

// newHub returns the hub for the metrics: the one-liner for live values.
func newHub() (*sse.Hub, error) { return sse.NewHub(sse.WithLiveValues()) }

// newApp returns the dashboard's routes, each request counted by m.
func newApp(hub *sse.Hub, m *metrics) *echo.Echo {
	e := echo.New()
	e.Use(m.count)
	e.GET("/", func(c *echo.Context) error { return c.HTMLBlob(http.StatusOK, page) })
	e.GET("/events", sseecho.Handler(hub.StreamFunc(topic)))
	e.GET("/healthz", func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	return e
}

// metrics publishes the server's metrics to the hub, each as an event of
// its own type: the hub keeps the latest of each.
type metrics struct {
	hub   *sse.Hub
	start time.Time

	mu       sync.Mutex // publishes the request count in order
	requests int
}

// count is a middleware that counts requests and publishes the count.
func (m *metrics) count(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		m.mu.Lock()
		m.requests++
		m.publish(c.Request().Context(), "requests", strconv.Itoa(m.requests))
		m.mu.Unlock()
		return next(c)
	}
}

// sampleEvery samples the metrics every interval until ctx ends.
func (m *metrics) sampleEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sample(ctx)
		}
	}
}

// sample publishes the uptime, the heap in use and the goroutines.
func (m *metrics) sample(ctx context.Context) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.publish(ctx, "uptime", time.Since(m.start).Round(time.Second).String())
	m.publish(ctx, "heap", fmt.Sprintf("%.1f MiB", float64(ms.HeapAlloc)/(1<<20)))
	m.publish(ctx, "goroutines", strconv.Itoa(runtime.NumGoroutine()))
}

// publish publishes value as the event of type key. A metric that cannot
// be published is logged and skipped: the next sample replaces it.
func (m *metrics) publish(ctx context.Context, key, value string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := m.hub.Publish(ctx, sse.Event{Type: key, Data: value}, topic); err != nil && !errors.Is(err, context.Canceled) {
		log.Printf("%s not published: %v", key, err)
	}
}
