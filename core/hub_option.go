package sse

import (
	"context"
	"log/slog"
	"time"
)

// SlowPolicy says what a [Hub] does when a subscriber's queue is full.
type SlowPolicy int

const (
	// DisconnectSlow ends the stream of a client whose queue overflows. Its
	// EventSource reconnects with its Last-Event-ID and replays what it
	// missed from the history. It is the default: no event is lost silently.
	DisconnectSlow SlowPolicy = iota

	// DropOldest drops the oldest queued events to make room. The client
	// stays connected and misses those events; the hub counts them.
	DropOldest

	// KeepLatest keeps only the newest queued event of each key, for
	// events that carry a value (a metric, a status) rather than a change:
	// an event replaces the one of the same key still waiting for the
	// subscriber, and the queue keeps publish order. A client that falls
	// behind receives the latest value of every key when it catches up,
	// not a backlog, and holds at most one event a key. A client that
	// keeps up may still miss a value replaced before its handler took it
	// (in a burst), never the latest one. The key is the
	// event's type and the topics it was published to, unless
	// [WithLatestKey] says otherwise. The queue size (see [WithQueueSize])
	// bounds the keys waiting: past it the oldest key's event is dropped.
	// Replaced and dropped events are counted as under DropOldest. A client
	// that stops reading is dropped by the write timeout (see
	// [WithWriteTimeout] and [Stats].DroppedClients).
	//
	// Replacing costs the same whatever the queue's length.
	KeepLatest
)

// HistoryLimits bound the in-memory history that reconnecting clients
// replay. Each topic keeps its own newest events, up to PerTopic, so that
// a busy topic (one user's feed) never pushes a quiet topic's events (the
// one notification of another user) out of the history; Count, Bytes and
// Age bound the whole, taking the oldest events first. An event leaves the
// history, and its memory is let go, as soon as every topic it was
// published to has let it go, or a bound on the whole takes it: an event
// that ages out is freed on time even if nothing is published after it. A
// client whose topics lost events after its Last-Event-ID gets a
// [ResetEvent] instead of a replay. A zero PerTopic, Bytes or Age is no
// limit; a zero Count keeps no history, so every reconnect gets a
// [ResetEvent].
type HistoryLimits struct {
	PerTopic int // events kept for each topic
	Count    int // events kept in all
	// Bytes bounds the memory the history holds: each event's ID, type,
	// data, comment and topics, and a fixed cost of about 300 bytes for
	// its bookkeeping.
	Bytes int
	Age   time.Duration // how long an event is kept
}

// Defaults of the hub options.
const (
	// DefaultQueueSize is how many events may wait for one subscriber.
	DefaultQueueSize = 256

	// DefaultMaxTopics is how many distinct topics one subscription may
	// have (see [WithMaxTopics]).
	DefaultMaxTopics = 1000

	// DefaultHistoryPerTopic, DefaultHistoryCount, DefaultHistoryBytes
	// and DefaultHistoryAge are the limits of the history a hub keeps
	// unless told otherwise: a thousand events a topic, within 16 MiB and
	// ten minutes in all.
	DefaultHistoryPerTopic = 1000
	DefaultHistoryCount    = 100_000
	DefaultHistoryBytes    = 16 << 20
	DefaultHistoryAge      = 10 * time.Minute
)

// defaultHistory is the history a hub keeps unless told otherwise.
var defaultHistory = HistoryLimits{
	PerTopic: DefaultHistoryPerTopic,
	Count:    DefaultHistoryCount,
	Bytes:    DefaultHistoryBytes,
	Age:      DefaultHistoryAge,
}

// Hooks are called by a [Hub] as subscribers come and go. Any of them may
// be nil. They run on the subscriber's handler goroutine and must not
// block.
type Hooks struct {
	// Connect is called when a stream subscribes.
	Connect func(s *Stream, topics []string)
	// Disconnect is called when a subscription ends, with the reason.
	Disconnect func(s *Stream, topics []string, err error)
	// Drop is called when DropOldest or KeepLatest dropped n events of the
	// subscriber.
	Drop func(s *Stream, topics []string, n int)
}

func (h Hooks) connect(s *Stream, topics []string) {
	if h.Connect != nil {
		h.Connect(s, topics)
	}
}

func (h Hooks) disconnect(s *Stream, topics []string, err error) {
	if h.Disconnect != nil {
		h.Disconnect(s, topics, err)
	}
}

func (h Hooks) drop(s *Stream, topics []string, n int) {
	if h.Drop != nil {
		h.Drop(s, topics, n)
	}
}

// A HubOption configures a [Hub].
type HubOption interface {
	applyHub(*hubConfig)
}

type hubConfig struct {
	backend   Backend
	history   HistoryLimits
	queueSize int
	maxTopics int // 0: no bound
	policy    SlowPolicy
	key       func(Message) string // nil: defaultKey
	latest    *latestTopics        // nil: no topic keeps its latest events
	hooks     Hooks
	logger    *slog.Logger
	observer  *Observer // WithObserver
}

type hubOptionFunc func(*hubConfig)

func (f hubOptionFunc) applyHub(c *hubConfig) { f(c) }

func newHubConfig(opts []HubOption) hubConfig {
	c := hubConfig{history: defaultHistory, queueSize: DefaultQueueSize, maxTopics: DefaultMaxTopics}
	for _, o := range opts {
		if o != nil {
			o.applyHub(&c)
		}
	}
	return c
}

func (c *hubConfig) log(level slog.Level, msg string, args ...any) {
	if c.logger != nil {
		c.logger.Log(context.Background(), level, msg, args...)
	}
}

// WithQueueSize sets how many events may wait for one subscriber before
// the [SlowPolicy] applies. The default is [DefaultQueueSize]; values below
// 1 mean 1.
func WithQueueSize(n int) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.queueSize = max(n, 1) })
}

// WithMaxTopics bounds the distinct topics of one subscription: past n,
// [Hub.Subscribe] returns an error wrapping [ErrTooManyTopics] and the
// stream ends. Subscribing and leaving hold the hub's lock for a time in
// proportion to the topics, which is what the bound limits when a client
// picks its topics (from a query, say); what an event costs does not
// depend on them. The default is [DefaultMaxTopics]; 0 or less is no
// bound.
func WithMaxTopics(n int) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.maxTopics = max(n, 0) })
}

// WithSlowPolicy sets what happens to a subscriber whose queue is full.
// The default is [DisconnectSlow].
func WithSlowPolicy(p SlowPolicy) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.policy = p })
}

// WithHistory bounds the in-memory history. The default is
// [DefaultHistoryPerTopic] events a topic, within [DefaultHistoryCount]
// events, [DefaultHistoryBytes] and [DefaultHistoryAge] in all. It has no effect with [WithBackend], whose history is
// the backend's.
func WithHistory(l HistoryLimits) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.history = l })
}

// WithBackend replaces the in-memory log by b, for example one shared by
// several servers. The hub closes b when it shuts down.
func WithBackend(b Backend) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.backend = b })
}

// WithHooks sets functions called as subscribers connect, disconnect and
// lose events.
func WithHooks(h Hooks) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.hooks = h })
}

// WithLogger makes the hub log slow clients (warn), undeliverable events
// (error) and departures (debug) to l. By default it logs nothing.
func WithLogger(l *slog.Logger) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.logger = l })
}
