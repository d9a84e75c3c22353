package peers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// waitFor bounds every wait of these tests, so that a library that hangs
// fails the test instead of the test run.
const waitFor = 5 * time.Second

// client is one browser-like reader of an event stream.
type client struct {
	cancel context.CancelFunc
	done   chan []sse.Event
	got    atomic.Int64 // events dispatched so far
}

// connect opens an event stream at url, sending lastID as Last-Event-ID
// when it is not empty, and decodes it with [sse.NewDecoder] until the
// stream ends, until stop reports true for the events so far, or until
// the test ends. Each event has the ID a browser reports with it (its
// lastEventId): the last event ID in force when it fired, which the
// Decoder keeps, not only the event's own.
func connect(t *testing.T, url, lastID string, stop func([]sse.Event) bool) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{cancel: cancel, done: make(chan []sse.Event, 1)}
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(waitFor):
			t.Error("client did not end")
		}
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	go func() {
		var events []sse.Event
		defer func() { c.done <- events }()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("GET %s: %v", url, err)
			}
			return
		}
		defer res.Body.Close()
		d := sse.NewDecoder(res.Body)
		for stop == nil || !stop(events) {
			ev, err := d.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					t.Errorf("reading %s: %v", url, err)
				}
				return
			}
			ev.ID, ev.ClearID = d.LastEventID(), false
			events = append(events, ev)
			c.got.Add(1)
		}
	}()
	return c
}

// wait returns the events the client read once it has stopped.
func (c *client) wait(t *testing.T) []sse.Event {
	t.Helper()
	select {
	case events := <-c.done:
		c.done <- events // for the cleanup
		return events
	case <-time.After(waitFor):
		t.Fatal("client still reading after", waitFor)
		return nil
	}
}

// serve starts a test server on a loopback port for h, closed (its
// connections first) when the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

// datas returns the data of each event.
func datas(events []sse.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Data
	}
	return out
}

// until returns a stop function for connect that stops after the event
// whose data is data.
func until(data string) func([]sse.Event) bool {
	return func(events []sse.Event) bool {
		return len(events) > 0 && events[len(events)-1].Data == data
	}
}

// recv waits for a value on c.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(waitFor):
		t.Fatalf("no %s within %v", what, waitFor)
		var zero T
		return zero
	}
}

// show renders events for a failure message.
func show(events []sse.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = "id=" + ev.ID + " type=" + ev.Type + " data=" + ev.Data
	}
	return out
}
