package ssepg

import (
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	// DefaultTable is the table that holds the events.
	DefaultTable = "sse_events"

	// DefaultPoll is how long the listener waits for a notification before
	// it reads the table anyway: the most a lost notification delays an
	// event. It also bounds how long a dead connection that gives no error
	// goes unnoticed: about this plus [DefaultQueryTimeout].
	DefaultPoll = 5 * time.Second

	// DefaultQueryTimeout bounds each statement of the listener, so that a
	// connection that stopped answering is replaced.
	DefaultQueryTimeout = 10 * time.Second

	// DefaultBackoffMin and DefaultBackoffMax bound the wait between two
	// attempts to reach PostgreSQL after a failure. The wait doubles from
	// the minimum up to the maximum, with random jitter.
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 5 * time.Second

	// DefaultConnectTimeout bounds the checks that [New] and [Open] make
	// (and the setup of [Backend.Listen]) unless their context ends sooner.
	DefaultConnectTimeout = 5 * time.Second
)

// Default history bounds: those of one topic of the in-memory hub,
// [sse.DefaultHistoryPerTopic] and [sse.DefaultHistoryAge], so that
// switching backends keeps the replay horizon of a hub with one topic.
// They bound all topics together (see the package documentation).
const (
	DefaultMaxLen = 1000
	DefaultMaxAge = 10 * time.Minute
)

// An Option configures a [Backend]. Options are applied in order over the
// defaults, so a later option wins.
type Option interface {
	apply(*config)
}

type config struct {
	table      string
	maxLen     int64
	maxAge     time.Duration
	poll       time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	logger     *slog.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{
		table:      DefaultTable,
		maxLen:     DefaultMaxLen,
		maxAge:     DefaultMaxAge,
		poll:       DefaultPoll,
		backoffMin: DefaultBackoffMin,
		backoffMax: DefaultBackoffMax,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithTable sets the table that holds the events; the default is
// [DefaultTable]. Every server that should share events uses the same
// table. The name is a lower-case SQL identifier (letters a to z, digits
// and underscores, not starting with a digit, at most 48 bytes), with an
// optional schema in front ("app.sse_events"); [New] refuses any other
// with [ErrBadTable]. An empty name is ignored.
func WithTable(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.table = name
		}
	})
}

// WithMaxLen bounds the history by length: the listeners delete the
// oldest events beyond about n, a batch at a time (see the package
// documentation), so a few more may stay. Zero or a negative n removes
// the bound. The default is [DefaultMaxLen].
func WithMaxLen(n int64) Option {
	return optionFunc(func(c *config) { c.maxLen = max(n, 0) })
}

// WithMaxAge bounds the history by age: the listeners delete the events
// committed more than d ago, by the database server's clock, about once
// per poll interval ([WithPoll]), except the newest event, which stays
// however old (a client that has it has missed nothing). Zero or a
// negative d removes the bound. The default is [DefaultMaxAge].
func WithMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxAge = max(d, 0) })
}

// WithPoll sets how long the listener waits for a notification before it
// reads the table anyway; the default is [DefaultPoll]. Values below a
// millisecond mean one millisecond.
func WithPoll(d time.Duration) Option {
	return optionFunc(func(c *config) { c.poll = max(d, time.Millisecond) })
}

// WithBackoff sets the bounds of the wait between attempts to reach
// PostgreSQL after a failure; the defaults are [DefaultBackoffMin] and
// [DefaultBackoffMax]. Values below a millisecond mean one millisecond; a
// maximum below the minimum means the minimum.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return optionFunc(func(c *config) {
		c.backoffMin = max(minWait, time.Millisecond)
		c.backoffMax = max(maxWait, c.backoffMin)
	})
}

// WithLogger makes the backend log lost connections and failed attempts
// (warn), recoveries (info), possibly lost events (warn) and rows it
// cannot read (error) to l. By default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}
