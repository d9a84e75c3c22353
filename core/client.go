package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Errors of the client ([Events]).
var (
	// ErrInvalidRequest reports a request that cannot open a stream: nil,
	// without a URL, a HEAD request (whose response has no body), or one
	// whose Last-Event-ID a header cannot carry (the error then wraps
	// [ErrInvalidID] too).
	ErrInvalidRequest = errors.New("sse: invalid request")

	// ErrBodyNotReplayable reports a request whose body would have to be
	// sent again to reconnect, but has no GetBody to make a fresh copy of
	// it. [http.NewRequest] sets GetBody for the usual in-memory bodies.
	ErrBodyNotReplayable = errors.New("sse: request body cannot be sent again")

	// ErrBadStatus reports a response status other than 200 OK (and other
	// than 204 No Content, which ends the stream without an error). The
	// error is a [*StatusError].
	ErrBadStatus = errors.New("sse: response status is not 200 OK")

	// ErrNotEventStream reports a response whose media type is not
	// text/event-stream.
	ErrNotEventStream = errors.New("sse: response is not an event stream")

	// ErrIdleTimeout is the cause of a reconnection when nothing at all,
	// not even a comment, arrived within the idle timeout (see
	// [WithIdleTimeout]).
	ErrIdleTimeout = errors.New("sse: stream idle too long")
)

// StatusError is the error for a response status that fails the stream
// (see [WithRetryStatus]), or the cause of a reconnection after one that
// does not. It wraps [ErrBadStatus].
type StatusError struct {
	StatusCode int    // e.g. 401
	Status     string // e.g. "401 Unauthorized"

	// Body is the start of the response body, which often says why: at
	// most its first 512 bytes, and only those that arrive within a
	// second of the status. A body that is longer, or still coming, is
	// cut there and its connection closed, so that a stuck backend
	// cannot hold up the client.
	Body string
}

// The bounds of the read of a failed response's body for
// [StatusError.Body]: in bytes, and in time, so that the status is acted on
// promptly whatever the body does. A body sent with the status arrives
// well within the time.
const (
	maxStatusBody  = 512
	statusBodyWait = time.Second
)

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%v: %s", ErrBadStatus, e.Status)
	}
	return fmt.Sprintf("%v: %s: %q", ErrBadStatus, e.Status, e.Body)
}

// Unwrap returns [ErrBadStatus].
func (e *StatusError) Unwrap() error { return ErrBadStatus }

// Reconnect describes a reconnection that a client started by [Events] is
// about to make. See [WithReconnectHook].
type Reconnect struct {
	// Attempt counts the reconnections since an event last arrived, from 1.
	// It is what the backoff grows with.
	Attempt int

	// Cause is why the connection ended or could not be made: [io.EOF]
	// when the server ended the stream, an error wrapping [ErrIdleTimeout]
	// or a [*StatusError], or a network error.
	Cause error

	// Delay is how long the client waits before it sends the request.
	Delay time.Duration

	// LastEventID is the ID it will send in the Last-Event-ID header;
	// empty sends none.
	LastEventID string

	// DroppedID is the last event ID the server set if the client cannot
	// send it back, else empty. A header cannot carry an ID with a
	// control character (tab and DEL among them), and loses a space or
	// tab at either end, which would make the server resume after
	// another event. This module's server refuses such IDs with
	// [ErrInvalidID], but another server may send one: the client then
	// drops it, as if the stream had cleared the ID with an empty id
	// field. It reconnects without Last-Event-ID, so the server starts
	// the stream afresh, and the events after the reconnection carry no
	// ID until the server sets another. LastEventID is then empty.
	DroppedID string
}

// Get is [Events] for a GET request of url with [http.DefaultClient]. The
// stream ends with ctx.
func Get(ctx context.Context, url string, opts ...ClientOption) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			yield(Event{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err))
			return
		}
		Events(nil, req, opts...)(yield)
	}
}

// Events reads the event stream that req asks for through client (nil
// means [http.DefaultClient]), as a browser's EventSource does, and
// returns an iterator over its events. Nothing is sent until the iterator
// is used; each use opens the stream anew. Each event has the Type and
// Data a browser reports, the ID it came with (see [Decoder.Next]: an
// event without an id field has none, so that a proxy re-sending each
// event with [Stream.Send] copies the stream as it came), and Retry set to
// the stream's reconnection delay if a retry field arrived since the
// previous event. The client itself keeps the last event ID in force and
// sends it when it reconnects.
//
// The request may use any method, headers and body: a POST with a JSON
// body is how many streaming APIs start. Every attempt sends a copy of req
// with Accept: text/event-stream and Cache-Control: no-cache unless req
// sets them, the last event ID in Last-Event-ID when it is not empty (a
// Last-Event-ID in req itself is the ID to start from), and the body again
// from req.GetBody. An ID from the server that a header cannot carry back
// is dropped rather than sent (see [Reconnect.DroppedID]). A body without
// GetBody can be sent once; reconnecting then fails with
// [ErrBodyNotReplayable]. The client follows redirects on each attempt,
// and reconnects to req's URL, not to where it was redirected.
//
// When the stream ends or the connection fails, Events waits the
// reconnection delay (the server's last retry, else [WithReconnectDelay])
// and reconnects, as a browser does; a finite stream ends the iteration
// instead with [WithEndOnEOF] (at the server's end of the response) or
// [WithEndAfter] (after an event that marks the end). Failures in a row,
// with no event in between, back off exponentially with jitter up to
// [WithMaxReconnectDelay]. 204 No Content ends the iteration without an
// error. Status 5xx and 429 are retried with
// backoff, waiting at least as long as a Retry-After header asks (see
// [WithRetryStatus]). A delay the server asks for, with retry or
// Retry-After, is bounded by [MaxServerDelay]. Any other status than 200,
// or a media type other than text/event-stream, fails the stream with an
// error wrapping [ErrBadStatus] or [ErrNotEventStream]. The client acts on
// a status promptly whatever its body does: it reads at most 512 bytes of
// it, for at most a second, into [StatusError.Body], and then closes the
// connection.
//
// An error ends the iteration: it is the last value yielded, with a zero
// Event. Besides the above it is req's context's error once that context
// ends, an error wrapping [ErrEventTooLarge], or a hook's error.
// Reconnections are not errors; [WithReconnectHook] sees them. Leaving the
// loop, a cancelled context and an error all end the same way: the
// response body is closed and no goroutine is left.
//
// Events runs on the goroutine that ranges over it; each range is
// independent of the others. Beyond what the [Decoder] allocates (the
// Data of each event, and its ID when it changes), it allocates per
// connection, not per event. Use a client without [http.Client.Timeout],
// which would end every stream after that time; [WithIdleTimeout] is the
// timeout that fits a stream.
func Events(client *http.Client, req *http.Request, opts ...ClientOption) iter.Seq2[Event, error] {
	cfg := newClientConfig(opts)
	var bodySent atomic.Bool // the body of req, which has no GetBody, has been sent
	return func(yield func(Event, error) bool) {
		if err := checkRequest(req); err != nil {
			yield(Event{}, err)
			return
		}
		c := client
		if c == nil {
			c = http.DefaultClient
		}
		r := &reader{client: c, req: req, cfg: &cfg, bodySent: &bodySent}
		r.run(yield)
	}
}

func checkRequest(req *http.Request) error {
	switch {
	case req == nil:
		return fmt.Errorf("%w: nil request", ErrInvalidRequest)
	case req.URL == nil:
		return fmt.Errorf("%w: no URL", ErrInvalidRequest)
	case req.Method == http.MethodHead:
		return fmt.Errorf("%w: a HEAD response has no body to stream", ErrInvalidRequest)
	case !validID(req.Header.Get("Last-Event-ID")):
		return fmt.Errorf("%w: %w: %q cannot be sent in a Last-Event-ID header", ErrInvalidRequest, ErrInvalidID, req.Header.Get("Last-Event-ID"))
	}
	return nil
}

// reader is one use of the iterator that [Events] returns: the state that
// lasts across its connections.
type reader struct {
	client   *http.Client
	req      *http.Request
	cfg      *clientConfig
	bodySent *atomic.Bool
	dec      *Decoder
	attempt  int // reconnections since the last event
}

// connResult is how one connection ended.
type connResult struct {
	stop       bool          // the iteration is over: the loop was left, 204, or the stream's end (WithEndOnEOF, WithEndAfter)
	fatal      error         // the iteration ends with this error
	cause      error         // otherwise, why to reconnect
	retryAfter time.Duration // the least delay the server asked for
}

func (r *reader) run(yield func(Event, error) bool) {
	ctx := r.req.Context()
	r.dec = NewDecoder(nil)
	r.dec.SetMaxEventSize(r.cfg.maxEventSize)
	r.dec.SetLastEventID(r.req.Header.Get("Last-Event-ID"))
	for {
		res := r.connect(ctx, yield)
		if res.stop { // the loop was left: yield must not be called again
			return
		}
		if res.fatal == nil && ctx.Err() != nil {
			res.fatal = context.Cause(ctx)
		}
		if res.fatal != nil {
			yield(Event{}, res.fatal)
			return
		}
		r.attempt++
		delay := max(r.backoff(), r.cfg.serverDelay(res.retryAfter))
		var dropped string
		if id := r.dec.LastEventID(); !validID(id) {
			dropped = id
			r.dec.SetLastEventID("")
		}
		rc := Reconnect{Attempt: r.attempt, Cause: res.cause, Delay: delay, LastEventID: r.dec.LastEventID(), DroppedID: dropped}
		if r.cfg.onReconnect != nil {
			r.cfg.onReconnect(rc)
		}
		r.cfg.observer.reconnect(rc)
		if err := r.cfg.sleep(ctx, delay); err != nil {
			yield(Event{}, err)
			return
		}
	}
}

// backoff returns the delay before the next reconnection: the
// reconnection delay after one failure, then doubling with each failure in
// a row, with jitter, up to the maximum (or the server's delay, if longer).
func (r *reader) backoff() time.Duration {
	base := r.cfg.delay
	if d, ok := r.dec.retryInForce(); ok {
		base = r.cfg.serverDelay(d)
	}
	if r.attempt <= 1 {
		return base
	}
	d := max(base, time.Millisecond) // a zero delay must grow too
	limit := max(r.cfg.maxDelay, base)
	for i := 1; i < r.attempt && d < limit; i++ {
		if d > limit/2 { // doubling could overflow
			d = limit
		} else {
			d *= 2
		}
	}
	d = min(d, limit)
	// Equal jitter: half fixed, half random, so that clients that failed
	// together do not come back together.
	return d/2 + rand.N(d/2+1)
}

// connect makes one attempt and reads its stream to the end.
func (r *reader) connect(ctx context.Context, yield func(Event, error) bool) connResult {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var idle *time.Timer
	if r.cfg.idle > 0 {
		idle = time.AfterFunc(r.cfg.idle, func() { cancel(ErrIdleTimeout) })
		defer idle.Stop()
	}
	// failed reports what an error means: the end of the iteration if the
	// context ended, else a reconnection.
	failed := func(err error) connResult {
		if ctx.Err() != nil {
			return connResult{fatal: context.Cause(ctx)}
		}
		if context.Cause(actx) == ErrIdleTimeout {
			err = fmt.Errorf("%w: nothing received for %v", ErrIdleTimeout, r.cfg.idle)
		}
		return connResult{cause: err}
	}

	req, err := r.newRequest(actx)
	if err != nil {
		return connResult{fatal: err}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	if res, ok := r.checkResponse(resp, func() { cancel(nil) }); !ok {
		return res
	}
	r.cfg.observer.connect()

	var body io.Reader = resp.Body
	if idle != nil {
		body = &idleReader{r: body, t: idle, d: r.cfg.idle}
	}
	r.dec.reset(body)
	for {
		ev, err := r.dec.Next()
		if err != nil {
			switch {
			case errors.Is(err, ErrEventTooLarge):
				return connResult{fatal: err}
			case err == io.EOF && r.cfg.endOnEOF && ctx.Err() == nil:
				return connResult{stop: true} // the server is done
			}
			return failed(err)
		}
		if d, ok := r.dec.takeRetry(); ok {
			ev.Retry = d
		}
		r.attempt = 0
		r.cfg.observer.receive()
		if !yield(ev, nil) || r.cfg.endAfter != nil && r.cfg.endAfter(ev) {
			return connResult{stop: true}
		}
	}
}

// newRequest returns the request of one attempt.
func (r *reader) newRequest(ctx context.Context) (*http.Request, error) {
	req := r.req.Clone(ctx)
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/event-stream")
	}
	if req.Header.Get("Cache-Control") == "" {
		req.Header.Set("Cache-Control", "no-cache")
	}
	// The ID is one a header carries intact: run drops any other that the
	// server set, and checkRequest refuses one in req.
	if id := r.dec.LastEventID(); id == "" {
		req.Header.Del("Last-Event-ID")
	} else {
		req.Header.Set("Last-Event-ID", id)
	}
	if body := r.req.Body; body != nil && body != http.NoBody {
		switch {
		case r.req.GetBody != nil:
			b, err := r.req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("%w: GetBody: %w", ErrBodyNotReplayable, err)
			}
			req.Body = b
		case r.bodySent.CompareAndSwap(false, true):
			req.Body = body
		default:
			return nil, fmt.Errorf("%w: the request has no GetBody", ErrBodyNotReplayable)
		}
	}
	if r.cfg.onRequest != nil {
		if err := r.cfg.onRequest(req); err != nil {
			return nil, fmt.Errorf("sse: request hook: %w", err)
		}
	}
	return req, nil
}

// checkResponse reports whether resp opens an event stream, and if not,
// how the connection ends. stop cancels the request.
func (r *reader) checkResponse(resp *http.Response, stop func()) (connResult, bool) {
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return connResult{stop: true}, false
	case resp.StatusCode != http.StatusOK:
		err := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status, Body: r.statusBody(resp.Body, stop)}
		if r.cfg.retryStatus == nil || !r.cfg.retryStatus(resp.StatusCode) {
			return connResult{fatal: err}, false
		}
		return connResult{cause: err, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}, false
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) || mt != "text/event-stream" {
		return connResult{fatal: fmt.Errorf("%w: Content-Type %q", ErrNotEventStream, ct)}, false
	}
	return connResult{}, true
}

// statusBody reads the start of the body of a failed response: up to
// maxStatusBody bytes, for as long as the status body wait. Then stop
// cancels the request, which ends a read in progress and closes the
// connection (the transport honours the request's context while the body
// is read, as net/http's do); a short body read to its end in time leaves
// the connection open for the next request.
func (r *reader) statusBody(body io.Reader, stop func()) string {
	t := time.AfterFunc(r.cfg.statusWait, stop)
	defer t.Stop()
	b, _ := io.ReadAll(io.LimitReader(body, maxStatusBody)) // the status says enough if this fails
	return string(b)
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date. It
// returns 0 for none or junk. Seconds too many for a [time.Duration] give
// the longest Duration, as RFC 9111 has caches take too large a
// delta-seconds; the caller bounds the delay.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || s > uint64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// idleReader restarts the idle timer each time bytes arrive.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.t.Reset(ir.d)
	}
	return n, err
}
