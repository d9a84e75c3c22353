// Package backendtest checks that a hub behaves the same whatever its
// [sse.Backend]: the scenarios here run against the in-memory log and
// against every other backend of this module. It is for this module's
// tests only.
package backendtest

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

// topic is the topic the scenarios publish to and stream.
const topic = "t"

// ChosenIDs publishes events with and without IDs chosen by the publisher,
// one chosen ID twice, to hub (which must be new, with a history of at
// least a few events), and checks what every backend must do:
//
//   - a live subscriber receives every event, with the chosen ID where
//     there is one and the backend's otherwise;
//   - a client resuming from any of those IDs receives exactly the events
//     after the newest event that carries it, then the live ones;
//   - a live event whose chosen ID repeats one the replay sent is
//     delivered, not dropped as a duplicate;
//   - a Last-Event-ID the history does not hold gets a reset event.
func ChosenIDs(t *testing.T, hub *sse.Hub) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(topic), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)

	live := open(t, srv, "")
	waitSubscribers(t, hub, 1)
	published := []sse.Event{
		{Data: "a"},
		{ID: "order-7", Data: "b"},
		{ID: "order-7", Data: "c"},
		{Data: "d"},
		{ID: "x", Data: "e"},
	}
	for _, ev := range published {
		publish(t, hub, ev)
	}
	got := live.take(t, len(published))
	for i, ev := range got {
		if ev.Data != published[i].Data {
			t.Fatalf("live event %d: data %q, want %q%s", i, ev.Data, published[i].Data, describe(got))
		}
		if want := published[i].ID; want != "" && ev.ID != want {
			t.Errorf("live event %q: ID %q, want the chosen %q", ev.Data, ev.ID, want)
		}
	}
	a, d := got[0].ID, got[3].ID
	if a == "" || d == "" || a == d || slices.Contains([]string{"order-7", "x"}, a) || slices.Contains([]string{"order-7", "x"}, d) {
		t.Fatalf("the backend's IDs for events without one: %q and %q, want two distinct new ones", a, d)
	}

	// Every resuming client is connected before the live event below, so
	// that each receives its replay and then that event.
	cases := []struct {
		lastID string
		want   []string // data of the replayed events; nil with reset
		reset  bool
	}{
		{lastID: a, want: []string{"b", "c", "d", "e"}},
		{lastID: "order-7", want: []string{"d", "e"}}, // after the newer of the two
		{lastID: d, want: []string{"e"}},
		{lastID: "x", want: []string{}},
		{lastID: "never-published", reset: true},
	}
	clients := make([]*client, len(cases))
	for i, c := range cases {
		clients[i] = open(t, srv, c.lastID)
		if c.reset {
			if ev := clients[i].next(t); ev.Type != sse.ResetEvent {
				t.Errorf("resume from %q: first event %+v, want a %s event", c.lastID, ev, sse.ResetEvent)
			}
			continue
		}
		replay := clients[i].take(t, len(c.want))
		var data []string
		for _, ev := range replay {
			data = append(data, ev.Data)
		}
		if !slices.Equal(data, c.want) {
			t.Errorf("resume from %q: replay %q, want %q", c.lastID, data, c.want)
		}
	}
	waitSubscribers(t, hub, 1+len(cases))
	publish(t, hub, sse.Event{ID: "order-7", Data: "live"})
	for i, c := range append([]*client{live}, clients...) {
		ev := c.next(t)
		if ev.Data != "live" || ev.ID != "order-7" {
			name := "the live client"
			if i > 0 {
				name = fmt.Sprintf("the client resuming from %q", cases[i-1].lastID)
			}
			t.Errorf("%s: next event %+v, want the live one with ID order-7 (and nothing before it)", name, ev)
		}
	}
}

func publish(t *testing.T, hub *sse.Hub, ev sse.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.Publish(ctx, ev, topic); err != nil {
		t.Fatalf("Publish(%+v): %v", ev, err)
	}
}

func waitSubscribers(t *testing.T, hub *sse.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().Subscribers != n {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d subscribers after 5s, want %d", hub.Stats().Subscribers, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// client reads one event stream.
type client struct {
	lastID string
	events chan sse.Event
	ended  chan struct{}
	err    error // why the stream ended; read after ended is closed
}

// open connects to srv, sending lastID as Last-Event-ID unless it is
// empty. The stream is closed when the test ends.
func open(t *testing.T, srv *httptest.Server, lastID string) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("connect with Last-Event-ID %q: %v", lastID, err)
	}
	c := &client{lastID: lastID, events: make(chan sse.Event, 64), ended: make(chan struct{})}
	go func() {
		defer close(c.ended)
		defer resp.Body.Close()
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
	t.Cleanup(func() {
		cancel()
		<-c.ended
	})
	return c
}

func (c *client) next(t *testing.T) sse.Event {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-c.ended:
		select {
		case ev := <-c.events:
			return ev
		default:
		}
		t.Fatalf("stream with Last-Event-ID %q ended: %v", c.lastID, c.err)
	case <-time.After(10 * time.Second):
		t.Fatalf("stream with Last-Event-ID %q: no event within 10s", c.lastID)
	}
	return sse.Event{}
}

func (c *client) take(t *testing.T, n int) []sse.Event {
	t.Helper()
	evs := make([]sse.Event, n)
	for i := range evs {
		evs[i] = c.next(t)
	}
	return evs
}

func describe(evs []sse.Event) string {
	s := ""
	for _, ev := range evs {
		s += fmt.Sprintf("\n  id=%q data=%q", ev.ID, ev.Data)
	}
	return s
}
