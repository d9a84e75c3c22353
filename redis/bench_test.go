package sseredis

import (
	"context"
	"testing"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
)

// BenchmarkPublishToDelivery measures the time from hub.Publish to the
// event's frame being flushed to a subscriber's stream, with the
// in-memory backend and with Redis (a local server), one event at a time.
func BenchmarkPublishToDelivery(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		hub, err := sse.NewHub()
		if err != nil {
			b.Fatal(err)
		}
		backendtest.Delivery(b, hub)
	})
	b.Run("redis", func(b *testing.B) {
		rs := startRedis(b, volatile...)
		backend, err := Open(context.Background(), rs.url())
		if err != nil {
			b.Fatal(err)
		}
		hub, err := sse.NewHub(sse.WithBackend(backend))
		if err != nil {
			backend.Close()
			b.Fatal(err)
		}
		backendtest.Delivery(b, hub)
	})
}
