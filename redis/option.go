package sseredis

import (
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	// DefaultKey is the key of the Redis stream that holds the events.
	DefaultKey = "sse:events"

	// DefaultBlock is how long one XREAD of the listener waits for new
	// events before it asks again. It also bounds how long a dead
	// connection that gives no error goes unnoticed: about this plus ten
	// seconds.
	DefaultBlock = 2 * time.Second

	// DefaultBackoffMin and DefaultBackoffMax bound the wait between two
	// attempts to reach Redis after a failure. The wait doubles from the
	// minimum up to the maximum, with random jitter.
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
	key        string
	maxLen     int64
	maxAge     time.Duration
	block      time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	logger     *slog.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{
		key:        DefaultKey,
		maxLen:     DefaultMaxLen,
		maxAge:     DefaultMaxAge,
		block:      DefaultBlock,
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

// WithKey sets the key of the Redis stream; the default is [DefaultKey].
// Every server that should share events uses the same key. The backend
// also keeps a small marker key next to it (see the package
// documentation); in a Redis Cluster, a key without a hash tag is given
// one for the marker, so that both live on the same shard. An empty key
// is ignored.
func WithKey(key string) Option {
	return optionFunc(func(c *config) {
		if key != "" {
			c.key = key
		}
	})
}

// WithMaxLen bounds the history by length: each publish trims the stream
// to about n entries (XADD MAXLEN ~, which trims whole internal nodes, so
// a few more may stay). Zero or a negative n removes the bound. The
// default is [DefaultMaxLen].
func WithMaxLen(n int64) Option {
	return optionFunc(func(c *config) { c.maxLen = max(n, 0) })
}

// WithMaxAge bounds the history by age: each publish trims the entries
// older than d (XTRIM MINID ~, by the Redis server's clock). Zero or a
// negative d removes the bound. The default is [DefaultMaxAge].
func WithMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxAge = max(d, 0) })
}

// WithBlock sets how long one read of the listener waits for new events;
// the default is [DefaultBlock]. Values below a millisecond mean one
// millisecond.
func WithBlock(d time.Duration) Option {
	return optionFunc(func(c *config) { c.block = max(d, time.Millisecond) })
}

// WithBackoff sets the bounds of the wait between attempts to reach Redis
// after a failure; the defaults are [DefaultBackoffMin] and
// [DefaultBackoffMax]. Values below a millisecond mean one millisecond; a
// maximum below the minimum means the minimum.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return optionFunc(func(c *config) {
		c.backoffMin = max(minWait, time.Millisecond)
		c.backoffMax = max(maxWait, c.backoffMin)
	})
}

// WithLogger makes the backend log lost connections and failed attempts
// (warn), recoveries (info), lost events (warn) and entries it cannot read
// (error) to l. By default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}
