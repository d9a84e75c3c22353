package sse

import (
	"slices"
	"testing"

	"github.com/eventwire/sse/internal/leaktest"
)

// A client resumes on a hub whose fan-out is behind the client's
// Last-Event-ID: it saw f1 to f5 on another server, and this hub has
// delivered only f1. It gets what came after its ID once, whatever topic
// carries the ID and whether the replay sent anything; the events before
// its ID, which the fan-out delivers late, are not sent again.
func TestHubResumeAheadOfFanOut(t *testing.T) {
	leaktest.Check(t)
	for _, tc := range []struct {
		name   string
		lastID string
		want   []string
	}{
		{"at the log's end", "f5", []string{"f6=6"}},
		{"in the middle", "f3", []string{"f4=4", "f5=5", "f6=6"}},
		{"on another topic", "f2", []string{"f3=3", "f4=4", "f5=5", "f6=6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := newHubFakeBackend(true)
			hub := newTestHub(t, WithBackend(backend))
			srv := startHubServer(t, hub, nil)
			hubPublish(t, hub, Event{Data: "1"}, "t")
			backend.deliverNext(t) // f1: this hub's fan-out has numbered a message
			hubPublish(t, hub, Event{Data: "2"}, "other")
			for _, data := range []string{"3", "4", "5"} {
				hubPublish(t, hub, Event{Data: data}, "t")
			}
			c := hubGet(t, srv, tc.lastID, "t")
			hubWaitSubscribers(t, hub, 1)
			for range 4 { // f2 to f5 reach the fan-out late
				backend.deliverNext(t)
			}
			hubPublish(t, hub, Event{Data: "6"}, "t")
			backend.deliverNext(t)
			var got []Event
			for len(got) == 0 || got[len(got)-1].Data != "6" {
				got = append(got, c.next(t, "events up to 6"))
			}
			if s := hubSummary(got); !slices.Equal(s, tc.want) {
				t.Errorf("resumed after %s: got %q, want %q", tc.lastID, s, tc.want)
			}
		})
	}
}

// A client whose ID the fan-out passed before it joined waits for
// nothing: what is published next reaches it at once.
func TestHubResumeBehindFanOut(t *testing.T) {
	leaktest.Check(t)
	backend := newHubFakeBackend(true)
	hub := newTestHub(t, WithBackend(backend))
	srv := startHubServer(t, hub, nil)
	for _, data := range []string{"1", "2", "3"} {
		hubPublish(t, hub, Event{Data: data}, "t")
		backend.deliverNext(t)
	}
	c := hubGet(t, srv, "f1", "t")
	hubWaitSubscribers(t, hub, 1)
	got := []Event{c.next(t, "replayed f2"), c.next(t, "replayed f3")}
	hubPublish(t, hub, Event{Data: "4"}, "t")
	backend.deliverNext(t)
	got = append(got, c.next(t, "f4"))
	if s, want := hubSummary(got), []string{"f2=2", "f3=3", "f4=4"}; !slices.Equal(s, want) {
		t.Errorf("resumed after f1: got %q, want %q", s, want)
	}
	hub.liveMu.Lock()
	waiting := len(hub.awaiting)
	hub.liveMu.Unlock()
	if waiting != 0 {
		t.Errorf("%d IDs still awaited", waiting)
	}
}

// A wait ends when its subscriber leaves, and at a gap in the log, after
// which the events come through again.
func TestHubResumeWaitEnds(t *testing.T) {
	leaktest.Check(t)
	backend := newHubFakeBackend(true)
	hub := newTestHub(t, WithBackend(backend))
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{Data: "1"}, "t")
	backend.deliverNext(t)
	hubPublish(t, hub, Event{Data: "2"}, "t")
	awaited := func() int {
		hub.liveMu.Lock()
		defer hub.liveMu.Unlock()
		return len(hub.awaiting)
	}

	c := hubGet(t, srv, "f2", "t") // f2 has not reached the fan-out
	hubWaitSubscribers(t, hub, 1)
	if n := awaited(); n != 1 {
		t.Fatalf("%d IDs awaited, want 1", n)
	}
	c.stop()
	hubWaitSubscribers(t, hub, 0)
	if n := awaited(); n != 0 {
		t.Errorf("%d IDs awaited after the subscriber left, want 0", n)
	}

	c = hubGet(t, srv, "f2", "t")
	hubWaitSubscribers(t, hub, 1)
	backend.deliver(Message{Gap: true}) // f2 may never come: the wait ends
	if ev := c.next(t, "reset"); ev.Type != ResetEvent {
		t.Fatalf("got %+v at the gap, want a %s event", ev, ResetEvent)
	}
	if n := awaited(); n != 0 {
		t.Errorf("%d IDs awaited after the gap, want 0", n)
	}
	// What the fan-out delivers after the gap comes through: f2 too,
	// since what came before a gap cannot be told from what was lost.
	backend.deliverNext(t)
	hubPublish(t, hub, Event{Data: "3"}, "t")
	backend.deliverNext(t)
	for {
		if ev := c.next(t, "f3"); ev.Data == "3" {
			break
		}
	}
}
