package sseredis

import (
	"context"
	"errors"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
)

// Closing the hub closes the backend: the listener's blocked read ends at
// once, its goroutine and the client's are gone, and later publishes
// fail.
func TestCloseEndsListener(t *testing.T) {
	tests := []struct {
		name      string
		redisDown bool
	}{
		{"Redis up", false},
		{"Redis down", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			rs := startRedis(t, persistent...)
			ctx := context.Background()
			// A long block: Close must not wait for it.
			b, err := Open(ctx, rs.url(), WithBlock(time.Minute), WithBackoff(10*time.Millisecond, 50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			hub, err := sse.NewHub(sse.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the listener is blocked in XREAD
			if tt.redisDown {
				rs.kill()
				time.Sleep(50 * time.Millisecond)
			}

			start := time.Now()
			if err := hub.Close(); err != nil {
				t.Errorf("hub.Close: %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v, want it at once", d)
			}
			if err := b.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			err = b.Publish(ctx, sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "late"}})
			if !errors.Is(err, sse.ErrHubClosed) {
				t.Errorf("Publish after Close = %v, want sse.ErrHubClosed", err)
			}
			if !tt.redisDown {
				if n := directClient(t, rs.addr()).Exists(ctx, b.wakeKey).Val(); n != 0 {
					t.Errorf("wake key %s left behind", b.wakeKey)
				}
			}
		})
	}
}

// A publish that is waiting for Redis to come back stops when the
// backend closes.
func TestCloseStopsRetryingPublish(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	b, err := Open(context.Background(), rs.url(), fastRetry...)
	if err != nil {
		t.Fatal(err)
	}
	rs.kill()
	done := make(chan error, 1)
	go func() {
		done <- b.Publish(context.Background(), sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "x"}})
	}()
	time.Sleep(100 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, sse.ErrHubClosed) {
			t.Errorf("Publish = %v, want an error wrapping sse.ErrHubClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Publish still retrying 2s after Close")
	}
}

// A backend that never listened closes without a trace, and Listen after
// Close fails.
func TestCloseWithoutListen(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	b, err := Open(context.Background(), rs.url())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := b.Listen(func(sse.Message) {}); !errors.Is(err, sse.ErrHubClosed) {
		t.Errorf("Listen after Close = %v, want sse.ErrHubClosed", err)
	}
}
