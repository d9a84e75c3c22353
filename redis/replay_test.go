package sseredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
)

// A client that read some events from one server and reconnects to
// another with its Last-Event-ID receives exactly the events after it,
// then the live ones.
func TestReplayOnAnotherInstance(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	a, b := newInstance(t, rs.url()), newInstance(t, rs.url())
	first := connect(t, a, "first connection, to A", "")
	a.waitSubscribers(t, 1)
	for i := range 10 {
		a.publish(t, strconv.Itoa(i))
	}
	all := first.Take(t, 10)
	first.Close()
	seen, rest := all[:4], all[4:] // the client stopped reading after 4
	a.waitSubscribers(t, 0)

	again := connect(t, b, "reconnection, to B", seen[3].ID)
	got := again.Take(t, 6)
	if !slices.EqualFunc(got, rest, sameEvent) {
		t.Errorf("replay after %s:%s\nwant%s", seen[3].ID, describe(got), describe(rest))
	}
	b.waitSubscribers(t, 1)
	a.publish(t, "live")
	if ev := again.Next(t); ev.Data != "live" {
		t.Errorf("after the replay: %+v, want the live event", ev)
	}
	again.Quiet(t, 50*time.Millisecond)
}

// A Last-Event-ID the stream does not hold gets an sse-reset event, then
// the live events.
func TestReplayUnknownIDSendsReset(t *testing.T) {
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url(), WithMaxLen(10))
	direct := directClient(t, rs.addr())
	ctx := context.Background()
	in.publish(t, "first")
	trimmed := direct.XRangeN(ctx, DefaultKey, "-", "+", 1).Val()[0].ID
	for i := range 300 {
		in.publish(t, strconv.Itoa(i))
	}
	if n := direct.XRangeN(ctx, DefaultKey, trimmed, trimmed, 1).Val(); len(n) != 0 {
		t.Fatalf("the first entry is still there after 300 more with MaxLen 10")
	}
	// The listener delivers after Publish returns: wait until the hub has
	// every event, so that none arrives late at the clients below.
	deadline := time.Now().Add(10 * time.Second)
	for in.hub.Stats().Published < 301 {
		if time.Now().After(deadline) {
			t.Fatalf("the hub got %d of 301 events", in.hub.Stats().Published)
		}
		time.Sleep(5 * time.Millisecond)
	}
	newest := direct.XRevRangeN(ctx, DefaultKey, "+", "-", 1).Val()[0].ID
	var ms, seq uint64
	if _, err := fmt.Sscanf(newest, "%d-%d", &ms, &seq); err != nil {
		t.Fatal(err)
	}
	notYet := fmt.Sprintf("%d-%d", ms, seq+1000)

	tests := []struct{ name, lastID string }{
		{"trimmed", trimmed},
		{"never existed", notYet},
		{"not a stream ID", "abc"},
		{"an in-memory hub's ID", "1700000000000000"},
		{"leading zero", "0" + newest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, in, tt.name, tt.lastID)
			if ev := c.Next(t); ev.Type != sse.ResetEvent {
				t.Fatalf("first event %+v, want type %s", ev, sse.ResetEvent)
			}
			in.waitSubscribers(t, 1)
			in.publish(t, "live "+tt.name)
			if ev := c.Next(t); ev.Data != "live "+tt.name {
				t.Errorf("after the reset: %+v, want the live event", ev)
			}
			c.Close()
			in.waitSubscribers(t, 0)
		})
	}
}

// A long history is replayed in pages, all of it, in order.
func TestReplayLongHistory(t *testing.T) {
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url(), WithMaxLen(0))
	const n = 2*replayPage + 3
	for i := range n {
		in.publish(t, strconv.Itoa(i))
	}
	ctx := context.Background()
	first := directClient(t, rs.addr()).XRangeN(ctx, DefaultKey, "-", "+", 1).Val()[0].ID
	c := connect(t, in, "client", first)
	for i := 1; i < n; i++ {
		if ev := c.Next(t); ev.Data != strconv.Itoa(i) {
			t.Fatalf("replayed event %d: %+v", i, ev)
		}
	}
	c.Quiet(t, 50*time.Millisecond)
}

// If the stream is trimmed past a replay while it runs, the replay stops
// with ErrUnknownID (the hub sends a reset) instead of skipping entries.
func TestReplayStopsWhenTrimmedUnderIt(t *testing.T) {
	rs := startRedis(t, persistent...)
	ctx := context.Background()
	b, err := Open(ctx, rs.url(), WithMaxLen(0))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range replayPage + 10 {
		if err := b.Publish(ctx, sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	direct := directClient(t, rs.addr())
	first := direct.XRangeN(ctx, DefaultKey, "-", "+", 1).Val()[0].ID
	calls := 0
	err = b.Replay(ctx, first, func(sse.Message) error {
		if calls++; calls == 1 {
			direct.XTrimMaxLen(ctx, DefaultKey, 1) // exact: everything but the newest
		}
		return nil
	})
	if !errors.Is(err, sse.ErrUnknownID) || calls != replayPage {
		t.Errorf("Replay = %v after %d calls, want ErrUnknownID after the first page (%d)", err, calls, replayPage)
	}

	// And an error of fn stops the replay with that error.
	stop := errors.New("stop")
	calls = 0
	last := direct.XRevRangeN(ctx, DefaultKey, "+", "-", 1).Val()[0].ID
	direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, Values: []any{fieldTopics, "1:x"}})
	direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, Values: []any{fieldTopics, "1:x"}})
	if err := b.Replay(ctx, last, func(sse.Message) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Replay with a failing fn = %v after %d calls, want %v after 1", err, calls, stop)
	}
}
