package sse

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// hubTopics returns n topics of the same length, the last one named last.
func hubTopics(n int, last string) []string {
	topics := make([]string, n)
	for i := range n - 1 {
		topics[i] = fmt.Sprintf("x-%0*d", len(last)-2, i)
	}
	topics[n-1] = last
	return topics
}

// What the fan-out spends on an event does not depend on how many topics
// its subscribers have: a subscriber of 100,000 topics costs a batch of
// events to one of them what a subscriber of two topics does. The time is
// the best of several runs of one batch on this goroutine, and the bound
// leaves a wide margin: a cost in proportion to the topics is thousands of
// times the bound.
func TestHubFanOutCostIgnoresSubscriberTopics(t *testing.T) {
	const many, runs, ratio = 100_000, 7, 20
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(runs*fanBatch), WithMaxTopics(0))
	const topic = "t-000000"
	costOf := func(n int) time.Duration {
		sub := newSubscriber(hub, &Stream{}, hubTopics(n, topic))
		if !hub.add(sub) {
			t.Fatal("the hub refused a subscriber")
		}
		defer hub.remove(sub)
		items := make([]fanItem, fanBatch)
		for i := range items {
			f := &frame{pos: fmt.Sprint(i), bytes: []byte("data: x\n\n")}
			items[i] = fanItem{seq: sub.joined + 1 + uint64(i), frame: f, topics: []string{topic}}
		}
		var fo fanOut
		best := time.Duration(1<<63 - 1)
		for range runs {
			start := time.Now()
			if slow := fo.run(hub, items); len(slow) > 0 {
				t.Fatal("the subscriber overflowed")
			}
			best = min(best, time.Since(start))
			if taken, _, _, _ := sub.await(nil); len(taken) != len(items) { // queued: no wait
				got := len(taken)
				t.Fatalf("a subscriber of %d topics was queued %d of the %d events to one of them", n, got, len(items))
			}
		}
		return best
	}
	few, lots := costOf(2), costOf(many)
	t.Logf("a batch of %d events to one topic: %v with a subscriber of 2 topics, %v with one of %d", fanBatch, few, lots, many)
	if lots > ratio*max(few, time.Microsecond) {
		t.Errorf("a batch of %d events costs the fan-out %v with a subscriber of %d topics, %v with one of 2: want the same cost, at most %dx",
			fanBatch, lots, many, few, ratio)
	}
}

// A subscriber receives the events of its topics once each, whatever their
// number and however often a topic is named, live and in a replay.
func TestHubManyTopics(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithMaxTopics(0))
	srv := startHubServer(t, hub, nil)
	topics := hubTopics(5000, "t-last")
	topics = append(topics, "t-last", topics[0], topics[2500])
	c := hubGet(t, srv, "", topics...)
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{ID: "1", Data: "first"}, "t-last")
	hubPublish(t, hub, Event{ID: "2", Data: "to none of its topics"}, "elsewhere")
	hubPublish(t, hub, Event{ID: "3", Data: "middle and others"}, "elsewhere", topics[2500], "t-last")
	hubPublish(t, hub, Event{ID: "4", Data: "first topic"}, topics[0])
	hubPublish(t, hub, Event{ID: "5", Data: "end"}, "t-last")
	want := []string{"1=first", "3=middle and others", "4=first topic"}
	if got := hubSummary(c.until(t, "end")); !slices.Equal(got, want) {
		t.Errorf("live: got %q, want %q", got, want)
	}
	c.stop()
	hubWaitSubscribers(t, hub, 0)
	want = append(want[1:], "5=end")
	if got := hubReplay(t, hub, srv, "1", topics...); !slices.Equal(got, want) {
		t.Errorf("replay after 1: got %q, want %q", got, want)
	}
}

// A subscription to more distinct topics than WithMaxTopics allows does not
// start: Subscribe returns ErrTooManyTopics and the hub counts no
// subscriber. Topics named twice count once.
func TestHubMaxTopics(t *testing.T) {
	tests := []struct {
		name   string
		opts   []HubOption
		topics []string
		want   error
	}{
		{"default, at the bound", nil, hubTopics(DefaultMaxTopics, "t"), nil},
		{"default, past the bound", nil, hubTopics(DefaultMaxTopics+1, "t"), ErrTooManyTopics},
		{"default, at the bound with topics named twice", nil, append(hubTopics(DefaultMaxTopics, "t"), "t", "t"), nil},
		{"3, at the bound", []HubOption{WithMaxTopics(3)}, []string{"a", "b", "a", "c", "b"}, nil},
		{"3, past the bound", []HubOption{WithMaxTopics(3)}, []string{"a", "b", "c", "d"}, ErrTooManyTopics},
		{"0: no bound", []HubOption{WithMaxTopics(0)}, hubTopics(10*DefaultMaxTopics, "t"), nil},
		{"negative: no bound", []HubOption{WithMaxTopics(-1)}, hubTopics(DefaultMaxTopics+1, "t"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			hub := newTestHub(t, tt.opts...)
			run := runHub(t, hub.StreamFunc(tt.topics...))
			if tt.want != nil {
				if err := run.wait(t); !errors.Is(err, tt.want) {
					t.Errorf("Subscribe to %d topics = %v, want %v", len(tt.topics), err, tt.want)
				}
				if n := hub.Stats().Subscribers; n != 0 {
					t.Errorf("Stats().Subscribers = %d after a refused subscription, want 0", n)
				}
				return
			}
			hubWaitSubscribers(t, hub, 1)
			hubPublish(t, hub, Event{ID: "1", Data: "to t"}, tt.topics[len(tt.topics)-1])
			if ev := run.next(t, "event to the last topic"); ev.Data != "to t" {
				t.Errorf("the subscriber got %q, want %q", ev.Data, "to t")
			}
			run.cancel()
			if err := run.wait(t); err != nil {
				t.Errorf("StreamTo = %v, want nil", err)
			}
		})
	}
}

// A topic's members are visited in the order they joined, whoever left in
// between, and the gaps that leaving makes never outnumber the members.
func TestMembersKeepJoinOrder(t *testing.T) {
	m := &members{at: make(map[*subscriber]int)}
	subs := make([]*subscriber, 100)
	for i := range subs {
		subs[i] = &subscriber{}
		m.add(subs[i])
	}
	var want []*subscriber
	for i, sub := range subs {
		if i%10 == 0 { // ten stay
			want = append(want, sub)
			continue
		}
		m.remove(sub)
		m.remove(sub) // a second time changes nothing
		if len(m.order) > 2*len(m.at) {
			t.Fatalf("after %d left: %d places for %d members", i, len(m.order), len(m.at))
		}
	}
	late := &subscriber{}
	m.add(late)
	want = append(want, late)
	var got []*subscriber
	for i, sub := range m.order {
		if sub == nil {
			continue
		}
		if m.at[sub] != i {
			t.Fatalf("member at %d is recorded at %d", i, m.at[sub])
		}
		got = append(got, sub)
	}
	if !slices.Equal(got, want) || len(m.at) != len(want) {
		t.Fatalf("visited %d members, want the %d that stayed and the late one, in join order", len(got), len(want))
	}
}
