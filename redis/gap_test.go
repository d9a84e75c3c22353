package sseredis

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
)

// While one server is cut off from Redis, another publishes; when the
// connection comes back, the first server's clients receive what Redis
// still holds, after an sse-reset if Redis lost some of it.
func TestListenerAfterOutage(t *testing.T) {
	tests := []struct {
		name    string
		empty   bool // nothing published before the outage
		publish int
		maxLen  int64
		flush   bool // Redis loses its data during the outage
		reset   bool
		after   int // events received after the reset (or in all)
	}{
		{name: "nothing lost", publish: 5, after: 5},
		{name: "trimmed past the listener", publish: 300, maxLen: 10, reset: true, after: -1},
		{name: "data lost", publish: 5, flush: true, reset: true, after: 0},
		{name: "nothing lost, nothing read before", empty: true, publish: 5, after: 5},
		{name: "data lost, nothing read before", empty: true, publish: 5, flush: true, reset: true, after: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			rs := startRedis(t, persistent...)
			px := newProxy(t, rs.addr())
			cutOff := newInstance(t, px.url())
			other := newInstance(t, rs.url(), WithMaxLen(tt.maxLen))
			c := connect(t, cutOff, "client", "")
			cutOff.waitSubscribers(t, 1)
			if !tt.empty {
				other.publish(t, "before")
				if ev := c.Next(t); ev.Data != "before" {
					t.Fatalf("first event %+v", ev)
				}
			}

			px.setDown(true)
			for i := range tt.publish {
				other.publish(t, strconv.Itoa(i))
			}
			if tt.flush {
				directClient(t, rs.addr()).FlushAll(context.Background())
			}
			px.setDown(false)
			other.publish(t, "live")

			var got []string
			resets := 0
			for {
				ev := c.Next(t)
				if ev.Type == sse.ResetEvent {
					resets++
					got = nil
					continue
				}
				if ev.Data == "live" {
					break
				}
				got = append(got, ev.Data)
			}
			if resets != map[bool]int{false: 0, true: 1}[tt.reset] {
				t.Errorf("%d reset events, want reset=%v", resets, tt.reset)
			}
			// The events after the reset (or all) are the newest ones, in
			// order, ending with the last published.
			n := len(got)
			if tt.after >= 0 && n != tt.after || tt.after < 0 && (n == 0 || n >= tt.publish) {
				t.Errorf("received %d events before the live one, want %d (-1: some, not all): %v", n, tt.after, got)
			}
			for i, d := range got {
				if d != strconv.Itoa(tt.publish-n+i) {
					t.Fatalf("received %v, want the last %d of 0..%d in order", got, n, tt.publish-1)
				}
			}
			c.Quiet(t, 50*time.Millisecond)
			c.Open(t)
		})
	}
}

// Entries that are not events (written by something else) are skipped,
// logged and counted, by the listener and by a replay, and the events
// around them arrive: a foreign entry never ends a replay. An entry that
// decodes but whose event cannot be encoded (data that is not UTF-8) is
// skipped by the hub.
func TestForeignEntriesAreSkipped(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url())
	c := connect(t, in, "client", "")
	in.waitSubscribers(t, 1)
	direct := directClient(t, rs.addr())
	ctx := context.Background()

	in.publish(t, "one")
	first := c.Next(t)
	foreign := [][]any{
		{"hello", "world"},      // no topics
		{fieldTopics, "9:news"}, // bad topic list
		{fieldTopics, "4:news", fieldRetry, "soon"},
	}
	for i, values := range foreign {
		if err := direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
		in.publish(t, "valid"+strconv.Itoa(i))
	}
	direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, Values: []any{fieldToken, "x", fieldTopics, "4:news", fieldData, "\xff"}})
	in.publish(t, "two")
	want := []string{"valid0", "valid1", "valid2", "two"}
	for _, w := range want {
		if ev := c.Next(t); ev.Data != w {
			t.Errorf("live, after the foreign entries: %+v, want %q", ev, w)
		}
	}
	replay := connect(t, in, "replay", first.ID)
	for _, w := range want {
		if ev := replay.Next(t); ev.Data != w {
			t.Errorf("replay across the foreign entries: %+v, want %q", ev, w)
		}
	}
	in.publish(t, "three")
	for _, cl := range []*client{c, replay} {
		if ev := cl.Next(t); ev.Data != "three" {
			t.Errorf("%s: %+v, want the live %q once", cl.Name, ev, "three")
		}
		cl.Quiet(t, 50*time.Millisecond)
		cl.Open(t)
	}
	if n := in.backend.Skipped(); n != 2*uint64(len(foreign)) {
		t.Errorf("Skipped() = %d, want %d: each foreign entry once live, once in the replay", n, 2*len(foreign))
	}
	if n := in.hub.Stats().Skipped; n != 2 {
		t.Errorf("hub Stats().Skipped = %d, want 2 (the entry that is not UTF-8, live and replayed)", n)
	}
}

// Every message, delivered or replayed, has the entry ID as its Pos, and
// as its ID when the publisher chose none.
func TestMessagePos(t *testing.T) {
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url())
	c := connect(t, in, "client", "")
	in.waitSubscribers(t, 1)
	in.publish(t, "a")
	in.publish(t, "b")
	c.Take(t, 2)
	entries, err := directClient(t, rs.addr()).XRange(context.Background(), DefaultKey, "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("XRANGE: %v, %d entries", err, len(entries))
	}
	var got []sse.Message
	err = in.backend.Replay(context.Background(), entries[0].ID, func(m sse.Message) error {
		got = append(got, m)
		return nil
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("Replay: %v, %d messages", err, len(got))
	}
	if got[0].Pos != entries[1].ID || got[0].ID != entries[1].ID {
		t.Errorf("replayed Pos %q ID %q, want both %q", got[0].Pos, got[0].ID, entries[1].ID)
	}

	b, err := Open(context.Background(), rs.url(), fastRetry...)
	if err != nil {
		t.Fatal(err)
	}
	delivered := make(chan sse.Message, 1)
	if err := b.Listen(func(m sse.Message) { delivered <- m }); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in.publish(t, "c")
	m := <-delivered
	last, err := directClient(t, rs.addr()).XRevRangeN(context.Background(), DefaultKey, "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("XREVRANGE: %v", err)
	}
	if m.Pos != last[0].ID || m.ID != last[0].ID || m.Event.Data != "c" {
		t.Errorf("delivered %+v, want Pos and ID %q", m, last[0].ID)
	}
}

// go-redis retries a read that failed with a broken connection over a new
// one, without telling: if Redis lost its data meanwhile (here: a flush,
// then the connection is cut while the listener waits), the clients still
// get an sse-reset before the next events.
func TestListenerNoticesSilentReconnect(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	px := newProxy(t, rs.addr())
	cutOff := newInstance(t, px.url(), WithBlock(time.Minute))
	other := newInstance(t, rs.url())
	c := connect(t, cutOff, "client", "")
	cutOff.waitSubscribers(t, 1)
	other.publish(t, "before")
	if ev := c.Next(t); ev.Data != "before" {
		t.Fatalf("first event %+v", ev)
	}
	time.Sleep(50 * time.Millisecond) // the listener waits in XREAD again

	directClient(t, rs.addr()).FlushAll(context.Background())
	px.cut()
	time.Sleep(100 * time.Millisecond) // go-redis has read again, over a new connection
	other.publish(t, "after")
	if ev := c.Next(t); ev.Type != sse.ResetEvent {
		t.Errorf("after the loss: %+v, want %s first", ev, sse.ResetEvent)
	}
	if ev := c.Next(t); ev.Data != "after" {
		t.Errorf("then %+v, want the event published after the loss", ev)
	}
	c.Quiet(t, 50*time.Millisecond)
	c.Open(t)
}

// After a flush, Redis gives new entries IDs from its clock again, which
// may be at or below the last one the listener read (here: an explicit
// lower ID, as a Redis whose clock is behind would give). The clients get
// a reset, then every entry added since, none skipped.
func TestListenerAfterFlushWithLowerIDs(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url())
	c := connect(t, in, "client", "")
	in.waitSubscribers(t, 1)
	in.publish(t, "before")
	if ev := c.Next(t); ev.Data != "before" {
		t.Fatalf("first event %+v", ev)
	}
	ctx := context.Background()
	direct := directClient(t, rs.addr())
	if err := direct.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, ID: "1-1",
		Values: []any{fieldToken, "x", fieldTopics, "4:news", fieldData, "low"}}).Err(); err != nil {
		t.Fatal(err)
	}
	in.publish(t, "after")
	if ev := c.Next(t); ev.Type != sse.ResetEvent {
		t.Errorf("after the flush: %+v, want %s first", ev, sse.ResetEvent)
	}
	for _, w := range []string{"low", "after"} {
		if ev := c.Next(t); ev.Type != "message" || ev.Data != w {
			t.Errorf("got %s %q, want message %q", ev.Type, ev.Data, w)
		}
	}
	c.Quiet(t, 50*time.Millisecond)
	c.Open(t)
}

// Redis loses its data while servers listen and another publishes
// without pause (a flush, or a restart without persistence): the clients
// get one reset, and after it every event the stream holds, in order,
// each once, though many share the millisecond of the last event read
// before the loss.
func TestListenerLosesDataWhilePublishing(t *testing.T) {
	for _, how := range []string{"flush", "restart"} {
		t.Run(how, func(t *testing.T) {
			leaktest.Check(t)
			rs := startRedis(t, volatile...)
			listening := newInstance(t, rs.url())
			pub := newInstance(t, rs.url(), WithMaxLen(0), WithMaxAge(0))
			c := connect(t, listening, "client", "")
			listening.waitSubscribers(t, 1)

			const total, lossAt = 3000, 1000
			p := startPublisher([]*instance{pub}, total, lossAt, 0)
			<-p.fault
			if how == "flush" {
				directClient(t, rs.addr()).FlushAll(context.Background())
			} else {
				rs.restart()
			}
			p.wait(t)
			pub.publish(t, "live")

			entries, err := directClient(t, rs.addr()).XRange(context.Background(), DefaultKey, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			var kept []string // what the stream holds: added since the loss
			for _, e := range entries {
				kept = append(kept, e.Values[fieldData].(string))
			}
			var before, after []string
			resets := 0
			for {
				ev := c.Next(t)
				if ev.Type == sse.ResetEvent {
					resets++
					continue
				}
				if resets == 0 {
					before = append(before, ev.Data)
				} else {
					after = append(after, ev.Data)
				}
				if ev.Data == "live" {
					break
				}
			}
			if resets != 1 {
				t.Errorf("%d reset events, want 1", resets)
			}
			for i, d := range before {
				if d != strconv.Itoa(i) {
					t.Fatalf("before the reset: event %d is %q, want events 0, 1, ... in order", i, d)
				}
			}
			if !slices.Equal(after, kept) {
				t.Errorf("after the reset: %d events, want the %d the stream holds (first %v, want first %v)",
					len(after), len(kept), after[:min(3, len(after))], kept[:min(3, len(kept))])
			}
			c.Quiet(t, 50*time.Millisecond)
			c.Open(t)
		})
	}
}

// A failover to a replica that was behind keeps the epoch marker (it was
// replicated long before) but loses the newest entries, and the replica's
// clock may be behind the old primary's: entries added after the failover
// can get IDs below the last one the listener delivered. The clients get
// a reset, then every entry added since the failover, none skipped, and
// nothing delivered before is sent twice.
func TestListenerAfterFailoverToOlderData(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	px := newProxy(t, rs.addr())
	in := newInstance(t, px.url(), WithBlock(time.Minute))
	other := newInstance(t, rs.url())
	c := connect(t, in, "client", "")
	in.waitSubscribers(t, 1)
	for _, d := range []string{"one", "two", "three"} {
		other.publish(t, d)
		ev := c.Next(t)
		if ev.Data != d {
			t.Fatalf("got %+v, want %q", ev, d)
		}
		if d == "one" {
			// "two" gets a later millisecond, so that an ID fits between
			// the two: in the same one, "two" could take the very ID the
			// test gives the entry added after the failover.
			ms, _, _ := strings.Cut(ev.ID, "-")
			oneMs, err := strconv.ParseInt(ms, 10, 64)
			if err != nil {
				t.Fatalf("ID of %q: %q, want a stream entry ID", d, ev.ID)
			}
			for time.Now().UnixMilli() <= oneMs {
				runtime.Gosched()
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the listener waits in XREAD again

	// The replica holds "one" only; its stream's last ID is that entry's.
	ctx := context.Background()
	direct := directClient(t, rs.addr())
	entries, err := direct.XRange(ctx, DefaultKey, "-", "+").Result()
	if err != nil || len(entries) != 3 {
		t.Fatalf("XRANGE = %v, %v; want 3 entries", entries, err)
	}
	ms, seq, _ := strings.Cut(entries[0].ID, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	between := ms + "-" + strconv.FormatUint(n+1, 10) // above "one", below "two" and "three"
	if err := direct.Del(ctx, DefaultKey).Err(); err != nil {
		t.Fatal(err)
	}
	if err := direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, ID: entries[0].ID, Values: entries[0].Values}).Err(); err != nil {
		t.Fatal(err)
	}
	// Added after the failover by a server whose clock is behind: an ID
	// between "one" and "two".
	if err := direct.XAdd(ctx, &redis.XAddArgs{Stream: DefaultKey, ID: between,
		Values: []any{fieldToken, "x", fieldTopics, "4:news", fieldData, "low"}}).Err(); err != nil {
		t.Fatal(err)
	}
	px.cut()
	time.Sleep(100 * time.Millisecond) // the listener has read again, over a new connection
	other.publish(t, "after")
	if ev := c.Next(t); ev.Type != sse.ResetEvent {
		t.Errorf("after the failover: %+v, want %s first", ev, sse.ResetEvent)
	}
	for _, w := range []string{"low", "after"} {
		if ev := c.Next(t); ev.Type != "message" || ev.Data != w {
			t.Errorf("got %s %q, want message %q", ev.Type, ev.Data, w)
		}
	}
	c.Quiet(t, 50*time.Millisecond)
	c.Open(t)
}
