package sse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// hubStaller holds a hub's fan-out goroutine, as a fan-out that cannot keep
// up does, without holding any lock of the hub's: it is the hub's logger,
// and it blocks the warning the fan-out logs when it hands out a gap until
// it is let go on.
type hubStaller struct {
	held chan struct{} // a value each time the fan-out is held
	next chan struct{} // a value lets the fan-out go on to the next gap
	free chan struct{} // closed by release: the fan-out is held no more
	once sync.Once
}

func newHubStaller() *hubStaller {
	return &hubStaller{held: make(chan struct{}, 16), next: make(chan struct{}), free: make(chan struct{})}
}

func (s *hubStaller) Enabled(context.Context, slog.Level) bool { return true }
func (s *hubStaller) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *hubStaller) WithGroup(string) slog.Handler            { return s }

func (s *hubStaller) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "lost events") {
		s.held <- struct{}{}
		select {
		case <-s.next:
		case <-s.free:
		}
	}
	return nil
}

// release lets the fan-out go on, and never holds it again.
func (s *hubStaller) release() { s.once.Do(func() { close(s.free) }) }

// pass lets the held fan-out go on to the next gap, and waits until it is
// held there.
func (s *hubStaller) pass(t *testing.T) {
	t.Helper()
	s.next <- struct{}{}
	s.awaitHeld(t)
}

func (s *hubStaller) awaitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-s.held:
	case <-time.After(hubWait):
		t.Fatalf("the fan-out did not reach the gap within %v", hubWait)
	}
}

// hold makes the fan-out of hub, made with the staller as its logger, stop
// at the next message: a gap, whose warning blocks. It returns once the
// fan-out is held.
func (s *hubStaller) hold(t *testing.T, hub *Hub) {
	t.Helper()
	t.Cleanup(s.release)
	hubDeliverGap(hub)
	s.awaitHeld(t)
}

// hubDeliverGap queues a gap for the fan-out of hub, delivered as the
// in-memory log delivers (under its lock).
func hubDeliverGap(hub *Hub) {
	l := hub.backend.(*memLog)
	l.mu.Lock()
	hub.deliver(Message{Gap: true})
	l.mu.Unlock()
}

// hubFill publishes events with IDs and data "<prefix>0", "<prefix>1", ...
// to topic until the held fan-out's queue is full, and returns their IDs.
func hubFill(t *testing.T, hub *Hub, prefix, topic string) []string {
	t.Helper()
	return hubFillTo(t, hub, prefix, topic, cap(hub.fan))
}

// hubFillTo is hubFill up to n messages in the queue.
func hubFillTo(t *testing.T, hub *Hub, prefix, topic string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; len(hub.fan) < n; i++ {
		id := prefix + fmt.Sprint(i)
		if err := hub.Publish(context.Background(), Event{ID: id, Data: id}, topic); err != nil {
			t.Fatalf("Publish %s while the queue has room: %v", id, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// hubAwaitBlockedPublishers waits until n goroutines are blocked inside
// Hub.Publish (on a channel, a select or a lock), as publishers waiting
// for a fan-out that is behind are.
func hubAwaitBlockedPublishers(t *testing.T, n int) {
	t.Helper()
	hubWaitUntil(t, fmt.Sprintf("%d publishers waiting", n), func() bool {
		blocked := 0
		for _, stack := range leaktest.Stacks() {
			header, _, _ := strings.Cut(stack, "\n")
			if strings.Contains(stack, ".(*Hub).Publish(") &&
				!strings.Contains(header, "[running]") && !strings.Contains(header, "[runnable]") {
				blocked++
			}
		}
		return blocked == n
	})
}

// hubLogged returns the data of the events in the hub's in-memory log after
// the one with ID after.
func hubLogged(t *testing.T, hub *Hub, after string) []string {
	t.Helper()
	var got []string
	err := hub.backend.Replay(context.Background(), after, func(msg Message) error {
		got = append(got, msg.Event.Data)
		return nil
	})
	if err != nil {
		t.Fatalf("replay of the log after %s: %v", after, err)
	}
	return got
}

// hubPublishAsync publishes ev on a goroutine of its own; the channel gets
// Publish's error.
func hubPublishAsync(ctx context.Context, hub *Hub, ev Event, topics ...string) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- hub.Publish(ctx, ev, topics...) }()
	return errc
}

// hubAwaitErr waits for the error of a publish started by hubPublishAsync.
func hubAwaitErr(t *testing.T, what string, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(hubWait):
		t.Fatalf("%s: Publish did not return within %v", what, hubWait)
		return nil
	}
}

// While the fan-out is behind, a publisher waits for it, but only as long as
// its context lets it: it then gets the context's error and its event is
// neither in the log nor delivered. Meanwhile it holds up no one: another
// publisher, to another topic, waits with a context of its own, and a
// reconnecting client gets its replay.
func TestHubPublishWaitHonoursContext(t *testing.T) {
	tests := []struct {
		name string
		// ctx returns the waiting publisher's context, and a function that
		// ends it once the publisher is waiting (nil if it ends by itself).
		ctx  func(t *testing.T) (context.Context, func())
		want error
	}{
		{"canceled", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			t.Cleanup(cancel)
			return ctx, nil
		}, context.DeadlineExceeded},
		{"canceled with a cause", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			t.Cleanup(func() { cancel(nil) })
			return ctx, func() { cancel(errors.New("the caller gave up")) }
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			staller := newHubStaller()
			hub := newTestHub(t, WithLogger(slog.New(staller)), WithQueueSize(4*fanQueue))
			srv := startHubServer(t, hub, nil)
			live := hubGet(t, srv, "", "t")
			hubWaitSubscribers(t, hub, 1)
			staller.hold(t, hub)
			ids := hubFill(t, hub, "f", "t")

			ctx, end := tt.ctx(t)
			late := hubPublishAsync(ctx, hub, Event{ID: "late", Data: "late"}, "t")
			other, cancelOther := context.WithCancel(context.Background())
			defer cancelOther()
			otherLate := hubPublishAsync(other, hub, Event{ID: "other", Data: "other"}, "u")
			if end != nil {
				hubAwaitBlockedPublishers(t, 2)
				// A client reconnecting now gets its replay: the waiting
				// publishers hold no lock the replay needs.
				from := len(ids) - 100
				resumed := hubGet(t, srv, ids[from], "t")
				var got []string
				for range ids[from+1:] {
					got = append(got, resumed.next(t, "replay while publishers wait").Data)
				}
				if !slices.Equal(got, ids[from+1:]) {
					t.Errorf("replay after %s while publishers wait: got %q, want %q", ids[from], got, ids[from+1:])
				}
				resumed.stop()
				end()
			}
			if err := hubAwaitErr(t, "the publisher whose context ended", late); !errors.Is(err, tt.want) {
				t.Errorf("Publish whose context ended while the fan-out was behind = %v, want %v", err, tt.want)
			}
			// The other waiting publisher is still waiting, and ends with its
			// own context.
			select {
			case err := <-otherLate:
				t.Fatalf("Publish to another topic returned %v while the fan-out was still held, want it to wait", err)
			default:
			}
			cancelOther()
			if err := hubAwaitErr(t, "the publisher to another topic", otherLate); !errors.Is(err, context.Canceled) {
				t.Errorf("Publish to another topic, canceled while waiting = %v, want context.Canceled", err)
			}

			staller.release()
			hubPublish(t, hub, Event{ID: "after", Data: "after"}, "t")
			got := live.until(t, "after")
			if len(got) == 0 || got[0].Type != ResetEvent {
				t.Fatalf("the live client got %q first, want the reset of the gap that held the fan-out", hubSummary(got[:min(1, len(got))]))
			}
			if got := hubSummaryData(got[1:]); !slices.Equal(got, ids) {
				t.Errorf("the live client got %d events before \"after\" (%q...), want the %d accepted ones, without \"late\"",
					len(got), got[max(0, len(got)-2):], len(ids))
			}
			if got, want := hubLogged(t, hub, ids[len(ids)-1]), []string{"after"}; !slices.Equal(got, want) {
				t.Errorf("the log after the last accepted event holds %q, want %q: a publish that returned an error is not in it", got, want)
			}
		})
	}
}

// A publisher whose context has ended publishes nothing, even when the
// fan-out has room.
func TestHubPublishEndedContext(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	hubPublish(t, hub, Event{ID: "first", Data: "first"}, "t")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hub.Publish(ctx, Event{Data: "late"}, "t"); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context = %v, want context.Canceled", err)
	}
	if got := hubLogged(t, hub, "first"); len(got) != 0 {
		t.Errorf("the log holds %q after a publish with a canceled context, want nothing", got)
	}
}

// Publishers that wait for a fan-out that is behind publish, in order and
// each event once, when it catches up: no waiting publisher is forgotten.
func TestHubPublishWaitsForFanOut(t *testing.T) {
	const publishers, each = 4, 50
	leaktest.Check(t)
	staller := newHubStaller()
	hub := newTestHub(t, WithLogger(slog.New(staller)), WithQueueSize(4*fanQueue))
	live := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1)
	staller.hold(t, hub)
	ids := hubFill(t, hub, "f", "t")

	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range each {
				id := fmt.Sprintf("p%d-%d", p, i)
				if err := hub.Publish(context.Background(), Event{ID: id, Data: id}, "t"); err != nil {
					errs <- fmt.Errorf("Publish %s: %w", id, err)
					return
				}
			}
			errs <- nil
		}()
	}
	hubAwaitBlockedPublishers(t, publishers)
	staller.release()
	for range publishers {
		if err := hubAwaitErr(t, "a waiting publisher", errs); err != nil {
			t.Error(err)
		}
	}
	hubPublish(t, hub, Event{Data: "end"}, "t")
	got := live.until(t, "end")
	if len(got) == 0 || got[0].Type != ResetEvent {
		t.Fatalf("the live client got %q first, want the reset of the gap", hubSummary(got[:min(1, len(got))]))
	}
	got = got[1:]
	if !slices.Equal(hubSummaryData(got[:min(len(ids), len(got))]), ids) {
		t.Fatalf("the live client did not get the %d events that filled the queue first", len(ids))
	}
	next := make([]int, publishers)
	for _, ev := range got[len(ids):] {
		var p, i int
		if _, err := fmt.Sscanf(ev.Data, "p%d-%d", &p, &i); err != nil || p >= publishers || i != next[p] {
			t.Fatalf("the live client got %q, want the events of each publisher once and in order (next %v)", ev.Data, next)
		}
		next[p]++
	}
	for p, n := range next {
		if n != each {
			t.Errorf("publisher %d: the client got %d of its %d events", p, n, each)
		}
	}
}

// A publish still waiting for the fan-out when the hub shuts down was not
// published: it returns ErrHubClosed and its event is not in the log.
func TestHubPublishWaitingAtShutdown(t *testing.T) {
	const waiting = 3
	leaktest.Check(t)
	staller := newHubStaller()
	hub := newTestHub(t, WithLogger(slog.New(staller)))
	staller.hold(t, hub)
	ids := hubFill(t, hub, "f", "t")
	var errcs []<-chan error
	for i := range waiting {
		errcs = append(errcs, hubPublishAsync(context.Background(), hub, Event{Data: fmt.Sprint("late", i)}, "t"))
	}
	hubAwaitBlockedPublishers(t, waiting)

	shutdown := make(chan error, 1)
	go func() { shutdown <- hub.Shutdown(context.Background()) }()
	for i, errc := range errcs {
		if err := hubAwaitErr(t, "a publisher waiting at Shutdown", errc); !errors.Is(err, ErrHubClosed) {
			t.Errorf("publisher %d, waiting when the hub shut down: Publish = %v, want ErrHubClosed", i, err)
		}
	}
	staller.release()
	select {
	case err := <-shutdown:
		if err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	case <-time.After(hubWait):
		t.Fatalf("Shutdown did not return within %v of the fan-out's release", hubWait)
	}
	if got := hubLogged(t, hub, ids[len(ids)-1]); len(got) != 0 {
		t.Errorf("the log holds %q after the accepted events, want nothing: the publishes that failed are not in it", got)
	}
}

// Publishers that keep the fan-out busy do not take the room of one that
// waits: when the fan-out makes room, the waiting publisher gets its share
// however fast the others publish.
func TestHubPublishWaitingPublisherKeepsItsRoom(t *testing.T) {
	const others = 4
	leaktest.Check(t)
	staller := newHubStaller()
	hub := newTestHub(t, WithLogger(slog.New(staller)))
	staller.hold(t, hub)
	hubFillTo(t, hub, "f", "t", cap(hub.fan)-1)
	hubDeliverGap(hub) // the queue is full; the fan-out is held again at its end
	first := hubPublishAsync(context.Background(), hub, Event{Data: "first"}, "t")
	hubAwaitBlockedPublishers(t, 1)

	// The others publish as fast as they can; each waits for room too.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // before wg.Wait
	for range others {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := hub.Publish(ctx, Event{Data: "other"}, "t"); err != nil && ctx.Err() == nil {
					t.Errorf("Publish of another publisher: %v", err)
				}
			}
		})
	}
	hubAwaitBlockedPublishers(t, 1+others)
	// The fan-out takes the whole queue, which makes room for as many
	// events, and is held at the gap at its end: no room comes after that.
	staller.pass(t)
	if err := hubAwaitErr(t, "the publisher that waited first, once the fan-out made room", first); err != nil {
		t.Errorf("Publish of the publisher that waited first = %v", err)
	}
}

// TestHubStatsFanOutLag checks that Stats counts the events that wait for
// a held fan-out, and none once it has caught up.
func TestHubStatsFanOutLag(t *testing.T) {
	staller := newHubStaller()
	hub := newTestHub(t, WithLogger(slog.New(staller)))
	staller.hold(t, hub)
	ids := hubFillTo(t, hub, "e", "t", 10)
	if lag := hub.Stats().FanOutLag; lag < len(ids) {
		t.Errorf("FanOutLag %d with %d events waiting for the held fan-out", lag, len(ids))
	}
	staller.release()
	hubSettle(t, hub)
	if lag := hub.Stats().FanOutLag; lag != 0 {
		t.Errorf("FanOutLag %d once the fan-out caught up, want 0", lag)
	}
}
