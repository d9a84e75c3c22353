package sseotel

import (
	"context"
	"errors"

	sse "github.com/eventwire/sse/core"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the name of the instrumentation scope (the meter) that
// reports the metrics.
const ScopeName = "github.com/eventwire/sse/otel"

// Attribute keys of the metrics.
const (
	// EndCauseKey is why a stream ended, on sse.streams.ended: one of
	// client_left, slow, write_timeout, shutdown, max_lifetime, ended, error.
	EndCauseKey = attribute.Key("sse.end.cause")
	// ResetReasonKey is why a hub sent a reset, on sse.hub.resets:
	// unknown_id or lost (see [sse.ResetReason]).
	ResetReasonKey = attribute.Key("sse.reset.reason")
	// ReconnectCauseKey is why a client reconnected, on
	// sse.client.reconnects: eof, idle_timeout, status or error.
	ReconnectCauseKey = attribute.Key("sse.reconnect.cause")
	// TopicKey is a hub topic, on the hub's metrics with
	// [WithTopicAttribute] only.
	TopicKey = attribute.Key("sse.topic")
	// ErrorTypeKey is set on sse.write.duration for a write that failed:
	// write_timeout or _OTHER, as OpenTelemetry's error.type.
	ErrorTypeKey = attribute.Key("error.type")
)

// Metrics reports what the streams, hubs and clients it is given to do, as
// OpenTelemetry instruments. Make it once with [New] and give
// [Metrics.Option] to every [sse.Handler] (or [sse.Serve], adapter), hub
// and client to observe. It is safe for concurrent use.
type Metrics struct {
	topics bool
	opt    sse.ObserverOption
	meter  metric.Meter
	lag    metric.Int64ObservableGauge

	streamsOpen   metric.Int64UpDownCounter
	streamsOpened metric.Int64Counter
	streamsEnded  metric.Int64Counter
	events        metric.Int64Counter
	bytes         metric.Int64Counter
	heartbeats    metric.Int64Counter
	writeDuration metric.Float64Histogram

	published metric.Int64Counter
	fannedOut metric.Int64Counter
	dropped   metric.Int64Counter
	slow      metric.Int64Counter
	replays   metric.Int64Counter
	replayed  metric.Int64Counter
	resets    metric.Int64Counter

	connections metric.Int64Counter
	reconnects  metric.Int64Counter
	received    metric.Int64Counter

	// Attribute sets made once, so that a measurement allocates nothing.
	endCauses       map[string][]metric.AddOption
	resetReasons    map[string][]metric.AddOption
	reconnectCauses map[string][]metric.AddOption
	writeErrors     map[string][]metric.RecordOption
}

// An Option configures [New].
type Option interface {
	apply(*config)
}

type config struct {
	provider metric.MeterProvider
	topics   bool
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMeterProvider sets the provider of the meter. The default is
// [otel.GetMeterProvider], the global one, at the time [New] is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.provider = mp })
}

// WithTopicAttribute adds the attribute sse.topic to the hub's metrics:
// sse.hub.events.published counts each event once per topic it was
// published to, and the metrics of one subscription (dropped events, slow
// disconnects, replays, resets) carry the first topic it named.
//
// Every distinct topic makes a time series of each of those metrics, kept
// by the SDK for the life of the process and sent by the exporter at each
// collection: use it only when the topics are few and fixed (a handful of
// channels), never when they name users, sessions or documents. It also
// costs an allocation for each measurement that has the attribute.
func WithTopicAttribute() Option {
	return optionFunc(func(c *config) { c.topics = true })
}

// New makes the instruments on a meter of the provider (see
// [WithMeterProvider]) named [ScopeName]. It returns an error if the
// provider cannot make them; the instruments made are usable even then.
func New(opts ...Option) (*Metrics, error) {
	c := config{}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	meter := c.provider.Meter(ScopeName)
	m := &Metrics{topics: c.topics, meter: meter}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		i, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}

	var err error
	m.streamsOpen, err = meter.Int64UpDownCounter("sse.streams.open", metric.WithUnit("{stream}"),
		metric.WithDescription("Event streams open now."))
	errs = append(errs, err)
	m.streamsOpened = counter("sse.streams.opened", "{stream}", "Event streams opened: their headers were sent.")
	m.streamsEnded = counter("sse.streams.ended", "{stream}", "Event streams ended, by cause.")
	m.events = counter("sse.events.written", "{event}", "Events written to clients.")
	m.bytes = counter("sse.bytes.written", "By", "Bytes of events, comments and retry fields written to clients.")
	m.heartbeats = counter("sse.heartbeats.written", "{heartbeat}", "Heartbeat comments written to idle streams.")
	m.writeDuration, err = meter.Float64Histogram("sse.write.duration", metric.WithUnit("s"),
		metric.WithDescription("How long one write and flush to a client took; a failed write has error.type."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10))
	errs = append(errs, err)

	m.published = counter("sse.hub.events.published", "{event}", "Events a hub's fan-out took from its log, once whatever the subscribers.")
	m.fannedOut = counter("sse.hub.events.fanned_out", "{event}", "Events queued for subscribers, once per subscriber.")
	m.dropped = counter("sse.hub.events.dropped", "{event}", "Queued events dropped under DropOldest.")
	m.slow = counter("sse.hub.slow_disconnects", "{stream}", "Subscriptions ended under DisconnectSlow because their queue overflowed.")
	m.replays = counter("sse.hub.replays", "{replay}", "Answers to a reconnecting subscription's Last-Event-ID: a replay, maybe empty, perhaps followed by a reset.")
	m.replayed = counter("sse.hub.events.replayed", "{event}", "Events replayed to reconnecting subscriptions.")
	m.resets = counter("sse.hub.resets", "{reset}", "Reset events sent to subscriptions, by reason.")
	m.lag, err = meter.Int64ObservableGauge("sse.hub.fanout.lag", metric.WithUnit("{event}"),
		metric.WithDescription("Events that reached a hub from its log and wait for its fan-out (see ObserveHub)."))
	errs = append(errs, err)

	m.connections = counter("sse.client.connections", "{connection}", "Responses that streamed events to a client, the first included.")
	m.reconnects = counter("sse.client.reconnects", "{reconnect}", "Reconnections of clients, by cause.")
	m.received = counter("sse.client.events.received", "{event}", "Events clients received.")

	m.endCauses = addOptions(EndCauseKey, causeClientLeft, causeSlow, causeWriteTimeout, causeShutdown, causeMaxLifetime, causeEnded, causeError)
	m.resetReasons = addOptions(ResetReasonKey, sse.ResetUnknownID.String(), sse.ResetLost.String())
	m.reconnectCauses = addOptions(ReconnectCauseKey, reconnectEOF, reconnectIdle, reconnectStatus, reconnectError)
	m.writeErrors = map[string][]metric.RecordOption{}
	for _, v := range []string{causeWriteTimeout, otherError} {
		m.writeErrors[v] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(ErrorTypeKey.String(v)))}
	}

	m.opt = sse.WithObserver(m.observer())
	return m, errors.Join(errs...)
}

// addOptions returns the measurement options of key's values, made once.
func addOptions(key attribute.Key, values ...string) map[string][]metric.AddOption {
	opts := make(map[string][]metric.AddOption, len(values))
	for _, v := range values {
		opts[v] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(key.String(v)))}
	}
	return opts
}

// Option returns the option that makes a stream handler, a hub or a client
// report to m: pass it to [sse.Handler], [sse.Serve], [sse.StreamTo], a
// router adapter, [sse.NewHub], [sse.Events] or [sse.Get]. A hub's
// subscriptions are streams of the handler that serves them: give the
// option to both to see both.
func (m *Metrics) Option() sse.ObserverOption { return m.opt }

// ObserveHub reports hub's fan-out lag, [sse.Stats].FanOutLag, as the gauge
// sse.hub.fanout.lag: the events that reached the hub from its log and
// wait to be queued for its subscribers. It grows when publishers are
// faster than the hub can hand events out. Each collection reads
// hub.Stats, which visits every subscriber. The returned function stops
// the reporting; call it before the hub is closed.
func (m *Metrics) ObserveHub(hub *sse.Hub) (stop func() error, err error) {
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(m.lag, int64(hub.Stats().FanOutLag))
		return nil
	}, m.lag)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// observer returns the functions that record the measurements.
func (m *Metrics) observer() sse.Observer {
	ctx := context.Background()
	return sse.Observer{
		StreamOpen: func() {
			m.streamsOpen.Add(ctx, 1)
			m.streamsOpened.Add(ctx, 1)
		},
		StreamEnd: func(cause error) {
			m.streamsOpen.Add(ctx, -1)
			m.streamsEnded.Add(ctx, 1, m.endCauses[EndCause(cause)]...)
		},
		Write: func(w sse.Write) {
			if w.Err != nil {
				m.writeDuration.Record(ctx, w.Duration.Seconds(), m.writeErrors[writeErrorType(w.Err)]...)
				return
			}
			m.writeDuration.Record(ctx, w.Duration.Seconds())
			m.bytes.Add(ctx, int64(w.Bytes))
			if w.Events > 0 {
				m.events.Add(ctx, int64(w.Events))
			}
			if w.Heartbeat {
				m.heartbeats.Add(ctx, 1)
			}
		},
		Publish: func(topics []string) {
			if !m.topics {
				m.published.Add(ctx, 1)
				return
			}
			for _, t := range topics {
				m.published.Add(ctx, 1, metric.WithAttributes(TopicKey.String(t)))
			}
		},
		FanOut: func(n int) { m.fannedOut.Add(ctx, int64(n)) },
		Drop:   func(topics []string, n int) { m.addForSubscription(m.dropped, topics, int64(n)) },
		Slow:   func(topics []string) { m.addForSubscription(m.slow, topics, 1) },
		Replay: func(topics []string, n int) {
			m.addForSubscription(m.replays, topics, 1)
			if n > 0 {
				m.addForSubscription(m.replayed, topics, int64(n))
			}
		},
		Reset: func(topics []string, reason sse.ResetReason) {
			opts := m.resetReasons[reason.String()]
			if m.topics && len(topics) > 0 {
				opts = []metric.AddOption{metric.WithAttributes(ResetReasonKey.String(reason.String()), TopicKey.String(topics[0]))}
			}
			m.resets.Add(ctx, 1, opts...)
		},
		Connect:   func() { m.connections.Add(ctx, 1) },
		Reconnect: func(r sse.Reconnect) { m.reconnects.Add(ctx, 1, m.reconnectCauses[ReconnectCause(r.Cause)]...) },
		Receive:   func() { m.received.Add(ctx, 1) },
	}
}

// addForSubscription adds n to c for a subscription to topics, with its first
// topic if topics are attributes.
func (m *Metrics) addForSubscription(c metric.Int64Counter, topics []string, n int64) {
	if m.topics && len(topics) > 0 {
		c.Add(context.Background(), n, metric.WithAttributes(TopicKey.String(topics[0])))
		return
	}
	c.Add(context.Background(), n)
}
