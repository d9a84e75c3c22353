package sseredis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// testTopic is the topic the instances' /events streams serve.
const testTopic = "news"

// fastRetry makes the backend recover within tens of milliseconds, so that
// the fault tests stay short.
var fastRetry = []Option{WithBackoff(10*time.Millisecond, 200*time.Millisecond), WithBlock(500 * time.Millisecond)}

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
	hub, err := sse.NewHub(sse.WithBackend(b))
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
	deadline := time.Now().Add(5 * time.Second)
	for in.hub.Stats().Subscribers != n {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d subscribers after 5s, want %d", in.hub.Stats().Subscribers, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// client is one HTTP client reading an event stream, as EventSource would
// (but without reconnecting: a stream that ends stays ended).
type client struct {
	name   string
	close  func() // ends the stream from the client's side
	events chan sse.Event
	ended  chan struct{} // closed when the stream ends
	err    error         // why it ended; read after ended is closed
}

// connect opens the stream of in, sending lastID as Last-Event-ID unless
// it is empty.
func connect(t testing.TB, in *instance, name, lastID string) *client {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := in.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("%s: status %s", name, resp.Status)
	}
	c := &client{name: name, events: make(chan sse.Event, 1<<14), ended: make(chan struct{})}
	go func() {
		defer close(c.ended)
		dec := sse.NewDecoder(resp.Body)
		for {
			ev, err := dec.Next()
			if err != nil {
				c.err = err
				return
			}
			c.events <- ev
		}
	}()
	c.close = func() {
		resp.Body.Close()
		<-c.ended
	}
	t.Cleanup(c.close)
	return c
}

// next returns the client's next event, failing the test if none comes
// within 10 seconds or the stream ends.
func (c *client) next(t testing.TB) sse.Event {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event within 10s", c.name)
	case <-c.ended:
		select {
		case ev := <-c.events:
			return ev
		default:
		}
		t.Fatalf("%s: stream ended: %v", c.name, c.err)
	}
	return sse.Event{}
}

// take returns the client's next n events.
func (c *client) take(t testing.TB, n int) []sse.Event {
	t.Helper()
	evs := make([]sse.Event, n)
	for i := range evs {
		evs[i] = c.next(t)
	}
	return evs
}

// quiet fails the test if the client has received an event that was not
// taken, after waiting d.
func (c *client) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	select {
	case ev := <-c.events:
		t.Errorf("%s: unexpected event %+v", c.name, ev)
	default:
	}
}

// open fails the test if the client's stream has ended.
func (c *client) open(t testing.TB) {
	t.Helper()
	select {
	case <-c.ended:
		t.Errorf("%s: stream ended: %v", c.name, c.err)
	default:
	}
}

// describe formats events for failure messages.
func describe(evs []sse.Event) string {
	s := ""
	for _, ev := range evs {
		s += fmt.Sprintf("\n  id=%s type=%s data=%q", ev.ID, ev.Type, ev.Data)
	}
	return s
}
