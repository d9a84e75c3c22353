package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// been shut down, and a publish that was still waiting for the hub's
	// fan-out when it shut down: its event was not published.
	ErrHubClosed = errors.New("sse: hub closed")

	// ErrNoTopic reports a publish or subscription without a topic.
	ErrNoTopic = errors.New("sse: no topic")

	// ErrSlowClient reports, as the cause of the stream's end, that a
	// subscriber's queue overflowed under [DisconnectSlow].
	ErrSlowClient = errors.New("sse: client too slow, disconnected")

	// ErrTooManyTopics reports a subscription to more distinct topics than
	// [WithMaxTopics] allows.
	ErrTooManyTopics = errors.New("sse: too many topics")
)

// Hub broadcasts events to the streams subscribed to their topics. Each
// event is encoded once, whatever the number of subscribers. Publishing
// never blocks on a subscriber, and its cost does not grow with the
// audience: the hub's own goroutine queues each event for the subscribers
// of its topics, each subscriber has a bounded queue, written to its
// client by the subscriber's own handler goroutine, and a client that
// cannot keep up is dealt with by the [SlowPolicy].
//
// A reconnecting client (Last-Event-ID) first receives exactly the events
// it missed, from the hub's history (see [WithHistory]); if that is not
// possible it receives a [ResetEvent]. Topics of live values can instead
// hand every new or reconnecting client their latest events (see
// [WithLatest] and [WithLiveValues]).
//
// A Hub is safe for concurrent use. It owns one goroutine, the fan-out,
// which [Hub.Shutdown] ends with every subscription.
type Hub struct {
	cfg     hubConfig
	backend Backend

	mu     sync.RWMutex
	topics map[string]*members
	all    map[*subscriber]struct{}
	subs   sync.WaitGroup
	done   chan struct{} // closed by Shutdown
	once   sync.Once

	stopped  chan struct{} // closed when Shutdown's work is done
	closeErr error         // the backend's Close error; read once stopped is closed

	// The fan-out's queue: deliver numbers each message and queues it;
	// the fan-out goroutine hands it to the subscribers that joined
	// before it was numbered (see Hub.add).
	seq     atomic.Uint64 // the number of the last message queued
	fan     chan fanItem  // to the fan-out goroutine
	fanDone chan struct{} // closed when the fan-out goroutine has ended
	taken   atomic.Uint64 // the number of the last message the fan-out took from fan
	fanned  atomic.Uint64 // the number of the last message handed out

	// Resumes while the fan-out may be behind the client (see resume.go).
	liveMu   sync.Mutex
	liveID   string                   // the ID of the last message numbered
	livePos  string                   // and its position; "": none yet
	awaiting map[string][]*subscriber // by the Last-Event-ID they wait for

	// Publishers on the in-memory log wait for room in fan without
	// holding the log's lock (see Hub.room).
	roomMu  sync.Mutex
	waiters []*roomTicket // in the order they came
	waiting atomic.Bool   // waiters is not empty: the fan-out wakes those it makes room for

	published  atomic.Uint64
	skipped    atomic.Uint64
	dropped    atomic.Uint64
	slowClosed atomic.Uint64
	timedOut   atomic.Uint64 // subscribers whose write timed out
	nsubs      atomic.Int64
}

// NewHub returns a hub configured by opts. It returns an error if the
// backend cannot start listening.
func NewHub(opts ...HubOption) (*Hub, error) {
	cfg := newHubConfig(opts)
	h := &Hub{
		cfg:     cfg,
		backend: cfg.backend,
		topics:  make(map[string]*members),
		all:     make(map[*subscriber]struct{}),
		done:    make(chan struct{}),
		fan:     make(chan fanItem, fanQueue),
		fanDone: make(chan struct{}),
	}
	if h.backend == nil {
		l := newMemLog(cfg.history)
		l.hub = h
		h.backend = l
	}
	if err := h.backend.Listen(h.deliver); err != nil {
		return nil, fmt.Errorf("sse: hub backend: %w", err)
	}
	go h.fanOutLoop()
	return h, nil
}

// fanQueue bounds how many messages the fan-out may be behind the log.
// Past it, delivery waits for the fan-out, and so does a publish on the
// in-memory log, before its message enters the log (see [Hub.room]): the
// hub slows its publishers down rather than let the queue grow without
// bound.
const fanQueue = 1024

// fanItem is one message for the fan-out: its frame (nil for a gap) and
// its number.
type fanItem struct {
	seq    uint64
	frame  *frame // nil: the backend lost messages, reset everyone
	topics []string
}

// Publish sends ev to every stream subscribed to one of topics. The event
// gets an ID from the backend unless it has one. An invalid event returns
// the same errors as [Event.AppendText] and is not published. ev.JSON is
// encoded here, once; ev.Bytes is copied. Publish is safe for concurrent
// use; concurrent publishes are delivered to everyone in one order.
//
// Publish blocks only on the backend. The in-memory backend makes it wait
// while the hub's fan-out is more than a thousand events behind
// (publishers faster than it can hand events out), until it catches up,
// holding no lock: other publishers and the replays of reconnecting
// clients go on. Publish waits no longer than ctx allows: once ctx ends it
// returns ctx's error, as it does if ctx has ended before the call; a
// publish still waiting when the hub shuts down returns [ErrHubClosed].
//
// With the in-memory backend an error means that the event was not
// published: it is not in the log and nobody receives it. nil means that
// it is in the log, and in the subscribers' queues a moment later, put
// there by the hub's fan-out goroutine whatever their number. A shared
// backend's Publish says what its errors mean; the event reaches the
// subscribers shortly after it returns.
func (h *Hub) Publish(ctx context.Context, ev Event, topics ...string) error {
	if err := h.canPublish(ctx, topics); err != nil {
		return err
	}
	msg, err := newMessage(ev, topics)
	if err != nil {
		return err
	}
	return h.backend.Publish(ctx, msg)
}

// PublishBatch publishes events, in order, to topics, as [Hub.Publish]
// publishes each, and returns how many were published: events[:n]. Every
// event is checked first; if one is invalid, PublishBatch returns its
// error, which names its index, and publishes none. A backend that
// appends several messages at once (a [BatchBackend], such as the Redis
// one, where the batch costs one round trip instead of one per event)
// gets the batch whole; any other gets the events one at a time. On an
// error the events after events[n] were not published, and the error says
// what happened to events[n], as the backend's Publish does. Subscribers
// receive the events in the batch's order, each once; concurrent
// publishes may come before, after or between them.
//
// A publisher with many events in hand (an import, a queue drained by a
// worker) pays the backend's latency once per batch: through Redis, a
// publisher that waits for each event before making the next is bound by
// the round trip, which on a busy server is slowed further by the
// goroutines ahead of it.
func (h *Hub) PublishBatch(ctx context.Context, events []Event, topics ...string) (int, error) {
	if err := h.canPublish(ctx, topics); err != nil {
		return 0, err
	}
	msgs := make([]Message, len(events))
	for i, ev := range events {
		msg, err := newMessage(ev, topics)
		if err != nil {
			return 0, fmt.Errorf("%w (event %d of the batch)", err, i)
		}
		msgs[i] = msg
	}
	if b, ok := h.backend.(BatchBackend); ok {
		return b.PublishBatch(ctx, msgs)
	}
	for i, msg := range msgs {
		if err := h.backend.Publish(ctx, msg); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// canPublish returns why nothing can be published to topics now, or nil.
func (h *Hub) canPublish(ctx context.Context, topics []string) error {
	if len(topics) == 0 {
		return ErrNoTopic
	}
	if h.closed() {
		return ErrHubClosed
	}
	return ctx.Err()
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
// Last-Event-ID first receives the events it missed, or a [ResetEvent];
// under [WithLatest] a client first receives its topics' latest events.
// It runs on the caller's goroutine (the handler's) and returns an error
// only when the subscription cannot start: [ErrNoTopic], [ErrHubClosed],
// or [ErrTooManyTopics] past the bound of [WithMaxTopics]. What an event
// costs the hub does not depend on how many topics its subscribers have;
// subscribing and leaving cost in proportion to the distinct topics.
func (h *Hub) Subscribe(s *Stream, topics ...string) error {
	if len(topics) == 0 {
		return ErrNoTopic
	}
	sub := newSubscriber(h, s, topics)
	if limit := h.cfg.maxTopics; limit > 0 && len(sub.distinct) > limit {
		return fmt.Errorf("%w: %d, at most %d", ErrTooManyTopics, len(sub.distinct), limit)
	}
	if !h.add(sub) {
		return ErrHubClosed
	}
	defer h.remove(sub)
	s.watchEnd(sub) // sub.run checks whether s has ended already
	defer s.unwatchEnd(sub)
	h.cfg.hooks.connect(s, topics)
	err := sub.run()
	if s.timedOut.Load() {
		h.timedOut.Add(1)
	}
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
	if h.closed() {
		return false
	}
	// Messages numbered up to here are in the log already: the replay
	// sends those the client missed, the fan-out skips them for sub.
	h.joinLive(sub)
	for _, t := range sub.distinct {
		m := h.topics[t]
		if m == nil {
			m = &members{at: make(map[*subscriber]int)}
			h.topics[t] = m
		}
		m.add(sub)
	}
	h.all[sub] = struct{}{}
	h.subs.Add(1)
	h.nsubs.Add(1)
	return true
}

// members is a topic's subscribers in the order they joined. The fan-out
// visits them in that order, which is near the order their memory was
// allocated in (the subscriber, its stream, their goroutine and its
// stack): consecutive visits share pages and cache lines. In a map's
// random order each visit would miss them, and at tens of thousands of
// streams such misses would be most of what a delivery costs.
type members struct {
	order []*subscriber       // nil where one left
	at    map[*subscriber]int // each one's place in order
}

func (m *members) add(sub *subscriber) {
	m.at[sub] = len(m.order)
	m.order = append(m.order, sub)
}

// remove takes sub out, and closes the gaps once they outnumber the
// members, so that a visit costs at most twice the members.
func (m *members) remove(sub *subscriber) {
	i, ok := m.at[sub]
	if !ok {
		return
	}
	delete(m.at, sub)
	m.order[i] = nil
	if len(m.order) <= 2*len(m.at) {
		return
	}
	n := 0
	for _, sub := range m.order {
		if sub != nil {
			m.order[n], m.at[sub] = sub, n
			n++
		}
	}
	clear(m.order[n:])
	m.order = m.order[:n]
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
	h.endWait(sub)
	delete(h.all, sub)
	for _, t := range sub.distinct {
		m := h.topics[t]
		if m.remove(sub); len(m.at) == 0 {
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

// roomTicket is the place of a publisher that waits for room in the
// fan-out's queue.
type roomTicket struct {
	wake chan struct{} // closed when it should ask again; nil once closed
}

// room reports whether the in-memory log may deliver a message now: nil,
// nil if it may, ErrHubClosed if the hub has shut down, and otherwise a
// channel closed when it should ask again. The log asks under its lock,
// the only one under which messages are delivered, so the room it is told
// of is still there when it delivers, and waits without the lock; it calls
// [Hub.leaveRoom] if it gives up.
//
// *t is the caller's place among the publishers that wait, nil if it has
// none. Each of them keeps the room it is woken for: a newcomer goes ahead
// only while there is room for all of them too, so publishers that keep
// the fan-out busy cannot take the room of one that waits again and again.
// The fan-out wakes those it made room for when it takes messages.
func (h *Hub) room(t **roomTicket) (<-chan struct{}, error) {
	if *t == nil && !h.waiting.Load() && h.hasRoom() && !h.closed() {
		return nil, nil
	}
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	if h.closed() {
		h.leaveRoomLocked(t)
		return nil, ErrHubClosed
	}
	if h.placeLocked(*t) < h.free() {
		h.leaveRoomLocked(t)
		return nil, nil
	}
	if *t == nil {
		*t = &roomTicket{}
		h.waiters = append(h.waiters, *t)
		h.waiting.Store(true)
		// Now that the fan-out sees waiting, either there is room or it
		// will wake this publisher once it has made room for it.
		if h.placeLocked(*t) < h.free() {
			h.leaveRoomLocked(t)
			return nil, nil
		}
	}
	if (*t).wake == nil {
		(*t).wake = make(chan struct{})
	}
	return (*t).wake, nil
}

// placeLocked returns the place of t among the publishers that wait for
// room, or the place it would take if it is nil.
func (h *Hub) placeLocked(t *roomTicket) int {
	if t == nil {
		return len(h.waiters)
	}
	return slices.Index(h.waiters, t)
}

// leaveRoom gives up the place *t among the publishers that wait for room.
func (h *Hub) leaveRoom(t **roomTicket) {
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	h.leaveRoomLocked(t)
	// Those behind it moved up, maybe into room.
	h.wakeWaitersLocked(h.free())
}

// leaveRoomLocked gives up the place *t, if any.
func (h *Hub) leaveRoomLocked(t **roomTicket) {
	if *t == nil {
		return
	}
	i := slices.Index(h.waiters, *t)
	h.waiters[i] = nil
	h.waiters = slices.Delete(h.waiters, i, i+1)
	*t = nil
	h.waiting.Store(len(h.waiters) > 0)
}

// wakeWaitersLocked wakes the first n publishers that wait for room.
func (h *Hub) wakeWaitersLocked(n int) {
	for _, t := range h.waiters[:min(n, len(h.waiters))] {
		t.wakeUp()
	}
}

// wakeUp makes a waiting publisher ask for room again.
func (t *roomTicket) wakeUp() {
	if t.wake != nil {
		close(t.wake)
		t.wake = nil
	}
}

// free returns how many messages fan can take without waiting, for a
// caller that is the only one to deliver.
func (h *Hub) free() int {
	taken := h.taken.Load()
	return max(fanQueue-int(h.seq.Load()-taken), 0)
}

// hasRoom reports whether fan can take one more message without waiting,
// for a caller that is the only one to deliver.
func (h *Hub) hasRoom() bool { return h.free() > 0 }

func (h *Hub) closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// deliver encodes one message and queues it for the fan-out. The backend
// calls it one message at a time, in log order. Its cost does not depend
// on the number of subscribers; it waits only when the fan-out is
// fanQueue messages behind, or returns at once if the hub has shut down.
func (h *Hub) deliver(msg Message) {
	var f *frame
	if !msg.Gap {
		var err error
		if f, err = newFrame(msg); err != nil {
			h.skipped.Add(1)
			h.cfg.log(slog.LevelError, "sse: hub skips an event it cannot encode", "id", msg.ID, "err", err)
			return
		}
		h.keyFrame(f, msg)
		h.published.Add(1)
		h.cfg.observer.publish(msg.Topics)
	}
	// deliver is never called concurrently, so the messages reach the
	// fan-out in the order of their numbers.
	select {
	case h.fan <- fanItem{seq: h.numberLive(f, msg), frame: f, topics: msg.Topics}:
	case <-h.done:
	}
}

// fanBatch bounds how many queued messages the fan-out hands out at once.
const fanBatch = 256

// fanOutLoop runs on the hub's goroutine until Shutdown, handing the
// queued messages to their subscribers. When it is behind, it takes what
// has queued up as one batch, which each subscriber receives with one
// lock and one wake-up: the busier the hub, the less each event costs.
func (h *Hub) fanOutLoop() {
	defer close(h.fanDone)
	batch := make([]fanItem, 0, fanBatch)
	var fo fanOut
	for {
		select {
		case item := <-h.fan:
			batch = append(batch[:0], item)
		case <-h.done:
			return
		}
	more:
		for len(batch) < fanBatch {
			select {
			case item := <-h.fan:
				batch = append(batch, item)
			default:
				break more
			}
		}
		h.taken.Store(batch[len(batch)-1].seq)
		if h.waiting.Load() {
			h.roomMu.Lock()
			h.wakeWaitersLocked(h.free())
			h.roomMu.Unlock()
		}
		for start := 0; start < len(batch); { // runs of events, each ended by a gap
			end := start
			for end < len(batch) && batch[end].frame != nil {
				end++
			}
			if end > start {
				h.drop(fo.run(h, batch[start:end]))
			}
			if end < len(batch) {
				h.resetAll(batch[end].seq, batch[end].topics)
				end++
			}
			h.fanned.Store(batch[end-1].seq)
			start = end
		}
		clear(batch) // sent frames are not kept
	}
}

// fanOut is the fan-out goroutine's scratch space, kept across batches.
type fanOut struct {
	byTopic map[string][]*frame // the frames of the batch for each topic, in order
	order   []string            // the batch's topics, in first appearance
	seen    map[*subscriber]struct{}
	frames  []*frame
}

// run queues the frames of items (events, no gap) for the subscribers of
// their topics that joined before them, in order and each frame once, and
// returns the subscribers that overflowed.
func (fo *fanOut) run(h *Hub, items []fanItem) (slow []*subscriber) {
	if fo.byTopic == nil {
		fo.byTopic = make(map[string][]*frame)
		fo.seen = make(map[*subscriber]struct{})
	}
	for _, it := range items {
		for _, t := range it.topics {
			frames, ok := fo.byTopic[t]
			switch {
			case !ok:
				fo.order = append(fo.order, t)
			case frames[len(frames)-1] == it.frame: // each message has a frame of its own
				continue // a topic named twice
			}
			fo.byTopic[t] = append(frames, it.frame)
		}
	}
	first := items[0].seq
	queued := 0 // for the Observer
	h.mu.RLock()
	for _, t := range fo.order {
		m := h.topics[t]
		if m == nil {
			continue
		}
		for _, sub := range m.order {
			if sub == nil { // one that left
				continue
			}
			var frames []*frame
			switch {
			case sub.set == nil && sub.joined < first:
				// Common case: every frame of its one topic, shared.
				frames = fo.byTopic[t]
			default:
				// Several topics, or joined during the batch: the frames
				// it wants, in publish order, each once.
				if sub.set != nil {
					if _, dup := fo.seen[sub]; dup {
						continue
					}
					fo.seen[sub] = struct{}{}
				}
				fo.frames = fo.frames[:0]
				for _, it := range items {
					if it.seq > sub.joined && sub.wants(it.topics) {
						fo.frames = append(fo.frames, it.frame)
					}
				}
				frames = fo.frames
			}
			queued += len(frames)
			if len(frames) > 0 && sub.enqueue(frames...) {
				slow = append(slow, sub)
			}
		}
	}
	h.mu.RUnlock()
	h.cfg.observer.fanOut(queued)
	clear(fo.byTopic) // the frames' slices go with it: frames are not kept
	clear(fo.order)
	fo.order = fo.order[:0]
	clear(fo.seen)
	clear(fo.frames[:cap(fo.frames)]) // every subscriber's frames, not only the last one's
	fo.frames = fo.frames[:0]
	return slow
}

// gapFrame is the ResetEvent a hub sends when its backend lost events.
var gapFrame = &frame{bytes: []byte("event: " + ResetEvent + "\ndata: events may have been lost\n\n")}

// resetAll tells every subscriber that joined before the gap numbered seq,
// of one of topics or of any if there are none, that events may have been
// lost.
func (h *Hub) resetAll(seq uint64, topics []string) {
	h.cfg.log(slog.LevelWarn, "sse: backend reported lost events; resetting subscribers")
	h.mu.RLock()
	var slow []*subscriber
	for sub := range h.all {
		if sub.joined < seq && (len(topics) == 0 || sub.wants(topics)) {
			h.cfg.observer.reset(sub.topics, ResetLost)
			if sub.enqueue(gapFrame) {
				slow = append(slow, sub)
			}
		}
	}
	h.mu.RUnlock()
	h.drop(slow)
}

// Shutdown stops the hub: publishing fails with [ErrHubClosed] (a publish
// waiting for the fan-out included: its event is not published), every
// subscription ends at once, a write in progress included (so every
// stream's handler returns), and the backend is closed. Shutdown waits until all that is done and returns the backend's
// Close error, or returns ctx's error if ctx ends first; the hub then
// finishes stopping in the background. Calling it again waits again.
//
// A server that serves the hub ends its streams with [EndOnShutdown], the
// one wiring for every stream, and closes the hub once
// [http.Server.Shutdown] has returned:
//
//	sse.EndOnShutdown(srv) // before the server starts
//	// ... on SIGTERM:
//	srv.Shutdown(ctx) // every stream ends, the hub's among them
//	hub.Close()       // then the hub's goroutine and its backend
func (h *Hub) Shutdown(ctx context.Context) error {
	h.once.Do(func() {
		h.mu.Lock()
		close(h.done)
		h.roomMu.Lock()
		h.wakeWaitersLocked(len(h.waiters)) // to return ErrHubClosed
		h.roomMu.Unlock()
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
			<-h.fanDone
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
	Dropped         uint64 // queued events dropped under DropOldest, or replaced or dropped under KeepLatest
	SlowDisconnects uint64 // subscribers disconnected under DisconnectSlow
	// DroppedClients counts the subscribers the hub's side cut off,
	// whatever the cause: SlowDisconnects and the streams whose write
	// timed out (see [WithWriteTimeout]), which is how a client that stops
	// reading leaves under DropOldest and KeepLatest. Clients that leave
	// and the hub's shutdown are not counted.
	DroppedClients uint64
	QueueDepth     int // events queued for all subscribers now
	// FanOutLag is how many events have reached the hub from its log and
	// wait for the fan-out to queue them for the subscribers: near 0 but
	// under bursts, and up to about a thousand when publishers are faster
	// than the fan-out (see [Hub.Publish]).
	FanOutLag int
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
		DroppedClients:  h.slowClosed.Load() + h.timedOut.Load(),
	}
	fanned := h.fanned.Load() // before seq, so that the lag is never negative
	st.FanOutLag = int(h.seq.Load() - fanned)
	h.mu.RLock()
	for sub := range h.all {
		st.QueueDepth += sub.depth()
	}
	h.mu.RUnlock()
	return st
}
