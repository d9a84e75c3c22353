package backendtest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// A Client reads one event stream for a test, as EventSource would, but
// without reconnecting: a stream that ends stays ended. Its events are
// buffered, so that a test can publish first and read after.
type Client struct {
	Name   string
	stop   func() // ends the stream from the client's side and waits
	events chan sse.Event
	ended  chan struct{} // closed when the stream ends
	err    error         // why it ended; read after ended is closed
}

// Connect opens the event stream at url through hc, sending lastID as
// Last-Event-ID unless it is empty, and fails the test unless the answer
// is 200. name says which stream a failure is about. The stream is closed
// when the test ends, or by Close.
func Connect(t testing.TB, hc *http.Client, url, name, lastID string) *Client {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("%s: status %s", name, resp.Status)
	}
	c := &Client{Name: name, events: make(chan sse.Event, 1<<14), ended: make(chan struct{})}
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
	c.stop = func() {
		resp.Body.Close()
		<-c.ended
	}
	t.Cleanup(c.stop)
	return c
}

// Close ends the stream from the client's side and waits until its reader
// has stopped.
func (c *Client) Close() { c.stop() }

// Next returns the client's next event, failing the test if none comes
// within 10 seconds or the stream ends.
func (c *Client) Next(t testing.TB) sse.Event {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event within 10s", c.Name)
	case <-c.ended:
		select {
		case ev := <-c.events:
			return ev
		default:
		}
		t.Fatalf("%s: stream ended: %v", c.Name, c.err)
	}
	return sse.Event{}
}

// Take returns the client's next n events.
func (c *Client) Take(t testing.TB, n int) []sse.Event {
	t.Helper()
	evs := make([]sse.Event, n)
	for i := range evs {
		evs[i] = c.Next(t)
	}
	return evs
}

// Quiet fails the test if the client has received an event that was not
// taken, after waiting d.
func (c *Client) Quiet(t testing.TB, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	select {
	case ev := <-c.events:
		t.Errorf("%s: unexpected event %+v", c.Name, ev)
	default:
	}
}

// Open fails the test if the client's stream has ended.
func (c *Client) Open(t testing.TB) {
	t.Helper()
	select {
	case <-c.ended:
		t.Errorf("%s: stream ended: %v", c.Name, c.err)
	default:
	}
}

// WaitSubscribers waits until hub has n subscribers, failing the test
// after 5 seconds.
func WaitSubscribers(t testing.TB, hub *sse.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().Subscribers != n {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d subscribers after 5s, want %d", hub.Stats().Subscribers, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Describe formats events for failure messages.
func Describe(evs []sse.Event) string {
	s := ""
	for _, ev := range evs {
		s += fmt.Sprintf("\n  id=%s type=%s data=%q", ev.ID, ev.Type, ev.Data)
	}
	return s
}
