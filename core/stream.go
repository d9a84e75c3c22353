package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A StreamFunc writes events to one client. The stream ends when it
// returns; it should return once [Stream.Done] is closed.
type StreamFunc func(s *Stream) error

// A FlushWriter is a writer whose buffered bytes can be pushed on to the
// reader, such as a [bufio.Writer]. If it also has a method
// SetWriteDeadline(time.Time) error, as a [net.Conn] does, the stream uses
// it for its write timeout.
type FlushWriter interface {
	io.Writer
	Flush() error
}

// Stream is one open event stream to one client. Its methods are safe for
// concurrent use; each event is written and flushed as one piece, so events
// from several goroutines never interleave.
type Stream struct {
	// What every write reads comes first, within 128 bytes: past a few
	// thousand streams, each cache line of a stream's state that a
	// delivery reads is likely a miss.
	mu        sync.Mutex
	err       error // why the stream ended; nil while it is open
	out       sink
	web       httpSink      // out, for a response: in the stream's own memory
	timeout   time.Duration // per-write deadline, 0 when off
	lastWrite time.Duration // see loaded
	// deadline is the write deadline in place (see loaded), when
	// keepDeadline lets it stay set between writes (an HTTP/1.x
	// connection, where nothing else writes while the handler runs); it
	// is renewed only when less than timeout of it is left. It is 0 when
	// no deadline stays from a write that succeeded; else finish clears it.
	deadline time.Duration
	obs      *Observer // nil: none (WithObserver)

	// unblockMu orders unblock, which runs on a goroutine of its own, with
	// each write and with the end of the stream: unblock moves the
	// deadline of a write in progress only, and once finished is set,
	// nothing touches out. It also guards watchers.
	unblockMu sync.Mutex
	writing   bool // a write to out is in progress
	moved     bool // unblock moved the deadline of the write in progress
	finished  bool
	// keepDeadline is the stream's (see deadline), here where it takes no
	// room of its own.
	keepDeadline bool
	timedOut     atomic.Bool // a write failed after waiting the whole write timeout
	// ended is set once the context has ended from outside: by abort at
	// once, by parentEnded soon after the parent's end. Writes read it
	// instead of the context, which is memory of its own (see
	// checkLocked).
	ended atomic.Bool

	// The stream's first hub subscription, right after what a write reads:
	// a delivery reads both, and in one allocation they share pages.
	sub     subscriber
	subUsed atomic.Bool

	watchers []*subscriber // told when the stream ends (see watchEnd)

	ctx       context.Context
	cancel    context.CancelCauseFunc
	req       *http.Request
	lastID    string
	beatEvery time.Duration // heartbeat interval, 0 when off
	retry     time.Duration // reconnection delay sent first, 0 for none
	// Stop the context.AfterFuncs that end the stream: the parent
	// context's end, and the server's shutdown (DrainOnShutdown; nil
	// without it).
	stopParent, stopDrain func() bool

	writeErr error // the error of a write that failed on its own (the stream's end did not interrupt it), for the Observer
	enc      frameEncoder
	buf      []byte // frame buffer, reused across events
	beat     *time.Timer
	life     *time.Timer    // ends the stream at its lifetime (WithMaxLifetime); nil when off
	drain    *time.Timer    // ends the stream within the drain window (DrainOnShutdown); nil until then
	lifetime time.Duration  // WithMaxLifetime, 0 when off
	beats    sync.WaitGroup // one count per armed or running heartbeat or lifetime timer
}

// loaded is when the package was loaded. Streams keep the moments they
// need as durations since then, on the monotonic clock, in a third of the
// room of a time.Time. It is never changed.
var loaded = time.Now()

// maxKeptBuffer bounds the frame buffer a stream keeps between events, so
// that one large event does not pin its memory for the stream's lifetime.
const maxKeptBuffer = 64 << 10

// heartbeatFrame is the comment a stream sends when it has been idle.
var heartbeatFrame = []byte(":\n\n")

// sink is where a stream's frames go: a response writer with its
// controller, or a plain flushing writer.
type sink interface {
	io.Writer
	Flush() error
	SetWriteDeadline(time.Time) error
}

// httpSink is a response writer with its controller.
type httpSink struct {
	w  http.ResponseWriter
	rc http.ResponseController
}

func (s *httpSink) Write(p []byte) (int, error)        { return s.w.Write(p) }
func (s *httpSink) Flush() error                       { return s.rc.Flush() }
func (s *httpSink) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

type plainSink struct{ FlushWriter }

func (s plainSink) SetWriteDeadline(t time.Time) error {
	if d, ok := s.FlushWriter.(interface{ SetWriteDeadline(time.Time) error }); ok {
		return d.SetWriteDeadline(t)
	}
	return http.ErrNotSupported
}

var errNilFunc = errors.New("sse: nil StreamFunc")

// Serve answers the request with an event stream and calls fn with it on
// the calling goroutine. It sends the status and headers (Content-Type
// text/event-stream, Cache-Control no-cache, no-transform, X-Accel-Buffering
// no) and flushes them before fn runs, so the client sees the stream open at
// once. The stream ends when fn returns or the request's context ends (the
// client went away), and Serve returns fn's error once no goroutine of the
// stream is left, after handing it to the reporting of [WithErrorHandler].
//
// Serve finds the flusher and the write deadline of w through
// [http.ResponseController], so wrapped writers work if they have an
// Unwrap method. If w cannot flush, Serve returns an error wrapping
// [ErrNotFlushable] before it writes anything, leaving the response to the
// caller. If w cannot take the write deadline, the stream runs without
// one and Serve reports [ErrNoWriteDeadline] as the stream opens.
func Serve(w http.ResponseWriter, r *http.Request, fn StreamFunc, opts ...Option) error {
	return serve(w, r, fn, newConfig(opts))
}

func serve(w http.ResponseWriter, r *http.Request, fn StreamFunc, cfg config) error {
	if fn == nil {
		return errNilFunc
	}
	if !canFlush(w) {
		return fmt.Errorf("%w: %T", ErrNotFlushable, w)
	}
	rc := http.NewResponseController(w)
	if cfg.writeTimeout > 0 && !cfg.checkDeadline(w, rc, r) {
		cfg.writeTimeout = 0
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	if r.Method == http.MethodHead {
		// The headers say what a GET would get; there is no body to
		// stream, and fn, which may subscribe to a hub, never runs.
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if cfg.limit != nil {
		release, ok := cfg.limit.acquire(r)
		if !ok {
			return cfg.limit.refuse(w, r)
		}
		defer release()
	}
	if r.ProtoMajor == 1 && r.Body != nil && r.Body != http.NoBody {
		switch duplex, err := readWhileStreaming(h, rc); {
		case err != nil:
			return err
		case duplex:
			defer endBody(r, rc)
		}
	}
	s := newStream(r.Context(), cfg)
	s.web = httpSink{w: w, rc: *rc} // a controller holds only the writer: its copy is the same
	s.out = &s.web
	s.keepDeadline = r.ProtoMajor == 1
	s.req = r
	s.lastID = lastEventID(r)
	if sig, ok := r.Context().Value(shutdownKey{}).(*shutdownSignal); ok {
		s.stopDrain = context.AfterFunc(sig.end, func() { s.leave(sig.window) })
	}
	return s.runReported(fn, func() { w.WriteHeader(http.StatusOK) }, cfg)
}

// readWhileStreaming lets fn read the body of an HTTP/1.x request though
// the headers go out before it runs. An HTTP/1.x server would discard a
// short body then, or close it, unless told that the handler reads it
// while it writes (HTTP/2 always lets it). Such a connection is not used
// again: net/http's HTTP/1.x server panics if a full-duplex body reaches
// its end after the handler returned, as it would when fn leaves the body
// unread (go.dev/issue/68560), and a body
// still unread when fn returns would put its bytes where the next request
// should start. It reports whether the body is read in full duplex; the
// caller then ends it with endBody.
func readWhileStreaming(h http.Header, rc *http.ResponseController) (bool, error) {
	err := rc.EnableFullDuplex()
	switch {
	case errors.Is(err, http.ErrNotSupported):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sse: reading the request body while streaming: %w", err)
	}
	h.Set("Connection", "close")
	return true, nil
}

// endBody closes the body of a request served by readWhileStreaming once
// its stream has ended: a past read deadline makes the close drop what has
// arrived instead of waiting for the rest. SetReadDeadline reaches the
// connection that EnableFullDuplex reached, so it does not fail, and an
// error from Close would change nothing: the connection closes after the
// response.
func endBody(r *http.Request, rc *http.ResponseController) {
	rc.SetReadDeadline(time.Now())
	r.Body.Close()
}

// shutdownKey is the context key under which [DrainOnShutdown] leaves a
// *shutdownSignal in every request's context.
type shutdownKey struct{}

// shutdownSignal says when and how a server's streams end: end ends when
// the server shuts down, and the streams end spread over window (at once
// if it is 0).
type shutdownSignal struct {
	end    context.Context
	window time.Duration
}

// EndOnShutdown makes [http.Server.Shutdown] end every event stream that
// srv serves, whatever its handler: streams written by a [StreamFunc] of
// the application's and [Hub] subscriptions alike, on any router. When
// Shutdown starts, each stream's context is canceled with
// [http.ErrServerClosed] and a write in progress is aborted, so that even a
// client that stopped reading is let go at once; Shutdown then returns as
// soon as the handlers have.
//
// Only event streams are ended: ordinary requests keep their contexts and
// finish as Shutdown allows. Call EndOnShutdown once, before the server
// starts; it wraps srv.BaseContext, keeping one that is already set.
//
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	sse.EndOnShutdown(srv)
//	// ... on SIGTERM:
//	srv.Shutdown(ctx) // every stream ends; then
//	hub.Close()       // if there is a hub: closes its backend
//
// A server behind a load balancer, leaving for a deploy or a scale-in,
// drains instead: see [DrainOnShutdown].
func EndOnShutdown(srv *http.Server) { DrainOnShutdown(srv, 0) }

// DrainOnShutdown is [EndOnShutdown] for a server that leaves while others
// stay (a deploy, a scale-in): [http.Server.Shutdown] ends each of srv's
// event streams at a random moment within window, with a retry field asking
// its client to reconnect within a second (see [WithMaxLifetime]), so that
// the clients move to the other servers gradually rather than all at once,
// and resume there with their Last-Event-ID. Each stream's context then
// ends with [http.ErrServerClosed]. Shutdown returns once the last stream
// has ended, about window after it started (a stream whose client stopped
// reading ends when its write times out, see [WithWriteTimeout]); if its
// context ends first it returns that error, and [http.Server.Close] ends
// the streams left at once. A window of 0 or less ends every stream at
// once, as EndOnShutdown does. Call one of them once, before the server
// starts.
//
//	sse.DrainOnShutdown(srv, 10*time.Second)
//	// ... on SIGTERM:
//	srv.Shutdown(ctx) // the streams end over 10 s, then
//	hub.Close()
func DrainOnShutdown(srv *http.Server, window time.Duration) {
	end, cancel := context.WithCancel(context.Background())
	sig := &shutdownSignal{end: end, window: max(window, 0)}
	base := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		ctx := context.Background()
		if base != nil {
			ctx = base(l)
		}
		return context.WithValue(ctx, shutdownKey{}, sig)
	}
	srv.RegisterOnShutdown(cancel)
}

// StreamTo writes an event stream to a plain writer, for uses outside HTTP and
// for tests: it calls fn with a stream over w on the calling goroutine and
// returns fn's error. The stream ends when fn returns or ctx ends. The
// options work as for [Serve]; the stream has no request and no last event
// ID, and the error handler of [WithErrorHandler] gets a nil request. A
// writer without a SetWriteDeadline method is written without a deadline,
// and that is not reported.
func StreamTo(ctx context.Context, w FlushWriter, fn StreamFunc, opts ...Option) error {
	if fn == nil {
		return errNilFunc
	}
	cfg := newConfig(opts)
	s := newStream(ctx, cfg)
	s.out = plainSink{w}
	return s.runReported(fn, nil, cfg)
}

// Handler returns an http.Handler that serves every request with [Serve].
// A response writer that cannot flush gets a 500 response. Errors after
// the stream has started end the stream and go to the reporting of
// [WithErrorHandler]; the handler's streams share one report of
// [ErrNoWriteDeadline]. The handler is safe for concurrent use.
func Handler(fn StreamFunc, opts ...Option) http.Handler {
	return &handler{fn: fn, cfg: newConfig(opts)}
}

type handler struct {
	fn  StreamFunc
	cfg config
}

var _ http.Handler = (*handler)(nil)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := serve(w, r, h.fn, h.cfg)
	if errors.Is(err, ErrNotFlushable) || errors.Is(err, errNilFunc) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// runReported is run with fn's error, if fn ran, handed to cfg's reporting.
func (s *Stream) runReported(fn StreamFunc, writeHeader func(), cfg config) error {
	ran := false
	err := s.run(func(s *Stream) error {
		ran = true
		return fn(s)
	}, writeHeader)
	if ran && err != nil {
		cfg.report(s.req, err)
	}
	return err
}

// newStream returns a stream of parent's; the caller sets its out.
func newStream(parent context.Context, cfg config) *Stream {
	ctx, cancel := context.WithCancelCause(parent)
	s := &Stream{
		ctx:       ctx,
		cancel:    cancel,
		timeout:   cfg.writeTimeout,
		beatEvery: cfg.heartbeat,
		retry:     cfg.retry,
		lifetime:  cfg.lifetime,
		obs:       cfg.observer,
	}
	// The end of parent ends the stream's context with it; parentEnded
	// then does what the stream's own ends do in abort. Watching parent
	// rather than the stream's context spares the stream's context a set
	// of children of its own.
	s.stopParent = context.AfterFunc(parent, s.parentEnded)
	return s
}

// subscriberRoom returns the room for the stream's first subscription,
// or new room for another.
func (s *Stream) subscriberRoom() *subscriber {
	if s.subUsed.CompareAndSwap(false, true) {
		return &s.sub
	}
	return new(subscriber)
}

// parentEnded runs once the context the stream was made with has ended.
func (s *Stream) parentEnded() {
	// The parent ends its children in no set order: this may run before
	// the stream's context has ended.
	<-s.ctx.Done()
	s.ended.Store(true)
	s.unblock()
	s.tellEnd()
}

// watchEnd makes the stream tell sub once it has ended, however it ends,
// so that sub's goroutine, which waits for its queue, need not also wait
// on [Stream.Done]. The stream may have ended before watchEnd: the caller
// checks after it.
func (s *Stream) watchEnd(sub *subscriber) {
	s.unblockMu.Lock()
	defer s.unblockMu.Unlock()
	s.watchers = append(s.watchers, sub)
}

// unwatchEnd undoes watchEnd.
func (s *Stream) unwatchEnd(sub *subscriber) {
	s.unblockMu.Lock()
	defer s.unblockMu.Unlock()
	if i := slices.Index(s.watchers, sub); i >= 0 {
		s.watchers = slices.Delete(s.watchers, i, i+1)
	}
}

// tellEnd tells the subscribers of watchEnd. It runs after each end of the
// stream's context.
func (s *Stream) tellEnd() {
	s.unblockMu.Lock()
	defer s.unblockMu.Unlock()
	s.tellEndLocked()
}

func (s *Stream) tellEndLocked() {
	for _, sub := range s.watchers {
		sub.streamOver()
	}
}

// run opens the stream (writeHeader, if any, commits the status line),
// runs fn and tears the stream down.
func (s *Stream) run(fn StreamFunc, writeHeader func()) error {
	var opened bool
	var cause error // why it ended, for the Observer
	defer func() {
		s.finish()
		if opened {
			s.obs.streamEnd(cause)
		}
	}()
	s.mu.Lock()
	err := s.openLocked(writeHeader)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.obs != nil {
		opened = true
		s.obs.streamOpen()
	}
	err = fn(s)
	if opened {
		cause = s.endCause(err)
	}
	return err
}

func (s *Stream) openLocked(writeHeader func()) error {
	if s.timeout > 0 {
		err := s.out.SetWriteDeadline(time.Now().Add(s.timeout))
		if errors.Is(err, http.ErrNotSupported) {
			s.timeout = 0
		} else if err != nil {
			return s.failLocked(err)
		}
	}
	if writeHeader != nil {
		writeHeader()
	}
	var first []byte
	if s.retry >= time.Millisecond {
		var err error
		if first, err = s.enc.append(s.buf[:0], &Event{Retry: s.retry}); err != nil {
			return err
		}
	}
	if err := s.writeLocked(0, first); err != nil {
		return err
	}
	if s.beatEvery > 0 {
		s.beats.Add(1)
		s.beat = time.AfterFunc(s.beatEvery, s.heartbeat)
	}
	if s.lifetime > 0 {
		s.beats.Add(1)
		s.life = time.AfterFunc(s.lifetime+rand.N(s.lifetime/4+1), func() { s.expire(ErrMaxLifetime) })
	}
	return nil
}

// finish ends the stream and waits for its heartbeat to be done, so that
// nothing writes to the response once the handler has returned.
func (s *Stream) finish() {
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrClosed
	}
	clearDeadline := s.deadline != 0 // nothing writes from now on
	s.mu.Unlock()
	if s.beat != nil && s.beat.Stop() {
		s.beats.Done()
	}
	if s.life != nil && s.life.Stop() {
		s.beats.Done()
	}
	if s.drain != nil && s.drain.Stop() {
		s.beats.Done()
	}
	s.beats.Wait()
	// Nothing is written any more: no write to abort.
	s.stopParent()
	if s.stopDrain != nil {
		s.stopDrain()
	}
	if clearDeadline {
		// The last write succeeded and left its deadline: what the server
		// writes after the handler (the end of the response, the next
		// response on the connection) must not fail for it. An error here
		// is the connection's, which the server's own write then meets.
		s.out.SetWriteDeadline(time.Time{})
	}
	s.unblockMu.Lock()
	s.finished = true // an unblock that already started has returned
	s.unblockMu.Unlock()
	s.cancel(ErrClosed)
}

// Send writes one event and flushes it to the client. It blocks until the
// event is handed to the connection, at most for the write timeout. An
// invalid event returns an error (see [Event.AppendText]) and writes
// nothing; the stream stays open. Once the stream has ended Send returns an
// error wrapping [ErrClosed]. Send allocates nothing for text and bytes
// payloads once the stream's buffer has grown to the event's size.
func (s *Stream) Send(ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errLocked(); err != nil {
		return err
	}
	frame, err := s.enc.append(s.buf[:0], &ev)
	if err != nil {
		return err
	}
	if cap(frame) <= maxKeptBuffer {
		s.buf = frame
	}
	return s.writeLocked(1, frame)
}

// Err returns nil while the stream is open, and an error wrapping
// [ErrClosed] and the cause once it has ended.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errLocked()
}

// Done returns a channel that is closed when the stream ends: the client
// went away, a write failed, or the request's context was canceled.
func (s *Stream) Done() <-chan struct{} { return s.ctx.Done() }

// Context returns the stream's context, which ends with the stream. Pass it
// to work done on the stream's behalf.
func (s *Stream) Context() context.Context { return s.ctx }

// Request returns the request the stream answers, or nil for [StreamTo].
// Its body can be read at any time while the stream runs, over HTTP/1.x
// as over HTTP/2, though the response headers went out before the
// [StreamFunc] started: a POST that streams the answer to a prompt reads
// the prompt from it. What is left unread is dropped when the stream
// ends; over HTTP/1.x, a request with a body has its connection closed
// after the stream (Connection: close), since the client may still be
// sending it.
func (s *Stream) Request() *http.Request { return s.req }

// LastEventID returns the ID of the last event the client saw before it
// reconnected, from the Last-Event-ID header or, for clients that cannot set
// headers, the lastEventId query parameter. It is empty on a first
// connection.
func (s *Stream) LastEventID() string { return s.lastID }

// Every calls fn every d until the stream ends, then returns nil; if fn
// fails first, Every returns its error. The ticker is stopped on return.
// It is the loop of the common "push something periodically" handler:
//
//	return s.Every(2*time.Second, func() error {
//		return s.Send(sse.Event{Data: "tick"})
//	})
func (s *Stream) Every(d time.Duration, fn func() error) error {
	if d <= 0 {
		return fmt.Errorf("sse: Every: interval %v is not positive", d)
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return nil
		case <-t.C:
			if err := fn(); err != nil {
				if errors.Is(err, ErrClosed) && s.ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

func (s *Stream) errLocked() error {
	if s.err == nil && s.ctx.Err() != nil {
		s.err = fmt.Errorf("%w: %w", ErrClosed, context.Cause(s.ctx))
	}
	return s.err
}

// checkLocked is errLocked for a write, which need not see the parent
// context's end before parentEnded does: it reads the stream's own state,
// not its context. A write that starts in between is cut short by
// parentEnded's unblock, as one in progress would be.
func (s *Stream) checkLocked() error {
	if s.err == nil && s.ended.Load() {
		return s.errLocked()
	}
	return s.err
}

// writeLocked writes frames (there may be none) and flushes them under one
// fresh deadline: every byte the stream writes is under the write timeout.
// Any failure ends the stream: a partly written frame must never be
// followed by another.
//
// A write that the stream's end interrupts (see [Stream.unblock]) fails at
// once: the deadline is set, then the stream is checked and the write
// marked in progress, together, then the bytes go out, so an end that
// comes after the check finds the write in progress. A write that ends
// well although the stream's end moved its deadline (the last bytes went
// out meanwhile) clears the deadline: what the server writes after the
// handler, the end of the response, must not fail for it.
//
// events is the number of events in frames, or heartbeat, for the
// [Observer].
func (s *Stream) writeLocked(events int, frames ...[]byte) error {
	// The monotonic clock alone: one reading of the clock, where
	// time.Now takes two. The wall clock is read only to set a deadline.
	at := time.Since(loaded)
	switch {
	case s.timeout <= 0:
	case !s.keepDeadline:
		if err := s.out.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
			return s.failLocked(err)
		}
	case s.deadline-at < s.timeout:
		// A quarter more than the timeout, so that the writes of the next
		// quarter find at least the timeout left and need not set one.
		renewed := s.timeout + s.timeout/4
		if err := s.out.SetWriteDeadline(time.Now().Add(renewed)); err != nil {
			return s.failLocked(err)
		}
		s.deadline = at + renewed
	}
	s.unblockMu.Lock()
	err := s.checkLocked()
	s.writing = err == nil
	s.unblockMu.Unlock()
	if err != nil {
		return err
	}
	err = s.writeOut(frames)
	s.unblockMu.Lock()
	moved := s.moved
	s.writing, s.moved = false, false
	s.unblockMu.Unlock()
	if s.obs.watchesWrites() {
		s.observeWrite(events, frames, at, err)
	}
	if err != nil {
		s.deadline = 0 // the deadline stays, so that nothing waits on a client that does not read
		// Only the deadline fails a write that waited the whole timeout,
		// since the stream's end moves the deadline earlier (see
		// [Stream.unblock]).
		timedOut := s.timeout > 0 && time.Since(loaded)-at >= s.timeout
		if timedOut {
			s.timedOut.Store(true)
		}
		if !moved || timedOut {
			s.writeErr = err // it failed on its own, or its deadline passed before the stream's end moved it
		}
		return s.failLocked(err)
	}
	// On HTTP/1.x a deadline that passes while nothing is written does no
	// harm, and the next write renews it if it must: setting and clearing
	// it around every write would cost more than the write's own work on
	// an idle stream. finish clears it, for what the server writes after
	// the handler.
	if !s.keepDeadline && s.timeout > 0 || moved {
		// Clear the deadline: HTTP/2 resets a stream whose deadline passes
		// even while nothing is being written, which would kill an idle
		// but healthy stream.
		if err := s.out.SetWriteDeadline(time.Time{}); err != nil {
			return s.failLocked(err)
		}
		s.deadline = 0
	}
	s.lastWrite = at
	return nil
}

// writeOut writes frames to out and flushes them.
func (s *Stream) writeOut(frames [][]byte) error {
	for _, p := range frames {
		if len(p) == 0 {
			continue
		}
		if _, err := s.out.Write(p); err != nil {
			return err
		}
	}
	return s.out.Flush()
}

// writeFrames writes encoded frames and flushes them once.
func (s *Stream) writeFrames(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(); err != nil {
		return err
	}
	return s.writeLocked(len(frames), frames...)
}

// abort ends the stream with cause from any goroutine, without waiting
// for a write in progress: a goroutine of its own unblocks that write (see
// [Stream.unblock]). A write that starts after the check finds the stream
// ended.
func (s *Stream) abort(cause error) {
	s.cancel(cause)
	s.ended.Store(true) // before the lock, for the write it orders with (see writeLocked)
	s.unblockMu.Lock()
	defer s.unblockMu.Unlock()
	s.tellEndLocked()
	if s.writing && !s.finished {
		go s.unblock()
	}
}

// unblock runs once the stream has ended from outside the goroutine that
// writes (the client left, the hub or the server shut down, a slow client
// was cut off): when the request's context ends, and from abort. A write
// in progress then fails at once instead of waiting out its
// deadline on a client that does not read: the deadline moves to now. The
// frame being written may be cut short; the client drops an unfinished
// event. A writer that takes no deadline (see [WithWriteTimeout]) cannot be
// interrupted: its write ends when the connection does.
func (s *Stream) unblock() {
	s.unblockMu.Lock()
	defer s.unblockMu.Unlock()
	if !s.finished && s.writing {
		// An error leaves the write to its own deadline.
		s.moved = s.out.SetWriteDeadline(time.Now()) == nil
	}
}

func (s *Stream) failLocked(err error) error {
	s.err = fmt.Errorf("%w: %w", ErrClosed, err)
	s.cancel(s.err)
	s.tellEnd()
	return s.err
}

// heartbeat runs on the heartbeat timer. It sends a comment if the stream
// has been idle for the whole interval and arms the timer for the next one.
func (s *Stream) heartbeat() {
	defer s.beats.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errLocked() != nil {
		return
	}
	next := s.beatEvery
	if idle := time.Since(loaded) - s.lastWrite; idle < s.beatEvery {
		next -= idle
	} else if s.writeLocked(heartbeat, heartbeatFrame) != nil {
		return
	}
	s.beats.Add(1)
	s.beat.Reset(next)
}

// rotationRetry bounds the reconnection delay a stream that reached its
// lifetime asks for (see [WithMaxLifetime]).
const rotationRetry = time.Second

// leave ends the stream of a server that shuts down: at once with a window
// of 0, else at a random moment within it, with a retry hint (see
// [DrainOnShutdown]).
func (s *Stream) leave(window time.Duration) {
	if window <= 0 {
		s.abort(http.ErrServerClosed)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errLocked() != nil {
		return // ended already, or finish has run: nothing to arm
	}
	s.beats.Add(1)
	s.drain = time.AfterFunc(rand.N(window), func() { s.expire(http.ErrServerClosed) })
}

// expire ends a stream that reached its lifetime (see [WithMaxLifetime])
// or its moment in a drain (see [DrainOnShutdown]), with cause: it asks
// the client to come back after a short random delay, then ends the
// stream. An error of that last write ends the stream all the same.
func (s *Stream) expire(cause error) {
	defer s.beats.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errLocked() != nil {
		return
	}
	limit := rotationRetry
	if s.retry >= time.Millisecond {
		limit = min(limit, s.retry)
	}
	hint := time.Millisecond + rand.N(limit).Truncate(time.Millisecond)
	if frame, err := s.enc.append(s.buf[:0], &Event{Retry: hint}); err == nil {
		if s.writeLocked(0, frame) != nil {
			return // failed: the stream has ended
		}
	}
	s.err = fmt.Errorf("%w: %w", ErrClosed, cause)
	s.cancel(cause)
	s.tellEnd()
}

// lastEventID returns the client's last event ID from the header or, if
// that is empty, from the lastEventId query parameter.
func lastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	if r.URL == nil || r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("lastEventId")
}

// canFlush reports whether w, or a writer it wraps, can flush, following
// Unwrap as [http.ResponseController] does.
func canFlush(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }, http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
