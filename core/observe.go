package sse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// An Observer is told what streams, hubs and clients do, for metrics (the
// module github.com/eventwire/sse/otel turns it into OpenTelemetry
// instruments). Any of its functions may be nil, and an Observer that is
// not set costs nothing: each place that would call it tests one pointer.
// Set one with [WithObserver].
//
// The functions are called synchronously, often with a lock of the stream
// or the hub held (Write under the stream's, FanOut on the hub's fan-out
// goroutine): they must be quick and must not block, nor call back into
// the stream or hub. They may be called concurrently. Slices they get are
// the caller's, to be read during the call only.
type Observer struct {
	// StreamOpen is called when a stream ([Serve], [Handler], [StreamTo],
	// an adapter) has sent its headers and its [StreamFunc] is about to
	// run.
	StreamOpen func()
	// StreamEnd is called once an opened stream has ended, after its
	// StreamFunc returned, with why it ended: nil if the StreamFunc
	// returned nil while the stream was still open (the server ended it,
	// [Hub.End] included); otherwise the cause of the stream's context
	// when it ended first ([context.Canceled] when the client left,
	// [ErrSlowClient], [http.ErrServerClosed] or [ErrHubClosed] at a
	// shutdown, or an error wrapping [ErrClosed] and the failed write's,
	// such as [os.ErrDeadlineExceeded] after the write timeout), else the
	// StreamFunc's error.
	StreamEnd func(cause error)
	// Write is called after each write of a stream to its client (events,
	// a heartbeat or the first retry field; not the headers alone), with
	// what it held and how long it took, the flush included.
	Write func(w Write)

	// Publish is called by a [Hub] for each event its fan-out takes from
	// the log, once whatever the number of subscribers, with the event's
	// topics.
	Publish func(topics []string)
	// FanOut is called by a hub's fan-out goroutine with the number of
	// events it queued for subscribers, each event counted once per
	// subscriber that gets it.
	FanOut func(events int)
	// Drop is called when [DropOldest] dropped n queued events of a
	// subscription to topics (as [Hooks.Drop] is).
	Drop func(topics []string, n int)
	// Slow is called when [DisconnectSlow] ends a subscription to topics
	// because its queue overflowed.
	Slow func(topics []string)
	// Replay is called when a hub has answered the Last-Event-ID of a
	// reconnecting subscription to topics: it wrote the events it missed,
	// events of them (maybe 0), and, if it could not resume from the ID,
	// a ResetEvent, which is then told to Reset too.
	Replay func(topics []string, events int)
	// Reset is called when a hub sends a subscription a [ResetEvent].
	Reset func(topics []string, reason ResetReason)

	// Connect is called when a client of [Events] or [Get] has got a
	// response that streams events, the first connection included.
	Connect func()
	// Reconnect is called before each reconnection of such a client, as the
	// function of [WithReconnectHook] is, besides it.
	Reconnect func(Reconnect)
	// Receive is called for each event such a client yields.
	Receive func()
}

// Write describes one write of a stream to its client: see
// [Observer.Write].
type Write struct {
	Events    int           // the events it held; 0 for a heartbeat or a retry field
	Bytes     int           // the bytes written, if Err is nil
	Heartbeat bool          // it was a heartbeat comment
	Duration  time.Duration // from the deadline's setting to the end of the flush
	Err       error         // why it failed, ending the stream; nil if it did not
}

// ResetReason says why a hub sent a [ResetEvent]: see [Observer.Reset].
type ResetReason int

const (
	// ResetUnknownID: the client's Last-Event-ID cannot be resumed from
	// (the ID never existed, aged out of the history, or events of its
	// topics were lost after it).
	ResetUnknownID ResetReason = iota + 1
	// ResetLost: the backend lost events that reached the subscribers of
	// other servers (see [Message.Gap]).
	ResetLost
)

// String returns "unknown_id" or "lost".
func (r ResetReason) String() string {
	switch r {
	case ResetUnknownID:
		return "unknown_id"
	case ResetLost:
		return "lost"
	}
	return "ResetReason(" + strconv.Itoa(int(r)) + ")"
}

// ObserverOption sets an [Observer]: it is an [Option], a [HubOption] and
// a [ClientOption] alike, so one value configures a handler's streams, a
// hub and a client. See [WithObserver]; the zero ObserverOption sets
// none.
type ObserverOption struct{ o *Observer }

// WithObserver returns an option that makes streams, a hub or a client
// (whichever it is given to) call o's functions. o is copied; a later
// WithObserver replaces an earlier one. A hub's subscriptions are streams
// of the handler that serves them: give it to both to observe both.
func WithObserver(o Observer) ObserverOption {
	return ObserverOption{o: &o}
}

var (
	_ Option       = ObserverOption{}
	_ HubOption    = ObserverOption{}
	_ ClientOption = ObserverOption{}
)

func (o ObserverOption) apply(c *config)             { c.observer = o.o }
func (o ObserverOption) applyHub(c *hubConfig)       { c.observer = o.o }
func (o ObserverOption) applyClient(c *clientConfig) { c.observer = o.o }

// The methods below are the call sites' one line each: a nil *Observer,
// the default, returns at once.

func (o *Observer) streamOpen() {
	if o != nil && o.StreamOpen != nil {
		o.StreamOpen()
	}
}

func (o *Observer) streamEnd(cause error) {
	if o != nil && o.StreamEnd != nil {
		o.StreamEnd(cause)
	}
}

// watchesWrites reports whether writes should be timed.
func (o *Observer) watchesWrites() bool { return o != nil && o.Write != nil }

func (o *Observer) publish(topics []string) {
	if o != nil && o.Publish != nil {
		o.Publish(topics)
	}
}

func (o *Observer) fanOut(events int) {
	if o != nil && o.FanOut != nil && events > 0 {
		o.FanOut(events)
	}
}

func (o *Observer) drop(topics []string, n int) {
	if o != nil && o.Drop != nil {
		o.Drop(topics, n)
	}
}

func (o *Observer) slow(topics []string) {
	if o != nil && o.Slow != nil {
		o.Slow(topics)
	}
}

func (o *Observer) replay(topics []string, events int) {
	if o != nil && o.Replay != nil {
		o.Replay(topics, events)
	}
}

func (o *Observer) reset(topics []string, reason ResetReason) {
	if o != nil && o.Reset != nil {
		o.Reset(topics, reason)
	}
}

func (o *Observer) connect() {
	if o != nil && o.Connect != nil {
		o.Connect()
	}
}

func (o *Observer) reconnect(r Reconnect) {
	if o != nil && o.Reconnect != nil {
		o.Reconnect(r)
	}
}

func (o *Observer) receive() {
	if o != nil && o.Receive != nil {
		o.Receive()
	}
}

// endCause returns why the stream ended, for [Observer.StreamEnd], given
// its StreamFunc's error; it runs before the stream's own end cancels its
// context. net/http cancels the request's context as soon as a write to
// its connection fails, before the stream hears of the failure: a
// cancellation that comes with a failed write (one that the stream's end
// did not interrupt) is that write's failure.
func (s *Stream) endCause(fnErr error) error {
	if s.ctx.Err() == nil {
		return fnErr
	}
	cause := context.Cause(s.ctx)
	s.mu.Lock()
	writeErr := s.writeErr
	s.mu.Unlock()
	if writeErr != nil && errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrClosed, writeErr)
	}
	return cause
}

// writeSize returns the bytes of frames.
func writeSize(frames [][]byte) int {
	n := 0
	for _, p := range frames {
		n += len(p)
	}
	return n
}

// heartbeat is the events of a heartbeat's write (see [Stream.writeLocked]).
const heartbeat = -1

// observeWrite tells the Observer of a write of frames holding events
// (or a heartbeat) that started at start and ended with err.
// start is when the write started (see loaded).
func (s *Stream) observeWrite(events int, frames [][]byte, start time.Duration, err error) {
	w := Write{Events: events, Duration: time.Since(loaded) - start, Err: err}
	if events == heartbeat {
		w.Events, w.Heartbeat = 0, true
	}
	if err == nil {
		w.Bytes = writeSize(frames)
		if w.Bytes == 0 {
			return // the headers alone
		}
	}
	s.obs.Write(w)
}

// replayed tells the Observer of a replay of events that ended with
// reset (0 for none) and returns err, the error of its last write, if
// that write failed; then nothing is told.
func (sub *subscriber) replayed(events int, reset ResetReason, err error) error {
	if err != nil || sub.hub.cfg.observer == nil {
		return err
	}
	sub.hub.cfg.observer.replay(sub.topics, events)
	if reset != 0 {
		sub.hub.cfg.observer.reset(sub.topics, reset)
	}
	return nil
}
