package server

import (
	"context"
	"net/http"

	sse "github.com/eventwire/sse/core"
)

// eventwire is this module's sse.Hub with default options, served by
// sse.Handler with heartbeats off (the benchmark measures events, not
// keep-alives; the write timeout keeps its default).
type eventwire struct {
	hub *sse.Hub
	http.Handler
}

func newEventwire() (Broadcaster, error) {
	hub, err := sse.NewHub()
	if err != nil {
		return nil, err
	}
	return &eventwire{hub: hub, Handler: sse.Handler(hub.StreamFunc(Topic), sse.WithHeartbeat(0))}, nil
}

func (e *eventwire) Publish(ctx context.Context, data string) error {
	return e.hub.Publish(ctx, sse.Event{Data: data}, Topic)
}

func (e *eventwire) Subscribers() int { return e.hub.Stats().Subscribers }

func (e *eventwire) Close(ctx context.Context) error { return e.hub.Shutdown(ctx) }
