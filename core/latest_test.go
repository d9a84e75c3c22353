package sse

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// hubTypedSummary writes events as "type=data".
func hubTypedSummary(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Type+"="+ev.Data)
	}
	return out
}

// Under KeepLatest a client stuck in a write gets, once it reads again,
// the newest value of each key in publish order, not a backlog; the
// replaced events are counted and reported as drops.
func TestHubKeepLatest(t *testing.T) {
	leaktest.Check(t)
	var dropped atomic.Int64
	hub := newTestHub(t, WithSlowPolicy(KeepLatest), WithHooks(Hooks{
		Drop: func(_ *Stream, _ []string, n int) { dropped.Add(int64(n)) },
	}))
	s := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1)

	s.sink.gate.hold()
	hubPublish(t, hub, Event{Type: "cpu", Data: "0"}, "t")
	s.sink.gate.awaitWaiting(t)
	for i := 1; i <= 100; i++ {
		hubPublish(t, hub, Event{Type: "cpu", Data: strconv.Itoa(i)}, "t")
		hubPublish(t, hub, Event{Type: "mem", Data: strconv.Itoa(i)}, "t")
	}
	hubPublish(t, hub, Event{Type: "cpu", Data: "101"}, "t")
	if got := hub.Stats().QueueDepth; got != 2 {
		t.Errorf("QueueDepth = %d, want 2: one event for each key", got)
	}
	s.sink.gate.release(nil)

	var got []Event
	for range 3 {
		got = append(got, s.next(t, "event"))
	}
	want := []string{"cpu=0", "mem=100", "cpu=101"} // publish order of the newest
	if !slices.Equal(hubTypedSummary(got), want) {
		t.Errorf("client got %q, want %q", hubTypedSummary(got), want)
	}
	hubPublish(t, hub, Event{Type: "mem", Data: "live"}, "t")
	if ev := s.next(t, "live event"); ev.Data != "live" {
		t.Errorf("after catching up the client got %q, want %q", ev.Data, "live")
	}
	if st := hub.Stats(); st.Dropped != 199 || st.Subscribers != 1 || st.DroppedClients != 0 {
		t.Errorf("Stats = %+v, want 199 replaced events counted as Dropped and the client kept", st)
	}
	hubWaitUntil(t, "the drop hook reports the replaced events", func() bool { return dropped.Load() == 199 })
}

// The default key is the event's type and its topics: a client of two
// topics keeps the newest cpu value of each. A key function can make
// events of one type distinct, and an empty key is never replaced.
func TestHubKeepLatestKeys(t *testing.T) {
	tests := []struct {
		name    string
		opts    []HubOption
		publish []Message // Topics and Event only
		want    []string
	}{
		{
			name: "type and topics",
			publish: []Message{
				{Topics: []string{"a"}, Event: Event{Type: "cpu", Data: "a1"}},
				{Topics: []string{"b"}, Event: Event{Type: "cpu", Data: "b1"}},
				{Topics: []string{"a"}, Event: Event{Type: "cpu", Data: "a2"}},
				{Topics: []string{"a"}, Event: Event{Data: "m1"}},
				{Topics: []string{"a"}, Event: Event{Data: "m2"}},
			},
			want: []string{"cpu=b1", "cpu=a2", "message=m2"},
		},
		{
			name: "key function",
			opts: []HubOption{WithLatestKey(func(m Message) string {
				if m.Event.Type == "alert" {
					return "" // every alert is delivered
				}
				host, _, _ := strings.Cut(m.Event.Data, ":")
				return host
			})},
			publish: []Message{
				{Topics: []string{"a"}, Event: Event{Type: "cpu", Data: "h1:1"}},
				{Topics: []string{"a"}, Event: Event{Type: "alert", Data: "x"}},
				{Topics: []string{"a"}, Event: Event{Type: "cpu", Data: "h2:1"}},
				{Topics: []string{"a"}, Event: Event{Type: "mem", Data: "h1:2"}},
				{Topics: []string{"a"}, Event: Event{Type: "alert", Data: "y"}},
			},
			want: []string{"alert=x", "cpu=h2:1", "mem=h1:2", "alert=y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			hub := newTestHub(t, append(tt.opts, WithSlowPolicy(KeepLatest))...)
			s := runHub(t, hub.StreamFunc("a", "b"))
			hubWaitSubscribers(t, hub, 1)
			s.sink.gate.hold()
			hubPublish(t, hub, Event{Data: "first"}, "a")
			s.sink.gate.awaitWaiting(t)
			for _, m := range tt.publish {
				hubPublish(t, hub, m.Event, m.Topics...)
			}
			s.sink.gate.release(nil)
			if ev := s.next(t, "first"); ev.Data != "first" {
				t.Fatalf("first event %q, want %q", ev.Data, "first")
			}
			var got []Event
			for range tt.want {
				got = append(got, s.next(t, "queued event"))
			}
			if !slices.Equal(hubTypedSummary(got), tt.want) {
				t.Errorf("client got %q, want %q", hubTypedSummary(got), tt.want)
			}
		})
	}
}

// The queue bounds the keys waiting under KeepLatest: past it, the oldest
// key's event goes, as under DropOldest.
func TestHubKeepLatestBounded(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithSlowPolicy(KeepLatest), WithQueueSize(3))
	s := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1)
	s.sink.gate.hold()
	hubPublish(t, hub, Event{Type: "first"}, "t")
	s.sink.gate.awaitWaiting(t)
	for round := range 50 { // many replacements: the queue's holes are reclaimed
		for _, k := range []string{"a", "b", "c"} {
			hubPublish(t, hub, Event{Type: k, Data: strconv.Itoa(round)}, "t")
		}
	}
	hubPublish(t, hub, Event{Type: "d", Data: "new"}, "t") // pushes out a
	hubPublish(t, hub, Event{Type: "b", Data: "last"}, "t")
	if got := hub.Stats().QueueDepth; got != 3 {
		t.Errorf("QueueDepth = %d, want the queue size 3", got)
	}
	capacity := 0
	hub.mu.RLock()
	for sub := range hub.all {
		sub.mu.Lock()
		capacity = cap(sub.queue)
		sub.mu.Unlock()
	}
	hub.mu.RUnlock()
	if capacity > 8 {
		t.Errorf("queue capacity %d after 150 replacements, want it bounded by twice the queue size", capacity)
	}
	s.sink.gate.release(nil)
	var got []Event
	for range 4 {
		got = append(got, s.next(t, "event"))
	}
	if want := []string{"first=", "c=49", "d=new", "b=last"}; !slices.Equal(hubTypedSummary(got), want) {
		t.Errorf("client got %q, want %q", hubTypedSummary(got), want)
	}
}

// A client that stops reading under DropOldest or KeepLatest is dropped by
// the write timeout, not by its queue; Stats counts it.
func TestHubStatsCountsWriteTimeouts(t *testing.T) {
	for name, policy := range map[string]SlowPolicy{"DropOldest": DropOldest, "KeepLatest": KeepLatest} {
		t.Run(name, func(t *testing.T) {
			leaktest.Check(t)
			hub := newTestHub(t, WithSlowPolicy(policy))
			h := Handler(hub.StreamFunc("t"), WithWriteTimeout(200*time.Millisecond), WithHeartbeat(0))
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.Listener = hubSmallBufferListener{srv.Listener}
			srv.Start()
			t.Cleanup(srv.Close)
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conn.(*net.TCPConn).SetReadBuffer(4 << 10)
			t.Cleanup(func() { conn.Close() })
			if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			hubWaitSubscribers(t, hub, 1)
			hubPublish(t, hub, Event{Data: strings.Repeat("x", 4<<20)}, "t") // never read
			hubWaitUntil(t, "the client that never reads is dropped and counted", func() bool {
				st := hub.Stats()
				return st.Subscribers == 0 && st.DroppedClients == 1
			})
			if st := hub.Stats(); st.SlowDisconnects != 0 {
				t.Errorf("SlowDisconnects = %d, want 0: the write timeout dropped it", st.SlowDisconnects)
			}
		})
	}
}

// A client that leaves is not a dropped client.
func TestHubStatsClientLeavesIsNotDropped(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: "1"}, "t")
	c.next(t, "event")
	c.stop()
	hubWaitSubscribers(t, hub, 0)
	if st := hub.Stats(); st.DroppedClients != 0 {
		t.Errorf("DroppedClients = %d after a client left, want 0", st.DroppedClients)
	}
}
