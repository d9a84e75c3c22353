package sse

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults for the stream options.
const (
	// DefaultHeartbeat is how long a stream may stay idle before it sends a
	// comment to keep proxies from closing it and to find out whether the
	// client is still there.
	DefaultHeartbeat = 15 * time.Second

	// DefaultWriteTimeout is how long one write may take before the client
	// is taken to be stuck and the stream ends.
	DefaultWriteTimeout = 10 * time.Second
)

// An Option configures a stream. Options are applied in order over the
// defaults, so a later option wins.
type Option interface {
	apply(*config)
}

type config struct {
	heartbeat    time.Duration
	writeTimeout time.Duration
	retry        time.Duration
	lifetime     time.Duration                    // WithMaxLifetime
	limit        *Limit                           // WithLimit
	onError      func(r *http.Request, err error) // nil: the default, see report
	// noDeadline is set once ErrNoWriteDeadline has been reported. The
	// streams of one Handler share it, and so do those of one
	// WithErrorHandler option value.
	noDeadline *atomic.Bool
	observer   *Observer // WithObserver
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{heartbeat: DefaultHeartbeat, writeTimeout: DefaultWriteTimeout, noDeadline: new(atomic.Bool)}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithHeartbeat sets how long the stream may stay idle before it sends a
// comment line. Zero or a negative value turns heartbeats off. The default
// is [DefaultHeartbeat].
func WithHeartbeat(d time.Duration) Option {
	return optionFunc(func(c *config) { c.heartbeat = max(d, 0) })
}

// WithWriteTimeout sets the deadline of each write to the client. A client
// that stops reading is dropped once a write to it has waited this long,
// without touching other streams; over HTTP/1.x, up to a quarter longer:
// the connection's deadline is renewed only when less than d of it is
// left, which spares most writes the cost of setting it. Zero or a negative value turns the
// deadline off. The default is [DefaultWriteTimeout]. Response writers
// that cannot take a deadline (see
// [http.ResponseController.SetWriteDeadline]) are written without one,
// and [Serve] reports [ErrNoWriteDeadline] (see [WithErrorHandler]).
func WithWriteTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.writeTimeout = max(d, 0) })
}

// WithRetry sends the client a reconnection delay as the first frame of
// the stream. Zero, the default, sends none and leaves the client's own
// default (about 3 s in browsers). It is sent in whole milliseconds;
// below one millisecond none is sent.
func WithRetry(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retry = max(d, 0) })
}

// WithMaxLifetime ends the stream once it has been open for a time drawn
// at random between d and 1.25 d, so that streams opened together do not
// end together: long-lived connections then spread over the servers that
// a scale-out added, and none outlives a deploy for ever. The stream's
// last frame is a retry field asking the client to reconnect after a
// random delay under a second (under the [WithRetry] delay, if that is
// shorter): its EventSource, or [Events], reconnects with its
// Last-Event-ID to whichever server the load balancer picks, and a stream
// served from a [Hub] resumes there without loss. The stream's context
// then ends with [ErrMaxLifetime], and a [StreamFunc] returns as it does
// when the client leaves; nothing is logged. Zero, the default, or a
// negative d is no limit. It costs one timer per stream.
func WithMaxLifetime(d time.Duration) Option {
	return optionFunc(func(c *config) { c.lifetime = max(d, 0) })
}

// WithErrorHandler sets fn to observe what goes wrong once a stream has
// started, when its status has been sent and no error response can follow:
// the non-nil error the [StreamFunc] returns, and an error wrapping
// [ErrNoWriteDeadline] when the response writer cannot take the write
// deadline. fn gets the request the stream answers, nil for [StreamTo]. It runs
// on the handler's goroutine once the stream has ended (for
// ErrNoWriteDeadline, as it opens), so it should not block; streams of
// one handler may call it concurrently. [Serve] still returns the error.
//
// fn sees every such error, including those wrapping [ErrClosed] (the
// client went away or stopped reading, or the server is shutting down):
// test for them with [errors.Is]. Without this option, or with a nil fn,
// errors other than those wrapping ErrClosed are logged with
// [slog.Default] as it is when the error happens.
//
// ErrNoWriteDeadline is reported once for all the streams of one
// [Handler] (or one router adapter's handler), and once for all the
// streams configured with the same WithErrorHandler value; a [Serve] call
// without one reports it with its stream.
func WithErrorHandler(fn func(r *http.Request, err error)) Option {
	noDeadline := new(atomic.Bool)
	return optionFunc(func(c *config) {
		c.onError = fn
		c.noDeadline = noDeadline
	})
}
