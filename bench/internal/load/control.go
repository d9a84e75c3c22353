package load

import (
	"context"
	"net/http"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// control talks to a child's control endpoints.
type control struct {
	base string
	hc   *http.Client
}

func newControl(addr string) *control {
	return &control{
		base: "http://" + addr,
		hc:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}},
	}
}

func (c *control) close() { c.hc.CloseIdleConnections() }

// stats asks for the child's stats, after returning freed memory to the OS
// if gc is set.
func (c *control) stats(ctx context.Context, gc bool) (server.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return server.Control{Base: c.base, HC: c.hc}.Stats(ctx, gc)
}

// publish makes the child publish n events of size bytes numbered from
// seq0 at rate events/s (0: unpaced), and waits until it has.
func (c *control) publish(ctx context.Context, n, size int, rate float64, seq0 int) (server.PublishResult, error) {
	return server.Control{Base: c.base, HC: c.hc}.Publish(ctx, n, size, rate, seq0, 1)
}
