package sse

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/eventwire/sse/internal/leaktest"
)

// endSummary is hubSummary with the end event's ID, which the log gives,
// left out.
func endSummary(evs []Event) []string {
	out := hubSummary(evs)
	for i, ev := range evs {
		if ev.Type == EndEvent {
			out[i] = EndEvent + "=" + ev.Data
		}
	}
	return out
}

// TestHubEnd checks that End ends the streams of its topics, and only
// those, each after the events published before it and with the reason as
// its last event, and that later subscriptions are not ended.
func TestHubEnd(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	var causes []error
	hub := newTestHub(t, WithHooks(Hooks{Disconnect: func(_ *Stream, _ []string, err error) {
		mu.Lock()
		causes = append(causes, err)
		mu.Unlock()
	}}))
	srv := startHubServer(t, hub, nil)
	ann := hubGet(t, srv, "", "user:ann")
	annNews := hubGet(t, srv, "", "user:ann", "news")
	bob := hubGet(t, srv, "", "user:bob", "news")
	hubWaitSubscribers(t, hub, 3)

	hubPublish(t, hub, Event{ID: "1", Data: "before"}, "user:ann")
	if err := hub.End(context.Background(), "logged out", "user:ann"); err != nil {
		t.Fatal(err)
	}
	hubPublish(t, hub, Event{ID: "3", Data: "after"}, "user:ann", "news")
	for name, c := range map[string]*hubReader{"ann": ann, "ann's news": annNews} {
		evs, err := c.rest(t)
		want := []string{"1=before", EndEvent + "=logged out"}
		if got := endSummary(evs); !slices.Equal(got, want) || err != io.EOF {
			t.Errorf("%s: events %q, end %v; want %q, then the end of the stream", name, got, err, want)
		}
	}
	if ev := bob.next(t, "news after the end"); ev.Data != "after" {
		t.Errorf("bob: %+v, want the news published after ann's end: only ann's streams end", ev)
	}
	hubWaitSubscribers(t, hub, 1)
	mu.Lock()
	if len(causes) != 2 || causes[0] != ErrEnded || causes[1] != ErrEnded {
		t.Errorf("disconnect causes %v, want ErrEnded twice", causes)
	}
	mu.Unlock()

	// A stream that subscribes after the end is not ended by it.
	again := hubGet(t, srv, "", "user:ann")
	hubWaitSubscribers(t, hub, 2)
	hubPublish(t, hub, Event{ID: "4", Data: "logged in again"}, "user:ann")
	if ev := again.next(t, "an event after logging in again"); ev.Data != "logged in again" {
		t.Errorf("new stream: %+v, want the event after logging in again", ev)
	}
}

// TestHubEndResumed checks that a client that resumes from before the end
// (it was away when End ran) replays up to the end and is ended, and that
// one resuming after it is not.
func TestHubEndResumed(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{ID: "1", Data: "a"}, "user:ann")
	hubPublish(t, hub, Event{ID: "2", Data: "b"}, "user:ann")
	if err := hub.Publish(context.Background(), Event{ID: "end", Type: EndEvent, Data: "revoked"}, "user:ann"); err != nil {
		t.Fatal(err)
	}
	hubPublish(t, hub, Event{ID: "4", Data: "c"}, "user:ann")

	evs, err := hubGet(t, srv, "1", "user:ann").rest(t)
	if got, want := endSummary(evs), []string{"2=b", EndEvent + "=revoked"}; !slices.Equal(got, want) || err != io.EOF {
		t.Errorf("resumed from before the end: %q, %v; want %q, then the end of the stream", got, err, want)
	}
	if got, want := hubReplay(t, hub, srv, "end", "user:ann"), []string{"4=c"}; !slices.Equal(got, want) {
		t.Errorf("resumed from the end: %q, want %q", got, want)
	}
}

// TestHubEndWhateverTheQueue checks that the end reaches a subscriber
// whose queue is full, under each policy, after what its queue holds and
// before anything published after it.
func TestHubEndWhateverTheQueue(t *testing.T) {
	for _, policy := range []SlowPolicy{DropOldest, DisconnectSlow, KeepLatest} {
		hub := newTestHub(t, WithQueueSize(2), WithSlowPolicy(policy))
		sub := newSubscriber(hub, &Stream{}, []string{"t"})
		a, b := &frame{pos: "1"}, &frame{pos: "2"}
		end := &frame{pos: "3", end: true}
		after := &frame{pos: "4"}
		if sub.enqueue(a, b, end, after) {
			t.Fatalf("policy %d: the end overflowed the queue", policy)
		}
		if sub.enqueue(after) {
			t.Fatalf("policy %d: an event after the end overflowed the queue", policy)
		}
		queued, last, _, _ := sub.await(nil) // the end is queued: no wait
		if !slices.Equal(queued, []*frame{a, b}) || last != end {
			t.Errorf("policy %d: queue %v then %v; want the two events, then the end", policy, queued, last)
		}
	}
}

// TestHubEndNotKeptAsLatest checks that a hub that hands its latest
// values to new subscribers (WithLiveValues) does not hand them an end:
// a stream that subscribes after End gets the values and stays open.
func TestHubEndNotKeptAsLatest(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithLiveValues())
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{Type: "cpu", Data: "17%"}, "metrics")
	if err := hub.End(context.Background(), "maintenance", "metrics"); err != nil {
		t.Fatal(err)
	}
	hubSettle(t, hub)
	c := hubGet(t, srv, "", "metrics")
	if ev := c.next(t, "the latest value"); ev.Type != "cpu" || ev.Data != "17%" {
		t.Fatalf("first event %+v, want the latest cpu value", ev)
	}
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Type: "cpu", Data: "18%"}, "metrics")
	if ev := c.next(t, "a live value"); ev.Type != "cpu" || ev.Data != "18%" {
		t.Errorf("next event %+v, want the live cpu value: the stream must stay open", ev)
	}
}
