// Package backendtest checks that a hub behaves the same whatever its
// [sse.Backend]: the scenarios here run against the in-memory log and
// against every other backend of this module. Its [Client] reads event
// streams for those scenarios and for the backends' own tests. It is for
// this module's tests only.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// topic is the topic the scenarios publish to and stream.
const topic = "t"

// ChosenIDs publishes events with and without IDs chosen by the publisher,
// one chosen ID twice, to hub (which must be new, with a history of at
// least a few events), and checks what every backend must do:
//
//   - a live subscriber receives every event, with the chosen ID where
//     there is one and the backend's otherwise;
//   - a client resuming from any of those IDs receives exactly the events
//     after the newest event that carries it, then the live ones;
//   - a live event whose chosen ID repeats one the replay sent is
//     delivered, not dropped as a duplicate;
//   - a Last-Event-ID the history does not hold gets a reset event.
func ChosenIDs(t *testing.T, hub *sse.Hub) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(topic), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)

	connect := func(lastID string) *Client {
		t.Helper()
		return Connect(t, srv.Client(), srv.URL, fmt.Sprintf("stream with Last-Event-ID %q", lastID), lastID)
	}
	live := connect("")
	WaitSubscribers(t, hub, 1)
	published := []sse.Event{
		{Data: "a"},
		{ID: "order-7", Data: "b"},
		{ID: "order-7", Data: "c"},
		{Data: "d"},
		{ID: "x", Data: "e"},
	}
	for _, ev := range published {
		publish(t, hub, ev)
	}
	got := live.Take(t, len(published))
	for i, ev := range got {
		if ev.Data != published[i].Data {
			t.Fatalf("live event %d: data %q, want %q%s", i, ev.Data, published[i].Data, Describe(got))
		}
		if want := published[i].ID; want != "" && ev.ID != want {
			t.Errorf("live event %q: ID %q, want the chosen %q", ev.Data, ev.ID, want)
		}
	}
	a, d := got[0].ID, got[3].ID
	if a == "" || d == "" || a == d || slices.Contains([]string{"order-7", "x"}, a) || slices.Contains([]string{"order-7", "x"}, d) {
		t.Fatalf("the backend's IDs for events without one: %q and %q, want two distinct new ones", a, d)
	}

	// Every resuming client is connected before the live event below, so
	// that each receives its replay and then that event.
	cases := []struct {
		lastID string
		want   []string // data of the replayed events; nil with reset
		reset  bool
	}{
		{lastID: a, want: []string{"b", "c", "d", "e"}},
		{lastID: "order-7", want: []string{"d", "e"}}, // after the newer of the two
		{lastID: d, want: []string{"e"}},
		{lastID: "x", want: []string{}},
		{lastID: "never-published", reset: true},
	}
	clients := make([]*Client, len(cases))
	for i, c := range cases {
		clients[i] = connect(c.lastID)
		if c.reset {
			if ev := clients[i].Next(t); ev.Type != sse.ResetEvent {
				t.Errorf("resume from %q: first event %+v, want a %s event", c.lastID, ev, sse.ResetEvent)
			}
			continue
		}
		replay := clients[i].Take(t, len(c.want))
		var data []string
		for _, ev := range replay {
			data = append(data, ev.Data)
		}
		if !slices.Equal(data, c.want) {
			t.Errorf("resume from %q: replay %q, want %q", c.lastID, data, c.want)
		}
	}
	WaitSubscribers(t, hub, 1+len(cases))
	publish(t, hub, sse.Event{ID: "order-7", Data: "live"})
	for i, c := range append([]*Client{live}, clients...) {
		ev := c.Next(t)
		if ev.Data != "live" || ev.ID != "order-7" {
			name := "the live client"
			if i > 0 {
				name = fmt.Sprintf("the client resuming from %q", cases[i-1].lastID)
			}
			t.Errorf("%s: next event %+v, want the live one with ID order-7 (and nothing before it)", name, ev)
		}
	}
}

// InvalidIDs checks that every event ID that could not come back in a
// Last-Event-ID header (a control character anywhere, a space or tab at
// either end, bytes that are not UTF-8) is refused with [sse.ErrInvalidID]
// by hub.Publish and, if backend is not nil, by backend.Publish called
// directly, and that nothing of it reaches a subscriber: the next event a
// live client receives is a valid one published after them all.
func InvalidIDs(t *testing.T, hub *sse.Hub, backend sse.Backend) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(topic), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)
	live := Connect(t, srv.Client(), srv.URL, "live stream", "")
	WaitSubscribers(t, hub, 1)

	ids := []string{" 2", "2 ", " ", "\t2", "2\t", "\xff", "2\xc3"}
	for c := range 0x20 {
		ids = append(ids, fmt.Sprintf("order%c7", c))
	}
	ids = append(ids, "order\x7f7")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := hub.Publish(ctx, sse.Event{ID: id, Data: "refused"}, topic); !errors.Is(err, sse.ErrInvalidID) {
			t.Errorf("hub.Publish with ID %q: error %v, want ErrInvalidID", id, err)
		}
		if backend == nil {
			continue
		}
		msg := sse.Message{ID: id, Topics: []string{topic}, Event: sse.Event{ID: id, Data: "refused"}}
		if err := backend.Publish(ctx, msg); !errors.Is(err, sse.ErrInvalidID) {
			t.Errorf("backend.Publish with ID %q: error %v, want ErrInvalidID", id, err)
		}
	}
	publish(t, hub, sse.Event{ID: "after", Data: "valid"})
	if ev := live.Next(t); ev.ID != "after" || ev.Data != "valid" {
		t.Errorf("live client: next event %+v, want the valid one published after the refused ones", ev)
	}
}

// Batch publishes through hub.PublishBatch and checks what every backend
// must do with a batch: an empty batch publishes nothing; a batch with an
// invalid event is refused whole, with an error naming the event; a valid
// batch (300 events, some with IDs chosen by the publisher, more than the
// Redis backend puts in one round trip) reaches a live subscriber once
// each, in order, and a client resuming from within it receives exactly
// the rest. The hub's subscriber queues must hold the 300 events.
func Batch(t *testing.T, hub *sse.Hub) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(topic), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)
	live := Connect(t, srv.Client(), srv.URL, "live stream", "")
	WaitSubscribers(t, hub, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if n, err := hub.PublishBatch(ctx, nil, topic); n != 0 || err != nil {
		t.Errorf("PublishBatch of no events: %d, %v; want 0, nil", n, err)
	}
	refused := []sse.Event{{Data: "refused 0"}, {Data: "refused 1"}, {ID: "bad\nid", Data: "refused 2"}}
	if n, err := hub.PublishBatch(ctx, refused, topic); n != 0 || !errors.Is(err, sse.ErrInvalidID) || !strings.Contains(err.Error(), "event 2") {
		t.Errorf("PublishBatch with an invalid third event: %d, %v; want 0 and ErrInvalidID naming event 2", n, err)
	}

	events := make([]sse.Event, 300)
	for i := range events {
		events[i].Data = strconv.Itoa(i)
		if i%50 == 7 {
			events[i].ID = "chosen-" + strconv.Itoa(i)
		}
	}
	if n, err := hub.PublishBatch(ctx, events, topic); n != len(events) || err != nil {
		t.Fatalf("PublishBatch of %d events: %d, %v", len(events), n, err)
	}
	got := live.Take(t, len(events))
	for i, ev := range got {
		if ev.Data != events[i].Data {
			t.Fatalf("live event %d: data %q, want %q (nothing of the refused batch, the batch in order)%s", i, ev.Data, events[i].Data, Describe(got))
		}
		if want := events[i].ID; want != "" && ev.ID != want {
			t.Errorf("live event %d: ID %q, want the chosen %q", i, ev.ID, want)
		}
	}
	for _, from := range []int{0, 57, 255, 256, 298} {
		c := Connect(t, srv.Client(), srv.URL, fmt.Sprintf("stream resuming from event %d", from), got[from].ID)
		replay := c.Take(t, len(events)-1-from)
		for i, ev := range replay {
			if want := events[from+1+i].Data; ev.Data != want {
				t.Fatalf("resume from event %d: replayed event %d has data %q, want %q", from, i, ev.Data, want)
			}
		}
		c.Close()
	}
	publish(t, hub, sse.Event{Data: "after"})
	if ev := live.Next(t); ev.Data != "after" {
		t.Errorf("live client: next event %+v, want the one published after the batch (nothing twice)", ev)
	}
}

// BatchParts checks how a backend appends a batch that it splits into
// parts of part messages: it publishes n messages with publishBatch while
// publish adds 50 others at once, then reads the data of the log's
// messages in log order with logData and checks that the batch is there
// once, in order, with no other message between two of one part.
func BatchParts(t *testing.T, n, part int, publishBatch func(context.Context, []sse.Message) (int, error),
	publish func(context.Context, sse.Message) error, logData func(context.Context) ([]string, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := make([]sse.Message, n)
	for i := range msgs {
		msgs[i] = sse.Message{Topics: []string{topic}, Event: sse.Event{Data: strconv.Itoa(i)}}
	}
	done := make(chan error, 1)
	go func() {
		for i := range 50 {
			if err := publish(ctx, sse.Message{Topics: []string{topic}, Event: sse.Event{Data: "other " + strconv.Itoa(i)}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if got, err := publishBatch(ctx, msgs); got != n || err != nil {
		t.Fatalf("PublishBatch = %d, %v; want %d, nil", got, err, n)
	}
	if err := <-done; err != nil {
		t.Fatalf("the other publisher: %v", err)
	}
	data, err := logData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var places []int // the place of each of the batch's messages in the log
	for place, d := range data {
		if !strings.HasPrefix(d, "other") {
			if d != strconv.Itoa(len(places)) {
				t.Fatalf("message %d of the log holds %q, want the batch's message %d", place, d, len(places))
			}
			places = append(places, place)
		}
	}
	if len(places) != n {
		t.Fatalf("the log holds %d of the batch's %d messages", len(places), n)
	}
	for i := 1; i < n; i++ {
		if i%part != 0 && places[i] != places[i-1]+1 {
			t.Errorf("another message came between the batch's messages %d and %d, within one part", i-1, i)
		}
	}
}

// End checks that publisher.End ends the streams of its topic on
// subscriber, a hub on the same backend (or the same hub): each receives
// the events published before, then the end event with its reason, and its
// stream ends.
func End(t *testing.T, publisher, subscriber *sse.Hub) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(subscriber.StreamFunc(topic), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)
	c := Connect(t, srv.Client(), srv.URL, "stream to end", "")
	WaitSubscribers(t, subscriber, 1)
	publish(t, publisher, sse.Event{Data: "before"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := publisher.End(ctx, "access revoked", topic); err != nil {
		t.Fatalf("End: %v", err)
	}
	got := c.Take(t, 2)
	if got[0].Data != "before" || got[1].Type != sse.EndEvent || got[1].Data != "access revoked" {
		t.Fatalf("events %s; want the one before, then the end with its reason", Describe(got))
	}
	select {
	case <-c.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open after its end event")
	}
	WaitSubscribers(t, subscriber, 0)
}

// Rotation checks that streams that end at their lifetime
// ([sse.WithMaxLifetime]) lose nothing: a client reading with sse.Events
// while events are published reconnects after each rotation, resumes from
// its Last-Event-ID, and receives every event once, in order.
func Rotation(t *testing.T, hub *sse.Hub) {
	t.Helper()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(topic), sse.WithHeartbeat(0), sse.WithMaxLifetime(50*time.Millisecond)))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rotations atomic.Int32
	hook := sse.WithReconnectHook(func(r sse.Reconnect) {
		if errors.Is(r.Cause, io.EOF) {
			rotations.Add(1)
		}
	})
	received := make(chan string, 1<<14)
	done := make(chan error, 1)
	go func() {
		// A stream that a busy machine ends before it could send anything
		// counts as a failure: the cap keeps the backoff from growing
		// past the rotations' own retry hints.
		opts := []sse.ClientOption{hook, sse.WithReconnectDelay(time.Millisecond), sse.WithMaxReconnectDelay(time.Second)}
		for ev, err := range sse.Events(srv.Client(), req, opts...) {
			if err != nil {
				done <- err
				return
			}
			received <- ev.Data
		}
		done <- nil
	}()
	WaitSubscribers(t, hub, 1)
	// Publish, paced, until the streams have rotated a few times, then a
	// last event: the client must have each of them once, in order.
	var published []string
	for i := 0; rotations.Load() < 3 || i < 50; i++ {
		if i == 10_000 {
			t.Fatalf("only %d rotations after %d events", rotations.Load(), i)
		}
		data := strconv.Itoa(i)
		publish(t, hub, sse.Event{Data: data})
		published = append(published, data)
		time.Sleep(200 * time.Microsecond) // pacing, so that rotations fall between events
	}
	var got []string
	deadline := time.After(60 * time.Second) // a hang guard
	for len(got) < len(published) {
		select {
		case data := <-received:
			got = append(got, data)
		case err := <-done:
			t.Fatalf("the client ended (%v) after %d of %d events", err, len(got), len(published))
		case <-deadline:
			t.Fatalf("the client has %d of %d events after 60s", len(got), len(published))
		}
	}
	if !slices.Equal(got, published) {
		t.Errorf("received %d events, not the %d published, once each, in order", len(got), len(published))
	}
	cancel()
	<-done
}

func publish(t *testing.T, hub *sse.Hub, ev sse.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.Publish(ctx, ev, topic); err != nil {
		t.Fatalf("Publish(%+v): %v", ev, err)
	}
}
