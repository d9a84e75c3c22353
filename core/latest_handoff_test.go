package sse

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/eventwire/sse/internal/leaktest"
)

// What a client that subscribes to a hub keeping its topics' latest events
// receives first: the newest event of each key, in publish order, and
// instead of a reset when its Last-Event-ID cannot be replayed.
func TestHubLatestHandoff(t *testing.T) {
	tests := []struct {
		name   string
		opts   []HubOption
		topics []string // of the client
		lastID string
		want   []string // before the live marker
	}{
		{"new client", []HubOption{WithLatest()}, []string{"a"},
			"", []string{"mem=2", "cpu=3", "message=m"}},
		{"new client of two topics", []HubOption{WithLatest()}, []string{"a", "b"},
			"", []string{"cpu=b1", "mem=2", "cpu=3", "message=m"}},
		{"named topic only", []HubOption{WithLatest("b")}, []string{"a", "b"},
			"", []string{"cpu=b1"}},
		{"topic not kept", []HubOption{WithLatest("b")}, []string{"a"},
			"", nil},
		{"not kept by default", nil, []string{"a", "b"},
			"", nil},
		{"unknown ID", []HubOption{WithLatest()}, []string{"a"},
			"nope", []string{"mem=2", "cpu=3", "message=m"}},
		{"unknown ID, history off", []HubOption{WithLatest(), WithHistory(HistoryLimits{})}, []string{"a"},
			"a3", []string{"mem=2", "cpu=3", "message=m"}},
		{"unknown ID, a topic not kept", []HubOption{WithLatest("b")}, []string{"a", "b"},
			"nope", []string{ResetEvent + "=", "cpu=b1"}},
		{"known ID replays", []HubOption{WithLatest()}, []string{"a"},
			"a3", []string{"cpu=3", "message=m"}},
		{"live values", []HubOption{WithLiveValues()}, []string{"a"},
			"a3", []string{"mem=2", "cpu=3", "message=m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			hub := newTestHub(t, tt.opts...)
			srv := startHubServer(t, hub, nil)
			for _, p := range []struct {
				id, typ, data, topic string
			}{
				{"a1", "cpu", "1", "a"},
				{"b1", "cpu", "b1", "b"},
				{"a2", "mem", "2", "a"},
				{"a3", "cpu", "2", "a"},
				{"a4", "cpu", "3", "a"},
				{"a5", "", "m", "a"},
			} {
				hubPublish(t, hub, Event{ID: p.id, Type: p.typ, Data: p.data}, p.topic)
			}
			c := hubGet(t, srv, tt.lastID, tt.topics...)
			hubWaitSubscribers(t, hub, 1)
			hubPublish(t, hub, Event{Type: "live", Data: "marker"}, tt.topics[0])
			got := c.until(t, "marker")
			for i := range got {
				if got[i].Type == ResetEvent {
					got[i].Data = ""
				}
			}
			if !slices.Equal(hubTypedSummary(got), tt.want) {
				t.Errorf("client got %q before the live event, want %q", hubTypedSummary(got), tt.want)
			}
		})
	}
}

// Clients that subscribe while values are published get each key's values
// in order, without a repeat or a gap from their first one, and end with
// the last: the latest events handed over and the live ones meet exactly.
func TestHubLatestHandoffWhilePublishing(t *testing.T) {
	const clients = 8
	leaktest.Check(t)
	hub := newTestHub(t, WithLatest(), WithQueueSize(1<<16))
	srv := startHubServer(t, hub, nil)
	var last atomic.Int64 // the last value published
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := hub.Publish(context.Background(), Event{Type: "k", Data: strconv.Itoa(i)}, "t"); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			last.Store(int64(i))
		}
	}()
	readers := make([]*hubReader, clients)
	for i := range readers {
		before := last.Load()
		hubWaitUntil(t, "publishing goes on", func() bool { return last.Load() > before+10 })
		readers[i] = hubGet(t, srv, "", "t")
		hubWaitSubscribers(t, hub, i+1)
	}
	close(stop)
	<-done
	n := int(last.Load())
	for i, c := range readers {
		prev := -1
		for prev < n {
			ev := c.next(t, "value")
			v, err := strconv.Atoi(ev.Data)
			if err != nil || ev.Type != "k" {
				t.Fatalf("client %d got %q=%q", i, ev.Type, ev.Data)
			}
			if prev >= 0 && v != prev+1 {
				t.Fatalf("client %d got %d after %d: a repeat or a gap", i, v, prev)
			}
			prev = v
		}
	}
}
