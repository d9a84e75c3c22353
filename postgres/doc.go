// Package ssepg is a PostgreSQL backend for the [sse.Hub]: the events live
// in a table of the application's own database, so that an event can be
// written in the same transaction as the change it announces, and is
// delivered if and only if that transaction commits. Several servers on
// one database share the events: whatever one publishes reaches the
// subscribers of its topic on every one, in the same order and with the
// same ID, and a client that reconnects to another server replays exactly
// what it missed.
//
// The hub takes the backend as an option; the handlers do not change:
//
//	b, err := ssepg.New(ctx, pool) // pool: the application's *pgxpool.Pool
//	if err != nil {
//		log.Fatal(err)
//	}
//	hub, err := sse.NewHub(sse.WithBackend(b)) // the hub closes b
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("/events", sse.Handler(hub.StreamFunc("orders")))
//
// and a handler publishes in its transaction:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if _, err := tx.Exec(ctx, "UPDATE orders SET status = 'paid' WHERE id = $1", id); err != nil {
//			return err
//		}
//		return b.PublishTx(ctx, tx, sse.Event{Type: "paid", JSON: order}, "orders")
//	})
//
// [Backend.PublishSQL] does the same on a database/sql transaction, and
// [sse.Hub.Publish] (or [Backend.Publish]) publishes in a transaction of
// its own.
//
// # Order
//
// Transactions commit in another order than the one they wrote in: a
// sequence number taken at INSERT would let a listener deliver event 8,
// committed first, and then never go back for event 7, committed a moment
// later. So an event's place in the log is given when its transaction
// commits: the table has a deferred constraint trigger, which runs at
// COMMIT, takes a transaction-level advisory lock, gives the row the next
// number of a sequence, and sends the notification. The lock is held until
// the transaction has committed and become visible, so the numbers follow
// the order in which transactions become visible: a reader that sees
// position n sees every committed position below it, and each listener
// reads the table after the last position it delivered, in order. Every
// hub delivers the same events in the same order, and none is skipped.
//
// What it costs: one INSERT in the publishing transaction, and at its
// commit one UPDATE of that row (the row is written twice) and the lock.
// Publishing transactions commit one after the other, each waiting for
// the one before to be visible (with synchronous_commit on, a write-ahead
// log flush each); what they do before their commit runs in parallel.
// NOTIFY alone already makes notifying transactions commit one at a time
// (PostgreSQL holds a cluster-wide lock from just before the commit until
// it is done, so that notifications are queued in commit order), so the
// ordering adds little to what the wake-up costs anyway. With pgbench (8
// clients, fsync on, a 2-core machine shared with other work, so the
// rates varied from run to run), an INSERT with this trigger ran at the
// rate of an INSERT with a NOTIFY and no ordering, and at a sixth to a
// half of a bare INSERT's. For more publishing commits a second than one server's commit
// rate, use the Redis backend. A transaction that runs SET CONSTRAINTS
// ALL IMMEDIATE takes the lock then, and holds it until it ends.
//
// The other design, a position taken from the transaction ID and
// delivered once pg_snapshot_xmin has passed it, lets publishers commit in
// parallel, but holds every event back behind the oldest transaction
// that writes anything in the whole cluster (a migration, a session idle
// in a transaction): delivery would stall for as long, for reasons that
// have nothing to do with events.
//
// # IDs
//
// IDs behave as with the in-memory hub (see [sse.Backend]): an event
// published without an ID gets its position as ID ("1042"), the same on
// every server; an event published with an ID keeps it, and a client
// resuming from it replays what came after the newest event that carries
// it (the table has an index of chosen IDs).
//
// # Delivery
//
// Each backend's listener has a connection of its own (outside the pool,
// with application_name "ssepg listener" unless the pool's configuration
// sets one) on which it runs LISTEN on a channel named as the table, so it
// needs a session of its own: PostgreSQL itself or a pooler in session
// mode, not PgBouncer in transaction mode. It reads the table after the last position it delivered each time a
// notification arrives, so an idle listener costs nothing and an event is
// delivered a round trip after its commit; and once per poll interval
// ([WithPoll], 5 s) without one, so a lost notification costs latency,
// never an event. When the connection fails or the server restarts, the
// listener reconnects with backoff ([WithBackoff]) and reads on from its
// last position. [Backend.Publish] retries, until its context ends, while
// the statement has not reached the server; if the connection failed
// after it was sent, it returns an error wrapping [ErrPublishUnknown].
//
// # History
//
// The table is the history that reconnecting clients replay. The
// listeners delete the events beyond about [WithMaxLen] (every 64 events
// delivered) and those committed more than [WithMaxAge] ago (once per poll
// interval), the newest excepted; one listener at a time does it, in a
// statement of its own, never in a publishing transaction. A client whose Last-Event-ID the
// table no longer holds receives an [sse.ResetEvent]; so do the clients of
// a listener that was cut off for longer than the history lasts, once, at
// the place where events were lost (the listeners note the newest position
// they deleted; holes in the positions, left by transactions that failed
// at commit, are not taken for losses). The history is trimmed only
// while some server runs a hub on the table.
//
// # Schema
//
// [New] creates the table, a sequence, an index, the trigger and a
// one-row table in which the listeners note how far they deleted, when
// any is missing. [Schema] returns that SQL, to run in a
// migration instead; the table's name is [DefaultTable] unless set with
// [WithTable]. Other programs may publish with a plain INSERT of topics
// and data (and, if they choose, chosen_id, type, comment and retry_ms):
// the trigger orders and announces their events too. Text columns hold
// neither a NUL byte nor text that is not UTF-8, so an event with a NUL
// byte or a topic that is not UTF-8 (which the other backends carry) is
// refused with [sse.ErrInvalidData].
package ssepg
