package sse

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// frame is one encoded event, shared read-only by every queue it is in.
type frame struct {
	seq   uint64 // its number in the fan-out; 0 outside it
	pos   string // the message's place in the log (Message.Pos)
	key   string // for KeepLatest and WithLatest (see Hub.keyFrame); "": none
	bytes []byte
	end   bool // an EndEvent: the stream ends after it (see Hub.End)
}

func newFrame(msg Message) (*frame, error) {
	ev := msg.Event
	ev.ID, ev.ClearID = msg.ID, false
	b, err := ev.AppendText(nil)
	if err != nil {
		return nil, err
	}
	return &frame{pos: msg.position(), bytes: b, end: ev.Type == EndEvent}, nil
}

// position returns msg.Pos, or msg.ID for a backend that sets no Pos.
func (msg *Message) position() string {
	if msg.Pos != "" {
		return msg.Pos
	}
	return msg.ID
}

// subscriber is one stream's subscription: a bounded queue that publishers
// fill and the stream's handler goroutine drains.
//
// The fields that every delivery reads, on the fan-out's goroutine and
// then on the stream's, come first: the lock, the queue, the condition
// variable the stream's goroutine waits on, and what the fan-out checks
// (see Stream).
type subscriber struct {
	mu       sync.Mutex
	queue    []*frame
	end      *frame // the EndEvent that ends the stream after the queue; nil: none yet
	over     bool   // the stream has ended (see Stream.watchEnd)
	stream   *Stream
	hub      *Hub
	set      map[string]struct{} // the distinct topics when there are several; nil: the one topic is distinct[0]
	joined   uint64              // set by Hub.add: the number of the last message before it joined
	dropped  int                 // DropOldest, KeepLatest: frames dropped since the last take
	overflow bool                // DisconnectSlow: the queue overflowed
	removed  bool                // guarded by hub.mu: no longer in the hub's sets
	allKept  bool                // set by Hub.join under WithLatest: every topic keeps its latest events
	awaiting atomic.Bool         // every frame comes before the Last-Event-ID waited for (see resume.go)
	reached  atomic.Uint64       // frames numbered up to here come before it
	// The queue's own room for one frame, which is all an idle stream's
	// queue ever holds: no array of its own to fetch from memory.
	one [1]*frame
	// ready tells the stream's goroutine, waiting with mu (see await),
	// that the queue has something or the stream ended. Unlike a
	// channel, it is no allocation of its own to read on each delivery.
	ready sync.Cond

	topics []string // as given to Subscribe, for the hooks and the log
	// The distinct topics (see set): whether a message is for the
	// subscriber costs the same whatever their number.
	distinct []string

	// KeepLatest: the queue's place of each key's frame, and how many
	// places hold nil, the frames replaced (see queueLatest).
	keys  map[string]int
	holes int

	// A resume on a fan-out that may be behind the Last-Event-ID (see
	// resume.go): set by Hub.add, ended by Hub.endWait or reach.
	awaitID   string // the Last-Event-ID waited for; "": none
	joinedPos string // the position of the last message numbered when it joined

	// Set by Hub.join under WithLatest: the latest events of its topics
	// when it joined, sent first.
	latest [][]byte
}

func newSubscriber(h *Hub, s *Stream, topics []string) *subscriber {
	sub := s.subscriberRoom()
	*sub = subscriber{hub: h, stream: s, topics: topics}
	sub.ready.L = &sub.mu
	sub.queue = sub.one[:0]
	if len(topics) == 1 {
		sub.distinct = topics[:1:1]
		return sub
	}
	sub.set = make(map[string]struct{}, len(topics))
	for _, t := range topics {
		if _, dup := sub.set[t]; !dup {
			sub.set[t] = struct{}{}
			sub.distinct = append(sub.distinct, t)
		}
	}
	if len(sub.distinct) == 1 {
		sub.set = nil
	}
	return sub
}

// enqueue adds frames to the queue, in order, without blocking, applying
// the hub's policy when the queue is full, and wakes the subscriber once.
// Under DisconnectSlow an overflow aborts the stream at once, so a client
// stuck in a write is not kept for the write timeout, and enqueue reports
// it, so that the caller takes the subscriber out of the hub (see
// [Hub.drop]). The caller holds hub.mu for reading.
func (sub *subscriber) enqueue(frames ...*frame) (overflowed bool) {
	sub.mu.Lock()
	if sub.overflow || sub.end != nil {
		sub.mu.Unlock()
		return false
	}
	for _, f := range frames {
		if f.end {
			// Kept beside the queue, whatever its room and the policy,
			// so that the stream surely ends; what comes after it is not
			// for this stream.
			sub.end = f
			break
		}
		switch {
		case sub.hub.cfg.policy == KeepLatest:
			sub.queueLatest(f)
		case len(sub.queue) < sub.hub.cfg.queueSize:
			sub.queue = append(sub.queue, f)
		case sub.hub.cfg.policy == DropOldest:
			copy(sub.queue, sub.queue[1:])
			sub.queue[len(sub.queue)-1] = f
			sub.dropped++
			sub.hub.dropped.Add(1)
		default:
			overflowed = true
		}
		if overflowed {
			break
		}
	}
	if overflowed {
		sub.overflow = true
		clear(sub.queue)
		sub.queue = nil
		sub.hub.slowClosed.Add(1)
	}
	sub.mu.Unlock()
	if overflowed {
		sub.stream.abort(ErrSlowClient)
		sub.hub.cfg.observer.slow(sub.topics)
		return true
	}
	sub.ready.Signal()
	return false
}

func (sub *subscriber) depth() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.queue) - sub.holes
}

// await waits until the queue has something or the stream ended, then
// takes what is queued (see takeLocked); over reports the stream's end.
func (sub *subscriber) await(batch []*frame) (_ []*frame, end *frame, report, over bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for len(sub.queue) == 0 && sub.end == nil && !sub.overflow && !sub.over {
		sub.ready.Wait()
	}
	batch, end, report = sub.takeLocked(batch)
	return batch, end, report, sub.over
}

// streamOver tells the subscriber that its stream has ended.
func (sub *subscriber) streamOver() {
	sub.mu.Lock()
	sub.over = true
	sub.mu.Unlock()
	sub.ready.Signal()
}

// takeLocked empties the queue into batch, and returns the EndEvent that
// comes after it, if any, and whether settle has something to report.
// The caller holds sub.mu.
func (sub *subscriber) takeLocked(batch []*frame) (_ []*frame, end *frame, report bool) {
	batch = batch[:0]
	for _, f := range sub.queue {
		if f != nil { // not a hole left by KeepLatest
			batch = append(batch, f)
		}
	}
	clear(sub.queue)
	sub.queue = sub.queue[:0]
	clear(sub.keys)
	sub.holes = 0
	return batch, sub.end, sub.dropped > 0 || sub.overflow
}

// settle reports what the policy did since the last call: it calls the
// drop hook for dropped events and, if the subscriber overflowed, logs it
// and returns ErrSlowClient.
func (sub *subscriber) settle() error {
	sub.mu.Lock()
	dropped, overflow := sub.dropped, sub.overflow
	sub.dropped = 0
	sub.mu.Unlock()
	if dropped > 0 {
		sub.hub.cfg.hooks.drop(sub.stream, sub.topics, dropped)
		sub.hub.cfg.observer.drop(sub.topics, dropped)
	}
	if overflow {
		sub.hub.cfg.log(slog.LevelWarn, "sse: slow client disconnected", "topics", sub.topics)
		return ErrSlowClient
	}
	return nil
}

// run replays what the client missed, then writes queued frames until the
// stream or the hub ends. Its error says why it ended; an overflow under
// DisconnectSlow is reported as ErrSlowClient whatever write it cut short.
func (sub *subscriber) run() (err error) {
	defer func() {
		if slow := sub.settle(); slow != nil {
			err = slow
		}
	}()
	replayed, err := sub.replay()
	if err != nil {
		return err
	}
	// Room for the one frame an idle stream gets at a time, on the
	// goroutine's stack rather than in arrays of their own.
	var batchRoom [1]*frame
	var bufsRoom [1][]byte
	batch, bufs := batchRoom[:0], bufsRoom[:0]
	if err := sub.ended(); err != nil {
		return err
	}
	for {
		// One wait, not three: the stream tells the subscriber when it
		// ends (see Subscribe), and the hub's shutdown ends the stream.
		var end *frame
		var report, over bool
		batch, end, report, over = sub.await(batch)
		if report {
			if err := sub.settle(); err != nil {
				return err
			}
		}
		if len(batch) == 0 && end == nil {
			// Nothing queued: the stream has ended. With frames to
			// write, the write finds out, and sparing the check spares
			// every delivery a read of the stream's context.
			if !over {
				continue
			}
			return cmp.Or(sub.ended(), ErrClosed)
		}
		bufs = bufs[:0]
		for _, f := range batch {
			if sub.before(f) { // the client had it before it resumed
				continue
			}
			if replayed != nil { // drop what the replay already sent
				if _, dup := replayed[f.pos]; dup {
					continue
				}
				// Queued events come in log order: once one was not
				// replayed, none of the later ones was.
				replayed = nil
			}
			bufs = append(bufs, f.bytes)
		}
		if end != nil { // never one the replay sent: the stream ended there
			bufs = append(bufs, end.bytes)
		}
		err := sub.stream.writeFrames(bufs)
		// Let go of the written frames: they may be large, and the
		// history, not this subscriber, decides how long they live.
		clear(batch)
		clear(bufs)
		if err != nil {
			return err
		}
		if end != nil {
			return ErrEnded
		}
	}
}

// ended returns why the subscription ends, or nil while it goes on.
func (sub *subscriber) ended() error {
	if sub.hub.closed() {
		return ErrHubClosed
	}
	if sub.stream.ctx.Err() != nil {
		return sub.stream.Err()
	}
	return nil
}

// replayBatch is how many replayed frames are written with one flush.
const replayBatch = 64

// maxEchoedID bounds how much of the client's Last-Event-ID a reset event
// quotes back: the header is the client's to make as large as the server
// lets it.
const maxEchoedID = 64

// replay sends the events the client missed since its Last-Event-ID and
// returns the log positions it sent, so that the same events, published
// while the replay ran and queued too, are not sent twice. A client whose
// ID the log does not hold gets a ResetEvent, unless all its topics keep
// their latest events (see [WithLatest]); these go to it then, and to a
// client without an ID. An entry of the log that cannot be encoded
// (written by another program, say) is skipped, logged and counted: it
// never cuts the replay short.
func (sub *subscriber) replay() (_ map[string]struct{}, err error) {
	latest := sub.latest
	sub.latest = nil // sent at most once; not kept for the stream's life
	last := sub.stream.LastEventID()
	if last == "" {
		return nil, sub.stream.writeFrames(latest)
	}
	// The fan-out is ahead of the client's ID if the replay meets the last
	// message it had numbered when the subscriber joined: the subscriber
	// then waits for no ID (see resume.go).
	ahead := false
	defer func() {
		if ahead || err != nil {
			sub.hub.endWait(sub)
		}
	}()
	sent := make(map[string]struct{})
	var bufs [][]byte
	err = sub.hub.backend.Replay(sub.stream.Context(), last, func(msg Message) error {
		if sub.joinedPos != "" && msg.position() == sub.joinedPos {
			ahead = true
		}
		switch {
		case msg.Gap && (len(msg.Topics) == 0 || sub.wants(msg.Topics)):
			return fmt.Errorf("%w: %q: events of its topics were lost after it", ErrUnknownID, last)
		case msg.Gap || !sub.wants(msg.Topics):
			return nil
		}
		f, err := newFrame(msg)
		if err != nil {
			sub.hub.skipped.Add(1)
			sub.hub.cfg.log(slog.LevelError, "sse: replay skips an event it cannot encode", "id", msg.ID, "err", err)
			return nil
		}
		sent[f.pos] = struct{}{}
		bufs = append(bufs, f.bytes)
		if f.end {
			return ErrEnded // the stream ended there: it ends again
		}
		if len(bufs) >= replayBatch {
			err, bufs = sub.stream.writeFrames(bufs), bufs[:0]
		}
		return err
	})
	if errors.Is(err, ErrEnded) {
		if err := sub.replayed(len(sent), 0, sub.stream.writeFrames(bufs)); err != nil {
			return nil, err
		}
		return nil, ErrEnded
	}
	if errors.Is(err, ErrUnknownID) {
		// The ID is unknown, or the history lost events while the replay
		// ran: send what was replayed, then the reset, then the latest
		// events. The queue is not held back for the ID.
		sub.hub.endWait(sub)
		reason, replayed := ResetUnknownID, len(sent)
		if sub.allKept {
			reason = 0 // the latest values instead of a reset
		} else {
			reset := Event{Type: ResetEvent, Data: fmt.Sprintf("cannot resume after event %s", quoteID(last))}
			frame, err := reset.AppendText(nil)
			if err != nil {
				return nil, err
			}
			bufs = append(bufs, frame)
		}
		if len(latest) > 0 {
			// The latest events are older than what the replay may have
			// sent of what was published since the client joined: send
			// that again after them, from the queue, so that the client
			// ends with the newest values.
			sent = nil
		}
		return sent, sub.replayed(replayed, reason, sub.stream.writeFrames(append(bufs, latest...)))
	}
	if err != nil {
		return nil, err
	}
	return sent, sub.replayed(len(sent), 0, sub.stream.writeFrames(bufs))
}

// quoteID quotes id for a message, cut to maxEchoedID bytes.
func quoteID(id string) string {
	if len(id) <= maxEchoedID {
		return strconv.Quote(id)
	}
	cut := maxEchoedID
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return strconv.Quote(id[:cut]) + fmt.Sprintf("... (%d bytes)", len(id))
}

// wants reports whether a message to topics is for the subscriber. It
// costs in proportion to the message's topics, not the subscriber's.
func (sub *subscriber) wants(topics []string) bool {
	if sub.set == nil {
		return slices.Contains(topics, sub.distinct[0])
	}
	for _, t := range topics {
		if _, ok := sub.set[t]; ok {
			return true
		}
	}
	return false
}
