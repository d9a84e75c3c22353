// Package sseredis is a Redis backend for the [sse.Hub]: several servers
// behind a load balancer share one Redis stream, so that an event
// published on any of them reaches the subscribers of its topic on every
// one, in the same order and with the same ID, and a client that
// reconnects to another server replays exactly what it missed.
//
// The handlers do not change; the hub takes the backend as an option:
//
//	b, err := sseredis.Open(ctx, os.Getenv("REDIS_URL"))
//	if err != nil {
//		log.Fatal(err) // says what failed: the address, the password, ...
//	}
//	hub, err := sse.NewHub(sse.WithBackend(b)) // the hub closes b
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("/events", sse.Handler(hub.StreamFunc("news")))
//	hub.Publish(ctx, sse.Event{Data: "hello"}, "news")
//
// Use [New] instead of [Open] to pass a client of your own (a
// [redis.ClusterClient], a sentinel-backed one, ...).
//
// # IDs
//
// IDs behave as with the in-memory hub (see [sse.Backend]): an event
// published without an ID gets the ID Redis gives its stream entry (such
// as "1700000000000-0"), the same on every server; an event published
// with an ID keeps it, and a client resuming from it replays what came
// after the newest event that carries it. The backend keeps an index of
// such IDs beside the stream, trimmed with it.
//
// # Batches
//
// [sse.Hub.PublishBatch] hands this backend whole batches
// ([Backend.PublishBatch]): up to 256 events are added by one script run,
// one round trip, with no other entry between them. A publisher with many
// events in hand pays the round trip once per batch instead of once per
// event: about 6 µs per event in batches of 32 against 50 µs one at a
// time on a local Redis (BenchmarkPublish).
//
// # History
//
// The stream is the history that reconnecting clients replay. Each
// publish trims it to about [WithMaxLen] entries and drops the entries
// older than [WithMaxAge]; both are approximate (Redis trims whole
// internal nodes), so a few more may stay. A client whose Last-Event-ID
// the stream no longer holds receives an [sse.ResetEvent].
//
// The bounds are the whole stream's: Redis trims a stream by length or
// age, not by a field of its entries, so this backend has no per-topic
// bound like the in-memory log's [sse.HistoryLimits.PerTopic], and a busy
// topic can push a quiet topic's events out. Feeds of very different
// rates do better on hubs of their own, with separate keys ([WithKey]).
//
// # Faults
//
// When the connection fails or Redis restarts, the backend reconnects by
// itself with exponential backoff and jitter ([WithBackoff]); the clients'
// streams stay open. [Backend.Publish] (and so [sse.Hub.Publish]) keeps
// trying until its context ends, and returns within milliseconds of that
// even while Redis does not answer: with an error wrapping
// [ErrPublishUnknown] if the command may have reached Redis, or one that
// says the event was not published. It never adds one event twice: each
// entry carries a random token that a retry looks for first, and
// publishing the same event again within [PendingTTL] of an unknown
// outcome reuses its token. The listener resumes after the last entry it
// delivered, and checks after every read whether Redis lost its data (a
// flush, a restart without persistence): then every client receives an
// [sse.ResetEvent] and every event added since, even those whose IDs are
// at or below the last one delivered before. If, after a reconnection,
// Redis no longer holds the last entry delivered (the stream was trimmed
// past it, Redis restarted from older data, or a replica that was behind
// took over while the marker survived), the clients receive a reset too,
// and then every event added since, even one whose ID is below the last
// one delivered (a clock behind): the listener goes on after the newest
// entry Redis still holds among the last 1,024 it delivered. What Redis
// itself loses after acknowledging it,
// before any listener read it, is lost without a trace, as any Redis data:
// up to a second of writes on a crash with appendfsync everysec (use
// always), or the writes a replica had not received when it took over.
//
// # Keys and entries
//
// The stream's key is [DefaultKey] unless set with [WithKey]. Next to it
// the backend keeps a marker, "{key}:epoch" (or "key:epoch" if the key
// has a hash tag), whose loss tells that Redis lost its data; the index
// of chosen IDs, the hash "{key}:ids" and the list "{key}:ids:order";
// and, while Close runs, a short-lived "{key}:wake:…" stream per server.
// The braces keep them on the stream's slot in a Redis Cluster (there, a
// key must have a hash tag or no "}"). An entry's fields are k (the
// publish token), t (the topics, each written as its length in bytes, a
// colon and the topic: "4:news5:sport"), and, when set, i (the ID the
// publisher chose), e (the event type), d (the data), c (the comment) and
// r (the retry delay in milliseconds). Other programs may add entries in this form
// with XADD, leaving out i (the index would not hold their ID, and a
// client resuming from it would get a reset event); entries in another
// form are logged, counted
// ([Backend.Skipped]) and skipped, live and in replays, and never end a
// replay.
package sseredis
