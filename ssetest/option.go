package ssetest

import "time"

// DefaultTimeout bounds each call of a [Conn] that waits: [Open] for the
// response headers, [Conn.Next], [Conn.Take] and [Conn.Rest] for their
// events, [Conn.Close] for the handler to return. It is long enough for a
// loaded CI machine and short enough that a stuck test fails with a
// message well before go test's own timeout kills it without one.
const DefaultTimeout = 5 * time.Second

// An Option configures a [Conn]. Options are applied in order over the
// defaults, so a later option wins.
type Option interface {
	apply(*config)
}

type config struct {
	timeout time.Duration
	http2   bool
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{timeout: DefaultTimeout}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithTimeout sets how long each call of the [Conn] waits before it fails
// the test; zero or a negative d means [DefaultTimeout]. A call that times
// out ends the connection, as a client that gives up does.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			d = DefaultTimeout
		}
		c.timeout = d
	})
}

// WithHTTP2 serves the handler over HTTP/2 with TLS, as browsers reach a
// production server, instead of HTTP/1.1. The handler then sees
// r.ProtoMajor == 2, and flushes and disconnects go through HTTP/2's
// streams rather than a connection of their own.
func WithHTTP2() Option {
	return optionFunc(func(c *config) { c.http2 = true })
}
