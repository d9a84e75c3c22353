package sse

import (
	"context"
	"net/http"
	"time"
)

// Defaults of the client options.
const (
	// DefaultReconnectDelay is how long a client waits before it
	// reconnects when the server has not set a retry delay: about what
	// browsers wait.
	DefaultReconnectDelay = 3 * time.Second

	// DefaultMaxReconnectDelay caps the backoff after failures in a row.
	DefaultMaxReconnectDelay = 30 * time.Second

	// MaxServerDelay bounds the delay a server can ask a client to wait
	// before it reconnects, with a retry field or a Retry-After header,
	// beyond the cap of [WithMaxReconnectDelay]: the client honours a
	// longer ask than the cap, but waits at most the longer of the cap
	// and MaxServerDelay. Five minutes outlasts the asks of rate limits
	// and load shedding, while one answer of a broken server or proxy
	// (Retry-After: 4294967295, a date in the year 9999, retry: with 13
	// digits) costs minutes, not the consumer.
	MaxServerDelay = 5 * time.Minute
)

// A ClientOption configures the client of [Events] and [Get]. Options are
// applied in order over the defaults, so a later option wins.
type ClientOption interface {
	applyClient(*clientConfig)
}

type clientConfig struct {
	delay        time.Duration
	maxDelay     time.Duration
	idle         time.Duration
	maxEventSize int
	retryStatus  func(code int) bool
	onRequest    func(*http.Request) error
	onReconnect  func(Reconnect)
	observer     *Observer        // WithObserver
	endOnEOF     bool             // WithEndOnEOF
	endAfter     func(Event) bool // WithEndAfter
	sleep        func(ctx context.Context, d time.Duration) error
	statusWait   time.Duration // how long to read a failed response's body; tests shorten it
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyClient(c *clientConfig) { f(c) }

func newClientConfig(opts []ClientOption) clientConfig {
	c := clientConfig{
		delay:       DefaultReconnectDelay,
		maxDelay:    DefaultMaxReconnectDelay,
		retryStatus: retryableStatus,
		sleep:       sleep,
		statusWait:  statusBodyWait,
	}
	for _, o := range opts {
		if o != nil {
			o.applyClient(&c)
		}
	}
	return c
}

// serverDelay bounds a delay that the server asked for: see
// [MaxServerDelay].
func (c *clientConfig) serverDelay(d time.Duration) time.Duration {
	return min(d, max(c.maxDelay, MaxServerDelay))
}

// retryableStatus is the default of [WithRetryStatus]: server errors and
// 429 Too Many Requests.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests
}

// sleep waits d or until ctx ends, and then returns ctx's cause.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// WithReconnectDelay sets how long the client waits before it reconnects
// until the server sets a delay with a retry field. The default is
// [DefaultReconnectDelay]; a negative d means 0.
func WithReconnectDelay(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.delay = max(d, 0) })
}

// WithMaxReconnectDelay caps the backoff: after failures in a row the
// delay doubles (with jitter) up to d, or up to the server's delay if that
// is longer (the server's delay is bounded by [MaxServerDelay], or by d if
// d is longer). The default is [DefaultMaxReconnectDelay]; a negative d
// means 0, which leaves the reconnection delay as it is.
func WithMaxReconnectDelay(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.maxDelay = max(d, 0) })
}

// WithIdleTimeout makes the client reconnect when nothing at all, not even
// a comment, has arrived for d, waiting for the response headers included:
// a connection that died without a word (a peer that vanished, a stuck
// proxy) otherwise looks open for ever. Set it to a few of the server's
// heartbeat intervals (this module's server sends one every 15 s). The
// default, 0, is no timeout, as in browsers. It costs a timer reset per
// read.
func WithIdleTimeout(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.idle = max(d, 0) })
}

// WithEndOnEOF makes the iteration end, without an error, when the server
// ends the response cleanly, instead of reconnecting as a browser does.
// Use it for a stream that is finite by nature, the answer to a prompt
// say: a server that closes it is done, and reconnecting would ask again
// (for an LLM API, a new, billed answer). A connection that fails, an
// error status the client retries (see [WithRetryStatus]) and the idle
// timeout still reconnect, so a cut answer resumes. A response whose end
// cannot be told from a cut (HTTP/1.0, without chunked encoding) counts as
// ended. If the server names its last event ([DONE], message_stop), prefer
// [WithEndAfter], which does not wait for the server to close.
func WithEndOnEOF() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.endOnEOF = true })
}

// WithEndAfter makes the iteration end, without an error, after the first
// event for which end returns true, once that event has been yielded: the
// client closes the response instead of reading on and reconnecting. Use
// it when the server marks the end of its stream with an event, as LLM
// APIs do:
//
//	sse.WithEndAfter(func(ev sse.Event) bool { return ev.Data == "[DONE]" })
//
// end runs on the iterating goroutine, once per event. nil leaves the
// stream open-ended.
func WithEndAfter(end func(Event) bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.endAfter = end })
}

// WithMaxEventSize limits the bytes one event may take (see
// [Decoder.SetMaxEventSize]); 0 or less means the default of 1 MiB. An
// event over the limit ends the iteration with an error wrapping
// [ErrEventTooLarge] that says the limit: the server is broken or hostile,
// and reconnecting would only read the same.
func WithMaxEventSize(n int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.maxEventSize = n })
}

// WithRetryStatus sets which response statuses other than 200 and 204 are
// retried with backoff rather than ending the iteration: retry reports
// whether to retry code. The default retries 5xx and 429 Too Many
// Requests, as production clients do. nil retries none, as browsers do:
//
//	sse.Events(client, req, sse.WithRetryStatus(nil)) // strict
//
// A retried status honours the response's Retry-After header (seconds or
// a date): the client waits at least that long, but no longer than
// [MaxServerDelay] or the cap of [WithMaxReconnectDelay], whichever is
// longer.
func WithRetryStatus(retry func(code int) bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.retryStatus = retry })
}

// WithRequestHook calls fn with the request of each attempt, the first
// included, before it is sent: it may change its headers, for example to
// put a fresh token in Authorization. An error from fn ends the iteration
// with that error. fn runs on the ranging goroutine.
func WithRequestHook(fn func(*http.Request) error) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.onRequest = fn })
}

// WithReconnectHook calls fn before each reconnection with its cause and
// delay, for logging or metrics. fn runs on the ranging goroutine and
// delays the reconnection by its own duration. With [log/slog]:
//
//	sse.WithReconnectHook(func(r sse.Reconnect) {
//		slog.Warn("stream reconnecting", "attempt", r.Attempt, "cause", r.Cause, "delay", r.Delay)
//	})
func WithReconnectHook(fn func(Reconnect)) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.onReconnect = fn })
}
