// Package sseotel reports the metrics of github.com/eventwire/sse (streams,
// hubs and clients) through the OpenTelemetry metric API. It uses the API
// only: the application installs an SDK and an exporter (OTLP, Prometheus)
// and hands in its MeterProvider, or sets the global one.
//
// Make the [Metrics] once, then give [Metrics.Option] to each handler, hub
// and client to observe:
//
//	m, err := sseotel.New(sseotel.WithMeterProvider(provider))
//	if err != nil {
//		return err
//	}
//	hub, err := sse.NewHub(m.Option())
//	mux.Handle("GET /events", sse.Handler(hub.StreamFunc("news"), m.Option()))
//	// and, in a program that consumes a stream:
//	for ev, err := range sse.Events(client, req, m.Option()) { ... }
//
// # Instruments
//
// Streams (any handler given the option; a hub's subscriptions are streams
// of the handler that serves them):
//
//   - sse.streams.open (UpDownCounter, {stream}): streams open now.
//   - sse.streams.opened (Counter, {stream}).
//   - sse.streams.ended (Counter, {stream}), with sse.end.cause: client_left,
//     slow, write_timeout, shutdown, max_lifetime, ended or error (see
//     [EndCause]).
//   - sse.events.written (Counter, {event}).
//   - sse.bytes.written (Counter, By): events, heartbeats and retry fields.
//   - sse.heartbeats.written (Counter, {heartbeat}).
//   - sse.write.duration (Histogram, s): each write and its flush; a write
//     that failed has error.type (write_timeout or _OTHER).
//
// Hubs:
//
//   - sse.hub.events.published (Counter, {event}): events the hub's fan-out
//     took from its log (published on any server sharing its backend).
//   - sse.hub.events.fanned_out (Counter, {event}): events queued for
//     subscribers, once per subscriber.
//   - sse.hub.events.dropped (Counter, {event}): dropped under DropOldest.
//   - sse.hub.slow_disconnects (Counter, {stream}): under DisconnectSlow.
//   - sse.hub.replays (Counter, {replay}) and sse.hub.events.replayed
//     (Counter, {event}): answers to a Last-Event-ID and the events they
//     replayed.
//   - sse.hub.resets (Counter, {reset}), with sse.reset.reason: unknown_id
//     (the client's ID cannot be resumed from) or lost (the backend lost
//     events).
//   - sse.hub.fanout.lag (Gauge, {event}): events that reached the hub
//     and wait for its fan-out, for a hub given to [Metrics.ObserveHub].
//
// Clients ([sse.Events], [sse.Get]):
//
//   - sse.client.connections (Counter, {connection}): responses that
//     streamed events, the first included.
//   - sse.client.reconnects (Counter, {reconnect}), with
//     sse.reconnect.cause: eof, idle_timeout, status or error (see
//     [ReconnectCause]).
//   - sse.client.events.received (Counter, {event}).
//
// The attributes take a few fixed values. No metric carries a topic, a
// user or a path unless [WithTopicAttribute] asks for topics, which is
// safe only for a few fixed topics: read its warning.
//
// # Cost
//
// A handler, hub or client not given the option pays one pointer test at
// each place it would report. One given it pays for the measurements: a
// few counter additions a write (no allocation with the default, no-op
// provider), one for each event published and one for each batch the
// hub's fan-out hands out, whatever the number of subscribers.
package sseotel
