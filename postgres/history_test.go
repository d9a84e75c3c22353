package ssepg

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// waitUnknown waits until the backend no longer holds the ID.
func waitUnknown(t testing.TB, b *Backend, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := b.Replay(context.Background(), id, func(sse.Message) error { return nil })
		if errors.Is(err, sse.ErrUnknownID) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history still holds %q after 10s", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The history keeps about WithMaxLen events: older ones are deleted, and
// a client resuming from one of them gets a reset event, while one
// resuming from a recent event gets what followed it.
func TestHistoryMaxLen(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	in := newInstance(t, pg.url(), table, WithMaxLen(5))
	live := in.connect(t, "live", "")
	backendtest.WaitSubscribers(t, in.hub, 1)
	const total = trimEvery + 6
	for i := range total {
		in.publish(t, strconv.Itoa(i))
	}
	got := live.Take(t, total)
	waitUnknown(t, in.b, got[0].ID)
	if n := len(committed(t, in.pool, table)); n < 5 || n > 5+trimEvery {
		t.Errorf("the table holds %d events, want 5 to %d", n, 5+trimEvery)
	}

	old := in.connect(t, "resuming from the first event", got[0].ID)
	if ev := old.Next(t); ev.Type != sse.ResetEvent {
		t.Errorf("%s: first event %+v, want a reset", old.Name, ev)
	}
	recent := in.connect(t, "resuming from the last event but one", got[total-2].ID)
	if ev := recent.Next(t); ev.Data != strconv.Itoa(total-1) {
		t.Errorf("%s: first event %+v, want the last event", recent.Name, ev)
	}
}

// The history keeps events for WithMaxAge: an older one is deleted (at
// the next poll, even if nothing is published), and a client resuming
// from it gets a reset event; the newest event stays, however old, and a
// client resuming from it gets no reset.
func TestHistoryMaxAge(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t), WithMaxAge(time.Second), WithPoll(20*time.Millisecond))
	live := in.connect(t, "live", "")
	backendtest.WaitSubscribers(t, in.hub, 1)
	in.publish(t, "old")
	in.publish(t, "newest")
	got := live.Take(t, 2)
	start := time.Now()
	waitUnknown(t, in.b, got[0].ID)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the event was deleted after %v, want about 1s", d)
	}
	c := in.connect(t, "resuming from the old event", got[0].ID)
	if ev := c.Next(t); ev.Type != sse.ResetEvent {
		t.Errorf("%s: first event %+v, want a reset", c.Name, ev)
	}
	// The newest event is older than the bound by now, and stays.
	var replayed []sse.Message
	err := in.b.Replay(context.Background(), got[1].ID, func(m sse.Message) error {
		replayed = append(replayed, m)
		return nil
	})
	if err != nil || len(replayed) != 0 {
		t.Errorf("replay after the newest event: %v, %+v; want nothing, without error", err, replayed)
	}
	// Connected before the next event, which makes the newest one old
	// enough to go.
	recent := in.connect(t, "resuming from the newest event", got[1].ID)
	backendtest.WaitSubscribers(t, in.hub, 3)
	in.publish(t, "after")
	if ev := recent.Next(t); ev.Data != "after" {
		t.Errorf("%s: first event %+v, want the one published after it", recent.Name, ev)
	}
}

// Positions have holes (a transaction that failed at commit, numbers a
// sequence skips when the server restarts): a listener that has read
// everything does not take one for lost events, even once every event
// but the newest is past the age bound.
func TestPositionHoleIsNoGap(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	in := newInstance(t, pg.url(), table, WithMaxAge(time.Millisecond), WithPoll(10*time.Millisecond))
	live := in.connect(t, "live", "")
	backendtest.WaitSubscribers(t, in.hub, 1)
	in.publish(t, "a")
	in.publish(t, "b")
	got := live.Take(t, 2)
	waitUnknown(t, in.b, got[0].ID) // trimmed by age: b is old too by now
	if _, err := in.pool.Exec(context.Background(), "SELECT nextval('"+table+"_pos') FROM generate_series(1, 40)"); err != nil {
		t.Fatal(err)
	}
	in.publish(t, "c")
	if ev := live.Next(t); ev.Data != "c" {
		t.Errorf("after a hole in the positions: %+v, want c and no reset", ev)
	}
}
