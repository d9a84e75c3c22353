package sseredis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
)

// Three servers on one Redis, three clients each, every server publishing
// at the same time: every client receives every event of its topic once,
// in one order, with the same IDs, and nothing of another topic.
func TestEveryClientOnEveryInstanceGetsEveryEventOnce(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	const instances, clientsEach, perPublisher = 3, 3, 20

	var ins []*instance
	var clients []*client
	for i := range instances {
		in := newInstance(t, rs.url())
		ins = append(ins, in)
		for j := range clientsEach {
			clients = append(clients, connect(t, in, fmt.Sprintf("instance %d client %d", i, j), ""))
		}
		in.waitSubscribers(t, clientsEach)
	}

	var wg sync.WaitGroup
	errs := make(chan error, instances*perPublisher*2)
	for i, in := range ins {
		wg.Go(func() {
			ctx := context.Background()
			for n := range perPublisher {
				if err := in.hub.Publish(ctx, sse.Event{Data: fmt.Sprintf("%d-%d", i, n)}, testTopic); err != nil {
					errs <- err
				}
				// Another topic, for nobody here.
				if err := in.hub.Publish(ctx, sse.Event{Data: "elsewhere"}, "sport"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Publish: %v", err)
	}

	want := clients[0].Take(t, instances*perPublisher)
	// The first client's sequence: every event once, each publisher's in
	// the order it published them, IDs that are stream IDs and increase.
	next := make([]int, instances)
	for k, ev := range want {
		var i, n int
		if _, err := fmt.Sscanf(ev.Data, "%d-%d", &i, &n); err != nil || i >= instances || n != next[i] {
			t.Fatalf("event %d is %q, want the next of some publisher (next: %v):%s", k, ev.Data, next, describe(want))
		}
		next[i]++
		if !validID(ev.ID) || ev.Type != "message" {
			t.Errorf("event %d: id %q type %q, want a stream ID and message", k, ev.ID, ev.Type)
		}
		if k > 0 && !idLess(want[k-1].ID, ev.ID) {
			t.Errorf("event %d: id %s does not follow %s", k, ev.ID, want[k-1].ID)
		}
	}
	for _, c := range clients[1:] {
		got := c.Take(t, len(want))
		if !slices.EqualFunc(got, want, sameEvent) {
			t.Errorf("%s received%s\nwant (as %s)%s", c.Name, describe(got), clients[0].Name, describe(want))
		}
	}
	time.Sleep(100 * time.Millisecond)
	for _, c := range clients {
		c.Quiet(t, 0)
		c.Open(t)
	}
}

func sameEvent(a, b sse.Event) bool { return a.ID == b.ID && a.Type == b.Type && a.Data == b.Data }

// idLess reports whether stream ID a comes before b.
func idLess(a, b string) bool {
	var am, as, bm, bs uint64
	fmt.Sscanf(a, "%d-%d", &am, &as)
	fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || am == bm && as < bs
}

// What a client receives on one server is what was published on another,
// field for field.
func TestEventFieldsCrossInstances(t *testing.T) {
	rs := startRedis(t, persistent...)
	a, b := newInstance(t, rs.url()), newInstance(t, rs.url())
	c := connect(t, b, "client", "")
	b.waitSubscribers(t, 1)

	events := []sse.Event{
		{Data: "plain"},
		{Type: "order", JSON: map[string]any{"id": 7, "items": []string{"a", "b"}}},
		{Type: "lines", Data: "one\ntwo\r\nthree\rfour\n"},
		{Bytes: []byte(": looks like a comment, with \x00 and ünïcödé")},
		{Data: "slow down", Retry: 2500 * time.Millisecond},
	}
	want := []sse.Event{
		{Type: "message", Data: "plain"},
		{Type: "order", Data: `{"id":7,"items":["a","b"]}`},
		{Type: "lines", Data: "one\ntwo\nthree\nfour\n"},
		{Type: "message", Data: ": looks like a comment, with \x00 and ünïcödé"},
		{Type: "message", Data: "slow down"},
	}
	ctx := context.Background()
	for _, ev := range events {
		if err := a.hub.Publish(ctx, ev, testTopic); err != nil {
			t.Fatalf("Publish(%+v): %v", ev, err)
		}
	}
	got := c.Take(t, len(want))
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Data != want[i].Data || !validID(got[i].ID) {
			t.Errorf("event %d: got type %q data %q id %q, want type %q data %q and a stream ID",
				i, got[i].Type, got[i].Data, got[i].ID, want[i].Type, want[i].Data)
		}
	}
}
