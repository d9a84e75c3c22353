package sseredis

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
)

// testTopic is the topic the instances' /events streams serve.
const testTopic = "news"

// fastRetry makes the backend recover within tens of milliseconds, so that
// the fault tests stay short.
var fastRetry = []Option{WithBackoff(10*time.Millisecond, 200*time.Millisecond), WithBlock(500 * time.Millisecond)}

// testQueue is the subscribers' queue size: every event a test publishes
// fits. The tests check what is delivered, and some make the backend read
// a burst (the thousands of entries added after a loss, read at once); with
// the default queue of 256, the fan-out can fill a queue before the
// scheduler, on a busy machine, runs the handler that drains it, and
// DisconnectSlow then rightly cuts that client off.
const testQueue = 1 << 14

// instance is one server of a cluster: a hub on a Redis backend of its
// own, serving testTopic over HTTP.
type instance struct {
	hub     *sse.Hub
	backend *Backend
	srv     *httptest.Server
}

// newInstance starts a server whose hub uses the Redis at url. Everything
// is closed when the test ends.
func newInstance(t testing.TB, url string, opts ...Option) *instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := Open(ctx, url, append(slices.Clone(fastRetry), opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	hub, err := sse.NewHub(sse.WithBackend(b), sse.WithQueueSize(testQueue))
	if err != nil {
		b.Close()
		t.Fatalf("NewHub: %v", err)
	}
	srv := httptest.NewUnstartedServer(sse.Handler(hub.StreamFunc(testTopic), sse.WithHeartbeat(0)))
	srv.Config.RegisterOnShutdown(func() { hub.Shutdown(context.Background()) })
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := hub.Close(); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
	})
	return &instance{hub: hub, backend: b, srv: srv}
}

// publish publishes data to testTopic and fails the test on an error.
func (in *instance) publish(t testing.TB, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.hub.Publish(ctx, sse.Event{Data: data}, testTopic); err != nil {
		t.Fatalf("Publish(%q): %v", data, err)
	}
}

// waitSubscribers waits until the instance's hub has n subscribers.
func (in *instance) waitSubscribers(t testing.TB, n int) {
	t.Helper()
	backendtest.WaitSubscribers(t, in.hub, n)
}

// client reads one event stream of an instance.
type client = backendtest.Client

// connect opens the stream of in, sending lastID as Last-Event-ID unless
// it is empty.
func connect(t testing.TB, in *instance, name, lastID string) *client {
	t.Helper()
	return backendtest.Connect(t, in.srv.Client(), in.srv.URL, name, lastID)
}

// describe formats events for failure messages.
func describe(evs []sse.Event) string { return backendtest.Describe(evs) }
