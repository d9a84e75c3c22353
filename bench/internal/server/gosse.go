package server

import (
	"context"

	gosse "github.com/tmaxmax/go-sse"
)

// goSSE is github.com/tmaxmax/go-sse's Server with its default provider,
// Joe (no replayer), used as its README shows: the Server is the handler
// and Publish sends to the default topic. Joe writes to subscribers one
// after another on its own goroutine.
type goSSE struct {
	*gosse.Server
}

func newGoSSE() (Broadcaster, error) {
	return &goSSE{Server: &gosse.Server{}}, nil
}

func (g *goSSE) Publish(_ context.Context, data string) error {
	m := &gosse.Message{}
	m.AppendData(data)
	return g.Server.Publish(m)
}

func (g *goSSE) Subscribers() int { return -1 }

func (g *goSSE) Close(ctx context.Context) error { return g.Server.Shutdown(ctx) }
