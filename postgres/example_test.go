package ssepg_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sse "github.com/eventwire/sse/core"
	ssepg "github.com/eventwire/sse/postgres"
)

// A handler changes an order and announces it in one transaction: the
// clients streaming "orders" receive the event if and only if the change
// is committed. (It needs a PostgreSQL server, so it has no checked
// output.)
func ExampleBackend_PublishTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	b, err := ssepg.New(ctx, pool) // creates the table if it is missing
	if err != nil {
		log.Fatal(err) // says what failed: the address, the password, ...
	}
	hub, err := sse.NewHub(sse.WithBackend(b)) // the hub closes b
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()

	http.Handle("GET /orders/events", sse.Handler(hub.StreamFunc("orders")))
	http.HandleFunc("POST /orders/{id}/pay", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := pgx.BeginFunc(r.Context(), pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(r.Context(), "UPDATE orders SET status = 'paid' WHERE id = $1", id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return errNoOrder // rolls back: nothing is published
			}
			ev := sse.Event{Type: "paid", JSON: map[string]string{"order": id}}
			return b.PublishTx(r.Context(), tx, ev, "orders")
		})
		switch {
		case errors.Is(err, errNoOrder):
			http.NotFound(w, r)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

var errNoOrder = errors.New("no such order")

// With database/sql, PublishSQL takes the *sql.Tx.
func ExampleBackend_PublishSQL() {
	var (
		ctx context.Context
		db  *sql.DB // opened with a PostgreSQL driver: pgx's stdlib, lib/pq
		b   *ssepg.Backend
	)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE orders SET status = 'shipped' WHERE id = $1", 42); err != nil {
		log.Fatal(err)
	}
	if err := b.PublishSQL(ctx, tx, sse.Event{Type: "shipped", Data: "42"}, "orders"); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err) // not committed: not published either
	}
}

// Open makes a pool of its own from a URL, and closes it with the
// backend; options set the table and the history.
func ExampleOpen() {
	ctx := context.Background()
	b, err := ssepg.Open(ctx, os.Getenv("DATABASE_URL"),
		ssepg.WithTable("app.events"), ssepg.WithMaxLen(10_000))
	if err != nil {
		log.Fatal(err)
	}
	hub, err := sse.NewHub(sse.WithBackend(b))
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	// Publish writes in a transaction of its own.
	if err := hub.Publish(ctx, sse.Event{Data: "hello"}, "news"); err != nil {
		log.Print(err)
	}
}

// Schema gives the SQL that New runs when the table is missing, to put in
// a migration instead.
func ExampleSchema() {
	ddl, err := ssepg.Schema("sse_events")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(ddl)
	_, err = ssepg.Schema("Events; DROP TABLE users")
	fmt.Println(err)
	// Output:
	// CREATE SEQUENCE IF NOT EXISTS "sse_events_pos" CACHE 1;
	// CREATE TABLE IF NOT EXISTS "sse_events" (
	// 	row_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	// 	pos       bigint UNIQUE,      -- place in the log, set at commit
	// 	at        timestamptz,        -- commit time, for the age bound
	// 	topics    text[] NOT NULL CHECK (cardinality(topics) > 0 AND array_position(topics, NULL) IS NULL),
	// 	chosen_id text,               -- the ID the publisher chose, if any
	// 	type      text NOT NULL DEFAULT '',
	// 	data      text NOT NULL DEFAULT '',
	// 	comment   text NOT NULL DEFAULT '',
	// 	retry_ms  bigint NOT NULL DEFAULT 0
	// );
	// CREATE INDEX IF NOT EXISTS "sse_events_chosen" ON "sse_events" (chosen_id, pos) WHERE chosen_id IS NOT NULL;
	// CREATE TABLE IF NOT EXISTS "sse_events_trimmed" (
	// 	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	// 	through bigint NOT NULL DEFAULT 0 -- the newest position the history bounds deleted
	// );
	// INSERT INTO "sse_events_trimmed" DEFAULT VALUES ON CONFLICT DO NOTHING;
	// CREATE OR REPLACE FUNCTION "sse_events_order"() RETURNS trigger LANGUAGE plpgsql AS $$
	// BEGIN
	// 	-- Held until the transaction has committed: positions follow commit order.
	// 	PERFORM pg_advisory_xact_lock(21984, TG_RELID::int4);
	// 	UPDATE "sse_events" SET pos = nextval('"sse_events_pos"'), at = clock_timestamp() WHERE row_id = NEW.row_id;
	// 	PERFORM pg_notify('sse_events', '');
	// 	RETURN NULL;
	// END
	// $$;
	// DO $$
	// BEGIN
	// 	IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"sse_events"'::regclass AND tgname = 'sse_order') THEN
	// 		CREATE CONSTRAINT TRIGGER sse_order AFTER INSERT ON "sse_events"
	// 			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "sse_events_order"();
	// 	END IF;
	// END
	// $$;
	// ssepg: bad table name: "Events; DROP TABLE users" (want a lower-case identifier, optionally after a schema and a dot)
}
