package sse

import "errors"

// Errors returned by this package. Test for them with [errors.Is]: the
// returned errors wrap them with detail about the offending value.
var (
	// ErrInvalidID reports an event ID that could not come back unchanged
	// in the Last-Event-ID header of a reconnecting client: one holding a
	// control character (U+0000 to U+001F, tab among them, or U+007F),
	// bytes that are not UTF-8, or a space at either end. A line break
	// would also end the id line early and let the rest of the value
	// inject fields. Such an ID is refused, never escaped, before anything
	// is written or published.
	ErrInvalidID = errors.New("sse: invalid event id")

	// ErrInvalidType reports an event type holding CR or LF, or bytes that
	// are not UTF-8.
	ErrInvalidType = errors.New("sse: invalid event type")

	// ErrInvalidData reports event data or a comment that is not UTF-8.
	// Clients decode the stream as UTF-8 and would silently replace such
	// bytes, so the event is refused instead.
	ErrInvalidData = errors.New("sse: invalid event data")

	// ErrInvalidRetry reports a retry delay that is negative or below one
	// millisecond.
	ErrInvalidRetry = errors.New("sse: invalid retry delay")

	// ErrEmptyEvent reports an event with no field set: it would put
	// nothing on the wire.
	ErrEmptyEvent = errors.New("sse: empty event")

	// ErrDataConflict reports an event that sets more than one of Data,
	// Bytes and JSON.
	ErrDataConflict = errors.New("sse: more than one data field set")

	// ErrNotFlushable reports a response writer that cannot flush. An event
	// stream that cannot flush would sit in a buffer instead of reaching
	// the client, so the stream is not started.
	ErrNotFlushable = errors.New("sse: response writer cannot flush")

	// ErrNoWriteDeadline reports a response writer on which the write
	// deadline of [WithWriteTimeout] cannot be set: neither it nor a writer
	// it unwraps to supports one, as with a middleware wrapper that has no
	// Unwrap method. Its stream runs without the deadline, so a client that
	// stops reading is not dropped; the error goes to the
	// [WithErrorHandler] reporting, naming the writer's type.
	ErrNoWriteDeadline = errors.New("sse: write deadline not supported")

	// ErrClosed reports a write to a stream that has ended: the client went
	// away, a write failed or timed out, or the server is shutting down.
	ErrClosed = errors.New("sse: stream closed")

	// ErrMaxLifetime is the cause with which a stream's context ends when
	// the stream reached the lifetime of [WithMaxLifetime].
	ErrMaxLifetime = errors.New("sse: stream reached its maximum lifetime")

	// ErrEventTooLarge reports an event in a read stream that exceeds the
	// decoder's size limit.
	ErrEventTooLarge = errors.New("sse: event too large")
)
