package backendtest

import (
	"context"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// flushSignal is a stream's writer that discards what is written and
// signals each flush.
type flushSignal chan struct{}

func (f flushSignal) Write(p []byte) (int, error) { return len(p), nil }

func (f flushSignal) Flush() error {
	select {
	case f <- struct{}{}:
	default:
	}
	return nil
}

// Delivery measures, with b, the time from hub.Publish to the event's
// frame being flushed to a subscriber's stream, one event at a time, and
// closes hub: the benchmark every backend runs beside the in-memory log.
func Delivery(b *testing.B, hub *sse.Hub) {
	defer hub.Close()
	flushed := make(flushSignal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sse.StreamTo(ctx, flushed, hub.StreamFunc("bench"), sse.WithHeartbeat(0)) }()
	for hub.Stats().Subscribers == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-flushed: // the stream's opening flush
	default:
	}
	ev := sse.Event{Type: "tick", Data: `{"n":1}`}
	b.ReportAllocs()
	for b.Loop() {
		if err := hub.Publish(ctx, ev, "bench"); err != nil {
			b.Fatal(err)
		}
		<-flushed
	}
	cancel()
	if err := <-done; err != nil {
		b.Log(err)
	}
}
