package ssepg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// publisher publishes events "0", "1", ... to testTopic in turn on each
// instance, one at a time, until stop is closed and at least min have
// been attempted, each with a context long enough to span an outage.
type publisher struct {
	attempted atomic.Int64
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}

	// Read after done is closed:
	ok     map[string]bool  // the events whose Publish returned nil
	failed map[string]error // the others, with Publish's error
}

func startPublisher(t testing.TB, ins []*instance, min int) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{}), ok: map[string]bool{}, failed: map[string]error{}}
	t.Cleanup(func() { // after a failure: the events attempted suffice
		p.stopOnce.Do(func() { close(p.stop) })
		<-p.done
	})
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				if i >= min || t.Failed() {
					return
				}
			default:
			}
			data := strconv.Itoa(i)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := ins[i%len(ins)].hub.Publish(ctx, sse.Event{Data: data}, testTopic)
			cancel()
			if err != nil {
				p.failed[data] = err
			} else {
				p.ok[data] = true
			}
			p.attempted.Add(1)
		}
	}()
	return p
}

// waitFor waits until at least n events have been attempted.
func (p *publisher) waitFor(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.attempted.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the publisher attempted %d events in 30s, want %d", p.attempted.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (p *publisher) finish(t testing.TB) {
	t.Helper()
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("publisher still running 60s after it was stopped")
	}
}

// publishEnd publishes the event "end", trying again while the outcome is
// unknown (a connection of the pool that died with the server): an "end"
// published twice is harmless, clients read up to the first.
func publishEnd(t testing.TB, in *instance) {
	t.Helper()
	var err error
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = in.hub.Publish(ctx, sse.Event{Data: "end"}, testTopic)
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("publish end: %v", err)
}

// checkExactlyOnce checks that every client received the events the
// table holds up to the first "end", once each, in position order (so all
// in the same order), with the same IDs; that every event whose Publish
// returned nil is among them, and none whose Publish said it was not
// published (rather than ErrPublishUnknown); and that every stream is
// still open.
func checkExactlyOnce(t *testing.T, in *instance, table string, p *publisher, clients []*backendtest.Client) {
	t.Helper()
	want := committed(t, in.pool, table)
	want = want[:slices.Index(want, "end")+1]
	for data := range p.ok {
		if !slices.Contains(want, data) {
			t.Errorf("event %s: Publish returned nil, but the table does not hold it", data)
		}
	}
	for data, err := range p.failed {
		if !errors.Is(err, ErrPublishUnknown) && slices.Contains(want, data) {
			t.Errorf("event %s: Publish returned %q, but the table holds it", data, err)
		}
	}
	var first []sse.Event
	for _, c := range clients {
		var got []sse.Event
		for {
			ev := c.Next(t)
			got = append(got, ev)
			if ev.Data == "end" {
				break
			}
		}
		if dataOf(got) != dataOf(eventsOf(want)) {
			t.Errorf("%s received:\n%s\nwant every committed event once, in position order:\n%s", c.Name, dataOf(got), dataOf(eventsOf(want)))
		}
		if first == nil {
			first = got
		} else if !slices.EqualFunc(got, first, func(a, b sse.Event) bool { return a.ID == b.ID && a.Data == b.Data }) {
			t.Errorf("%s received%s\nwant the same as %s%s", c.Name, describe(got), clients[0].Name, describe(first))
		}
		c.Open(t)
	}
}

func twoInstancesTwoClients(t *testing.T, url, table string, opts ...Option) ([]*instance, []*backendtest.Client) {
	t.Helper()
	ins := []*instance{newInstance(t, url, table, opts...), newInstance(t, url, table, opts...)}
	var clients []*backendtest.Client
	for i, in := range ins {
		for j := range 2 {
			clients = append(clients, in.connect(t, fmt.Sprintf("instance %d client %d", i, j), ""))
		}
		backendtest.WaitSubscribers(t, in.hub, 2)
	}
	return ins, clients
}

// The server crashes (immediate shutdown) and restarts while events are
// published: the listeners reconnect and read on from where they were,
// and every client gets every committed event once, in order, on the
// stream it opened, those committed before the listeners were back
// included.
func TestServerRestartLosesNothing(t *testing.T) {
	leaktest.Check(t)
	pg := startPostgres(t)
	table := newTable(t)
	// The listeners wait at least 150ms between attempts to reconnect:
	// the events published right after the restart come before they are
	// back.
	ins, clients := twoInstancesTwoClients(t, pg.url(), table, WithBackoff(300*time.Millisecond, 500*time.Millisecond))

	p := startPublisher(t, ins, 120)
	p.waitFor(t, 40)
	pg.crash()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	direct := newPool(t, pg.url())
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := ins[0].b.PublishTx(ctx, direct, sse.Event{Data: fmt.Sprint("right after the restart ", i)}, testTopic)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	p.waitFor(t, p.attempted.Load()+20) // events published after the restart
	p.finish(t)
	for data, err := range p.failed {
		t.Logf("during the restart, event %s: %v", data, err) // checked below
	}
	publishEnd(t, ins[0])
	checkExactlyOnce(t, ins[0], table, p, clients)
}

// The listeners' connections are killed by the server
// (pg_terminate_backend), three times, while events are published: the
// listeners reconnect, and every client gets every event once, in order,
// on the stream it opened.
func TestListenerKilledLosesNothing(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	ins, clients := twoInstancesTwoClients(t, pg.url(), table)
	ctx := context.Background()

	p := startPublisher(t, ins, 150)
	for round := range 3 {
		p.waitFor(t, int64(30*(round+1)))
		var killed []int32
		err := ins[0].pool.QueryRow(ctx, `WITH l AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE application_name = $1)
			SELECT coalesce(array_agg(pid), '{}') FROM l WHERE pg_terminate_backend(pid)`, listenerName).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if len(killed) != 2 {
			t.Fatalf("round %d: killed %d listener connections, want 2", round, len(killed))
		}
		waitListeners(t, ins[0], killed)
	}
	p.finish(t)
	for data, err := range p.failed {
		t.Errorf("event %s: %v", data, err) // the pools' connections were not touched
	}
	publishEnd(t, ins[0])
	checkExactlyOnce(t, ins[0], table, p, clients)
}

// waitListeners waits until as many listener connections as were killed
// are open again, and those killed are gone.
func waitListeners(t testing.TB, in *instance, killed []int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var open, dying int
		err := in.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pid <> ALL($2)), count(*) FILTER (WHERE pid = ANY($2))
			FROM pg_stat_activity WHERE application_name = $1`, listenerName, killed).Scan(&open, &dying)
		if err != nil {
			t.Fatal(err)
		}
		if open == len(killed) && dying == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d new listener connections and %d killed ones after 10s, want %d and 0", open, dying, len(killed))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A listener that is held up for longer than the history lasts (here its
// hub does not take what it delivers) finds, when it reads on, that events
// it had not read were deleted: it delivers a gap, then the events the
// table still holds, so that its clients get a reset where the events were
// lost.
func TestListenerBehindHistoryDeliversGap(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	ctx := context.Background()
	writer := newInstance(t, pg.url(), table, WithMaxLen(5))
	b, err := New(ctx, newPool(t, pg.url()), WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	var mu sync.Mutex
	var got []sse.Message
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	err = b.Listen(func(m sse.Message) {
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		once.Do(func() {
			close(held)
			<-release
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	writer.publish(t, "first")
	<-held
	for i := range 100 {
		writer.publish(t, strconv.Itoa(i))
	}
	// Wait until the writer's listener has trimmed the history past the
	// events the held listener has not read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var oldest string
		if err := writer.pool.QueryRow(ctx, "SELECT data FROM "+table+" ORDER BY pos LIMIT 1").Scan(&oldest); err != nil {
			t.Fatal(err)
		}
		if n, err := strconv.Atoi(oldest); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history still starts with %q after 10s", oldest)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	deadline = time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := len(got) > 0 && got[len(got)-1].Event.Data == "99"
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held listener did not deliver the last event within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 || got[0].Event.Data != "first" || !got[1].Gap || got[2].Gap {
		t.Fatalf("delivered %+v; want first, a gap, then the events left", got)
	}
	from, _ := strconv.Atoi(got[2].Event.Data)
	for i, m := range got[2:] {
		if m.Event.Data != strconv.Itoa(from+i) {
			t.Fatalf("after the gap, delivered %q at %d, want %d: the events left, in order", m.Event.Data, i, from+i)
		}
	}
}
