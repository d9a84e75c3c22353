package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// ResetEvent is the type of the event a [Hub] sends a reconnecting client
// whose Last-Event-ID it cannot replay from: the ID never existed, has aged
// out of the history, or the client was dropped after missing events. The
// client should reload its state (its data says why). It has no ID, so the
// client's last event ID moves on with the next event.
const ResetEvent = "sse-reset"

// Errors of the [Hub].
var (
	// ErrHubClosed reports a publish to, or subscription on, a hub that has
	// been shut down.
	ErrHubClosed = errors.New("sse: hub closed")

	// ErrNoTopic reports a publish or subscription without a topic.
	ErrNoTopic = errors.New("sse: no topic")

	// ErrSlowClient reports, as the cause of the stream's end, that a
	// subscriber's queue overflowed under [DisconnectSlow].
	ErrSlowClient = errors.New("sse: client too slow, disconnected")
)

// Hub broadcasts events to the streams subscribed to their topics. Each
// event is encoded once, whatever the number of subscribers. Publishing
// never blocks on a subscriber: each has a bounded queue, written to its
// client by the subscriber's own handler goroutine, and a client that
// cannot keep up is dealt with by the [SlowPolicy].
//
// A reconnecting client (Last-Event-ID) first receives exactly the events
// it missed, from the hub's history (see [WithHistory]); if that is not
// possible it receives a [ResetEvent].
//
// A Hub is safe for concurrent use. With the in-memory backend it starts
// no goroutine until [Hub.Shutdown], which ends every subscription and
// runs one that ends with them.
type Hub struct {
	cfg     hubConfig
	backend Backend

	mu     sync.RWMutex
	topics map[string]map[*subscriber]struct{}
	all    map[*subscriber]struct{}
	subs   sync.WaitGroup
	done   chan struct{} // closed by Shutdown
	once   sync.Once

	stopped  chan struct{} // closed when Shutdown's work is done
	closeErr error         // the backend's Close error; read once stopped is closed

	published  atomic.Uint64
	skipped    atomic.Uint64
	dropped    atomic.Uint64
	slowClosed atomic.Uint64
	nsubs      atomic.Int64
}

// NewHub returns a hub configured by opts. It returns an error if the
// backend cannot start listening.
func NewHub(opts ...HubOption) (*Hub, error) {
	cfg := newHubConfig(opts)
	h := &Hub{
		cfg:     cfg,
		backend: cfg.backend,
		topics:  make(map[string]map[*subscriber]struct{}),
		all:     make(map[*subscriber]struct{}),
		done:    make(chan struct{}),
	}
	if h.backend == nil {
		h.backend = newMemLog(cfg.history)
	}
	if err := h.backend.Listen(h.deliver); err != nil {
		return nil, fmt.Errorf("sse: hub backend: %w", err)
	}
	return h, nil
}

// Publish sends ev to every stream subscribed to one of topics. The event
// gets an ID from the backend unless it has one. An invalid event returns
// the same errors as [Event.AppendText] and is not published. ev.JSON is
// encoded here, once; ev.Bytes is copied. Publish blocks only on the
// backend (never for the in-memory one) and is safe for concurrent use;
// concurrent publishes are delivered to everyone in one order. With the
// in-memory backend the event is in every subscriber's queue when Publish
// returns; a shared backend delivers it shortly after.
func (h *Hub) Publish(ctx context.Context, ev Event, topics ...string) error {
	if len(topics) == 0 {
		return ErrNoTopic
	}
	select {
	case <-h.done:
		return ErrHubClosed
	default:
	}
	msg, err := newMessage(ev, topics)
	if err != nil {
		return err
	}
	return h.backend.Publish(ctx, msg)
}

// newMessage validates ev and turns its payload into text, so that a
// backend can store it and every hub encode it alike: an event that cannot
// be encoded never reaches the log.
func newMessage(ev Event, topics []string) (Message, error) {
	if _, _, err := ev.validate(); err != nil { // also refuses two payloads
		return Message{}, err
	}
	if ev.ClearID {
		return Message{}, fmt.Errorf("%w: a hub gives every event an ID; ClearID cannot be published", ErrInvalidID)
	}
	switch {
	case ev.JSON != nil:
		b, err := json.Marshal(ev.JSON) // compact, like the stream's encoder
		if err != nil {
			return Message{}, fmt.Errorf("%w: JSON: %w", ErrInvalidData, err)
		}
		// A json.Marshaler's output is copied as it is, so it may not be
		// text.
		if !utf8.Valid(b) {
			return Message{}, fmt.Errorf("%w: JSON is not UTF-8", ErrInvalidData)
		}
		ev.Data = string(b)
	case len(ev.Bytes) > 0:
		ev.Data = string(ev.Bytes)
	}
	ev.Bytes, ev.JSON = nil, nil
	return Message{ID: ev.ID, Topics: append([]string(nil), topics...), Event: ev}, nil
}

// Subscribe streams the events published to topics to s until s ends or
// the hub shuts down, and returns nil then. A client that reconnects with a
// Last-Event-ID first receives the events it missed, or a [ResetEvent].
// It runs on the caller's goroutine (the handler's) and returns an error
// only when the subscription cannot start.
func (h *Hub) Subscribe(s *Stream, topics ...string) error {
	if len(topics) == 0 {
		return ErrNoTopic
	}
	sub := newSubscriber(h, s, topics)
	if !h.add(sub) {
		return ErrHubClosed
	}
	defer h.remove(sub)
	h.cfg.hooks.connect(s, topics)
	err := sub.run()
	h.cfg.hooks.disconnect(s, topics, err)
	h.cfg.log(slog.LevelDebug, "sse: subscriber left", "topics", topics, "err", err)
	return nil
}

// StreamFunc returns a [StreamFunc] that subscribes its stream to topics: the
// one-liner that serves a hub's topics with [Handler] or any adapter.
func (h *Hub) StreamFunc(topics ...string) StreamFunc {
	return func(s *Stream) error { return h.Subscribe(s, topics...) }
}

func (h *Hub) add(sub *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return false
	default:
	}
	for _, t := range sub.topics {
		set := h.topics[t]
		if set == nil {
			set = make(map[*subscriber]struct{})
			h.topics[t] = set
		}
		set[sub] = struct{}{}
	}
	h.all[sub] = struct{}{}
	h.subs.Add(1)
	h.nsubs.Add(1)
	return true
}

// remove takes sub out of the hub, once: when its subscription ends, or
// earlier when it overflowed (see [Hub.drop]).
func (h *Hub) remove(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.removed {
		return
	}
	sub.removed = true
	delete(h.all, sub)
	for _, t := range sub.topics {
		delete(h.topics[t], sub)
		if len(h.topics[t]) == 0 {
			delete(h.topics, t)
		}
	}
	h.nsubs.Add(-1)
	h.subs.Done()
}

// drop removes the subscribers that overflowed under DisconnectSlow as
// soon as the fan-out that found them lets go of the hub's lock. Their
// streams were aborted, but a write that cannot be interrupted (a writer
// without a deadline) may keep a handler for longer: out of the hub,
// nothing more is queued for it, its queue is freed and [Hub.Shutdown]
// does not wait for it.
func (h *Hub) drop(slow []*subscriber) {
	for _, sub := range slow {
		h.remove(sub)
	}
}

// deliver fans one message out to the local subscribers of its topics. The
// backend calls it one message at a time, in log order.
func (h *Hub) deliver(msg Message) {
	if msg.Gap {
		h.resetAll()
		return
	}
	f, err := newFrame(msg)
	if err != nil {
		h.skipped.Add(1)
		h.cfg.log(slog.LevelError, "sse: hub skips an event it cannot encode", "id", msg.ID, "err", err)
		return
	}
	h.published.Add(1)
	h.drop(h.fanOut(f, msg.Topics))
}

// fanOut queues f for the subscribers of topics, each once, and returns
// those that overflowed.
func (h *Hub) fanOut(f *frame, topics []string) (slow []*subscriber) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(topics) == 1 { // common case: no subscriber can be reached twice
		for sub := range h.topics[topics[0]] {
			if sub.enqueue(f) {
				slow = append(slow, sub)
			}
		}
		return slow
	}
	seen := make(map[*subscriber]struct{})
	for _, t := range topics {
		for sub := range h.topics[t] {
			if _, dup := seen[sub]; !dup {
				seen[sub] = struct{}{}
				if sub.enqueue(f) {
					slow = append(slow, sub)
				}
			}
		}
	}
	return slow
}

// gapFrame is the ResetEvent a hub sends when its backend lost events.
var gapFrame = &frame{bytes: []byte("event: " + ResetEvent + "\ndata: events may have been lost\n\n")}

// resetAll tells every subscriber that events may have been lost.
func (h *Hub) resetAll() {
	h.cfg.log(slog.LevelWarn, "sse: backend reported lost events; resetting subscribers")
	h.mu.RLock()
	var slow []*subscriber
	for sub := range h.all {
		if sub.enqueue(gapFrame) {
			slow = append(slow, sub)
		}
	}
	h.mu.RUnlock()
	h.drop(slow)
}

// Shutdown stops the hub: publishing fails with [ErrHubClosed], every
// subscription ends at once, a write in progress included (so every
// stream's handler returns), and the backend is closed. Shutdown waits until all that is done and returns the backend's
// Close error, or returns ctx's error if ctx ends first; the hub then
// finishes stopping in the background. Calling it again waits again.
//
// Wire it to the server so that [http.Server.Shutdown] does not wait for
// open streams forever:
//
//	srv.RegisterOnShutdown(func() { hub.Shutdown(context.Background()) })
func (h *Hub) Shutdown(ctx context.Context) error {
	h.once.Do(func() {
		h.mu.Lock()
		close(h.done)
		for sub := range h.all {
			// Ends the stream and interrupts a write in progress, which
			// would otherwise hold Shutdown for up to the write timeout.
			sub.stream.abort(ErrHubClosed)
		}
		h.mu.Unlock()
		h.stopped = make(chan struct{})
		go func() { // ends once the backend is closed and every subscriber left
			defer close(h.stopped)
			h.closeErr = h.backend.Close()
			h.subs.Wait()
		}()
	})
	select {
	case <-h.stopped:
		return h.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline.
func (h *Hub) Close() error { return h.Shutdown(context.Background()) }

// Stats is a snapshot of a hub's counters.
type Stats struct {
	Subscribers     int    // streams subscribed now
	Published       uint64 // events published on the hub's log (by any hub sharing it) and fanned out to the subscribers here
	Skipped         uint64 // events in the log skipped because they cannot be encoded
	Dropped         uint64 // queued events dropped under DropOldest
	SlowDisconnects uint64 // subscribers disconnected under DisconnectSlow
	QueueDepth      int    // events queued for all subscribers now
}

// Stats returns the hub's counters. It visits every subscriber's queue,
// so it costs time in proportion to their number.
func (h *Hub) Stats() Stats {
	st := Stats{
		Subscribers:     int(h.nsubs.Load()),
		Published:       h.published.Load(),
		Skipped:         h.skipped.Load(),
		Dropped:         h.dropped.Load(),
		SlowDisconnects: h.slowClosed.Load(),
	}
	h.mu.RLock()
	for sub := range h.all {
		st.QueueDepth += sub.depth()
	}
	h.mu.RUnlock()
	return st
}
