package sse

import "time"

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
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{heartbeat: DefaultHeartbeat, writeTimeout: DefaultWriteTimeout}
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
// without touching other streams. Zero or a negative value turns the
// deadline off. The default is [DefaultWriteTimeout]. Writers that cannot
// take a deadline (see [http.ResponseController.SetWriteDeadline]) are
// written without one.
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
