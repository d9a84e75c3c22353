package sseredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
)

// publisher publishes events "0", "1", ... to testTopic in turn on each
// instance, one at a time, with a context long enough to span an outage.
type publisher struct {
	total   int
	faultAt int           // signals fault after publishing this many
	fault   chan struct{} // closed when faultAt events are published
	done    chan struct{}

	// Read after done is closed:
	errs    []error
	longest time.Duration // the longest Publish call
}

func startPublisher(ins []*instance, total, faultAt int, every time.Duration) *publisher {
	p := &publisher{total: total, faultAt: faultAt, fault: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := range total {
			if i == faultAt {
				close(p.fault)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			start := time.Now()
			err := ins[i%len(ins)].hub.Publish(ctx, sse.Event{Data: strconv.Itoa(i)}, testTopic)
			p.longest = max(p.longest, time.Since(start))
			cancel()
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("event %d: %w", i, err))
			}
			time.Sleep(every)
		}
	}()
	return p
}

func (p *publisher) wait(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("publisher still running after 30s")
	}
	for _, err := range p.errs {
		t.Errorf("Publish: %v", err)
	}
}

// checkAllOnce checks that every client received events "0" to
// "total-1" once each, in order, with the same IDs everywhere and no
// reset, and that every stream is still open.
func checkAllOnce(t *testing.T, clients []*client, total int) {
	t.Helper()
	var want []sse.Event
	for _, c := range clients {
		got := c.Take(t, total)
		for i, ev := range got {
			if ev.Data != strconv.Itoa(i) || ev.Type != "message" {
				t.Fatalf("%s: event %d is %s %q, want message %q; all:%s", c.Name, i, ev.Type, ev.Data, strconv.Itoa(i), describe(got))
			}
		}
		if want == nil {
			want = got
		} else if !slices.EqualFunc(got, want, sameEvent) {
			t.Errorf("%s received%s\nwant (as %s)%s", c.Name, describe(got), clients[0].Name, describe(want))
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range clients {
		c.Quiet(t, 0)
		c.Open(t)
	}
}

func twoInstancesTwoClients(t *testing.T, url string) ([]*instance, []*client) {
	t.Helper()
	ins := []*instance{newInstance(t, url), newInstance(t, url)}
	var clients []*client
	for i, in := range ins {
		for j := range 2 {
			clients = append(clients, connect(t, in, fmt.Sprintf("instance %d client %d", i, j), ""))
		}
		in.waitSubscribers(t, 2)
	}
	return ins, clients
}

// Redis crashes (SIGKILL) and restarts with its data while events are
// published: the publishers wait, the clients' streams stay open, and
// every client gets every event once, in order.
func TestRedisRestartLosesNothing(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	ins, clients := twoInstancesTwoClients(t, rs.url())

	const total = 120
	p := startPublisher(ins, total, 40, 2*time.Millisecond)
	<-p.fault
	rs.kill()
	time.Sleep(300 * time.Millisecond)
	rs.start()
	p.wait(t)
	if p.longest < 200*time.Millisecond {
		t.Errorf("the longest Publish took %v: the outage did not happen during a publish", p.longest)
	}
	checkAllOnce(t, clients, total)
}

// Connections to Redis are cut, three times, while events are published:
// the backends reconnect, and every client gets every event once, in
// order, on the stream it opened.
func TestConnectionDropsLoseNothing(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	px := newProxy(t, rs.addr())
	ins, clients := twoInstancesTwoClients(t, px.url())

	const total = 150
	p := startPublisher(ins, total, 30, 2*time.Millisecond)
	<-p.fault
	for range 3 {
		px.cut()
		time.Sleep(80 * time.Millisecond)
	}
	px.setDown(true) // a longer outage: connections refused
	time.Sleep(300 * time.Millisecond)
	px.setDown(false)
	p.wait(t)
	checkAllOnce(t, clients, total)
}

// Redis crashes and restarts without its data while events are
// published: each client receives the events from before the crash, one
// sse-reset, and the events from after it; whatever it misses is missed
// where the reset is.
func TestRedisDataLossSendsReset(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, volatile...)
	ins, clients := twoInstancesTwoClients(t, rs.url())

	const total = 120
	p := startPublisher(ins, total, 40, 2*time.Millisecond)
	<-p.fault
	rs.kill()
	time.Sleep(300 * time.Millisecond)
	rs.start()
	p.wait(t)

	for _, c := range clients {
		var before, after []int
		resets := 0
		for {
			ev := c.Next(t)
			if ev.Type == sse.ResetEvent {
				resets++
				continue
			}
			n, err := strconv.Atoi(ev.Data)
			if err != nil {
				t.Fatalf("%s: unexpected event %+v", c.Name, ev)
			}
			if resets == 0 {
				before = append(before, n)
			} else {
				after = append(after, n)
			}
			if n == total-1 {
				break
			}
		}
		// Before the reset: 0, 1, ... with no hole; after it: ...,
		// total-1 with no hole. A hole may only be where the reset is (an
		// event in flight at the crash may also come twice, around it).
		if resets != 1 || !run(before, 0) || len(after) == 0 || !run(after, after[0]) {
			t.Errorf("%s: received %v, %d reset(s), %v; want 0..k, one reset, m..%d", c.Name, before, resets, after, total-1)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range clients {
		c.Quiet(t, 0)
		c.Open(t)
	}
}

// run reports whether ns is from, from+1, ... without a gap.
func run(ns []int, from int) bool {
	for i, n := range ns {
		if n != from+i {
			return false
		}
	}
	return true
}

// While Redis is down, a publish fails once its context ends: the
// publisher knows, and the event is never delivered. Open streams stay
// open and receive what is published once Redis is back.
func TestPublishFailsWhileRedisIsDown(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url())
	c := connect(t, in, "client", "")
	in.waitSubscribers(t, 1)

	rs.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := in.hub.Publish(ctx, sse.Event{Data: "lost"}, testTopic)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish while Redis is down = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Publish returned after %v, want about its context's 300ms", d)
	}

	rs.start()
	in.publish(t, "after")
	if ev := c.Next(t); ev.Data != "after" {
		t.Errorf("first event after the outage: %+v, want data %q", ev, "after")
	}
	c.Open(t)
}
