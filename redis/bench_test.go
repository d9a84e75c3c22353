package sseredis

import (
	"context"
	"strconv"
	"strings"
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

// BenchmarkPublish is the cost of publishing one event, ns/op per event,
// one call per event against batches of 32 and 256 (one round trip each):
// the publisher waits for each call, as a loop that publishes what it
// has does.
func BenchmarkPublish(b *testing.B) {
	rs := startRedis(b, volatile...)
	backend, err := Open(context.Background(), rs.url(), WithMaxLen(10000))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { backend.Close() })
	ctx := context.Background()
	msg := sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: strings.Repeat("x", 128)}}
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			if err := backend.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, size := range []int{32, 256} {
		batch := make([]sse.Message, size)
		for i := range batch {
			batch[i] = msg
		}
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			for i := 0; i < b.N; i += size {
				if _, err := backend.PublishBatch(ctx, batch[:min(size, b.N-i)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
