package ssepg

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// txDriver is a way for a handler to hold a transaction: pgx or
// database/sql. Each function runs fn in a transaction and commits it,
// unless fn returns an error: then it rolls back and returns that error.
type txDriver struct {
	name string
	// begin starts a transaction; publish publishes in it, savepoint and
	// rollbackTo mark and undo part of it, end commits or rolls back.
	begin func(t *testing.T, in *instance) txHandle
}

type txHandle struct {
	publish    func(ctx context.Context, ev sse.Event) error
	exec       func(ctx context.Context, sql string) error
	commit     func(ctx context.Context) error
	rollback   func(ctx context.Context) error
	connection string // for failure messages
}

var txDrivers = []txDriver{
	{name: "pgx", begin: func(t *testing.T, in *instance) txHandle {
		ctx := context.Background()
		tx, err := in.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return txHandle{
			publish: func(ctx context.Context, ev sse.Event) error { return in.b.PublishTx(ctx, tx, ev, testTopic) },
			exec: func(ctx context.Context, q string) error {
				_, err := tx.Exec(ctx, q)
				return err
			},
			commit:   tx.Commit,
			rollback: tx.Rollback,
		}
	}},
	{name: "database/sql", begin: func(t *testing.T, in *instance) txHandle {
		db := stdlib.OpenDBFromPool(in.pool)
		t.Cleanup(func() { db.Close() })
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return txHandle{
			publish: func(ctx context.Context, ev sse.Event) error { return in.b.PublishSQL(ctx, tx, ev, testTopic) },
			exec: func(ctx context.Context, q string) error {
				_, err := tx.ExecContext(ctx, q)
				return err
			},
			commit:   func(context.Context) error { return tx.Commit() },
			rollback: func(context.Context) error { return tx.Rollback() },
		}
	}},
}

// An event published in a transaction reaches every hub if and only if
// the transaction commits, and only once it has: a rollback, or a
// rollback to a savepoint taken before the publish, delivers nothing, and
// an event published later in another transaction but committed first is
// delivered first, without the other being skipped.
func TestPublishTx(t *testing.T) {
	pg := sharedPostgres(t)
	for _, d := range txDrivers {
		t.Run(d.name, func(t *testing.T) {
			leaktest.Check(t)
			table := newTable(t)
			ins := []*instance{newInstance(t, pg.url(), table), newInstance(t, pg.url(), table)}
			var clients []*backendtest.Client
			for i, in := range ins {
				clients = append(clients, in.connect(t, fmt.Sprintf("client of hub %d", i), ""))
				backendtest.WaitSubscribers(t, in.hub, 1)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}

			rolledBack := d.begin(t, ins[0])
			must(rolledBack.publish(ctx, sse.Event{Data: "rolled back"}))
			must(rolledBack.rollback(ctx))

			// Published first, committed last.
			late := d.begin(t, ins[0])
			must(late.publish(ctx, sse.Event{Data: "published first, committed last", Type: "late"}))
			must(late.exec(ctx, "SAVEPOINT s"))
			must(late.publish(ctx, sse.Event{Data: "rolled back to a savepoint"}))
			must(late.exec(ctx, "ROLLBACK TO SAVEPOINT s"))

			early := d.begin(t, ins[1])
			must(early.publish(ctx, sse.Event{ID: "order-1", JSON: map[string]int{"n": 1}}))
			must(early.commit(ctx))
			for _, c := range clients {
				if ev := c.Next(t); ev.Data != `{"n":1}` || ev.ID != "order-1" {
					t.Fatalf("%s: first event %+v, want the one committed first", c.Name, ev)
				}
			}
			must(late.commit(ctx))
			ins[1].publish(t, "after")
			for _, c := range clients {
				got := c.Take(t, 2)
				if got[0].Data != "published first, committed last" || got[0].Type != "late" || got[1].Data != "after" {
					t.Errorf("%s: then %s, want the event committed last, then after", c.Name, describe(got))
				}
			}
			// Nothing of the rolled-back work is in the history either.
			if data := committed(t, ins[0].pool, table); fmt.Sprint(data) != `[{"n":1} published first, committed last after]` {
				t.Errorf("table holds %q", data)
			}
		})
	}
}

// PublishTx refuses, before anything is written, what the hub refuses,
// and what PostgreSQL text cannot hold; the transaction goes on.
func TestPublishTxRefuses(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	in := newInstance(t, pg.url(), table)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		ev     sse.Event
		topics []string
		want   error
	}{
		{"no topic", sse.Event{Data: "x"}, nil, sse.ErrNoTopic},
		{"empty event", sse.Event{}, []string{testTopic}, sse.ErrEmptyEvent},
		{"bad ID", sse.Event{ID: "a\nb", Data: "x"}, []string{testTopic}, sse.ErrInvalidID},
		{"two payloads", sse.Event{Data: "x", JSON: 1}, []string{testTopic}, sse.ErrDataConflict},
		{"data and bytes", sse.Event{Data: "x", Bytes: []byte("y")}, []string{testTopic}, sse.ErrDataConflict},
		{"JSON that cannot be encoded", sse.Event{JSON: func() {}}, []string{testTopic}, sse.ErrInvalidData},
		{"NUL in data", sse.Event{Data: "a\x00b"}, []string{testTopic}, sse.ErrInvalidData},
		{"NUL in a topic", sse.Event{Data: "x"}, []string{"a\x00"}, sse.ErrInvalidData},
		{"topic not UTF-8", sse.Event{Data: "x"}, []string{"\xff"}, sse.ErrInvalidData},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
				if err := in.b.PublishTx(ctx, tx, c.ev, c.topics...); !errors.Is(err, c.want) {
					t.Errorf("PublishTx: %v, want %v", err, c.want)
				}
				// The transaction is still usable.
				_, err := tx.Exec(ctx, "SELECT 1")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			db := stdlib.OpenDBFromPool(in.pool)
			defer db.Close()
			if err := in.b.PublishSQL(ctx, db, c.ev, c.topics...); !errors.Is(err, c.want) {
				t.Errorf("PublishSQL: %v, want %v", err, c.want)
			}
		})
	}
	if data := committed(t, in.pool, table); len(data) != 0 {
		t.Errorf("table holds %q, want nothing", data)
	}
}

// Topics, types, comments, retry delays and text with quotes, backslashes
// and braces (which the topics' array literal must escape) come back as
// they were published, through each way of publishing.
func TestRoundTrip(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	ctx := context.Background()
	in.publish(t, "start")
	topics := []string{testTopic, `a "quoted", {braced} \ topic`, "", "NULL", "ü"}
	want := []sse.Message{
		{Topics: topics, Event: sse.Event{Type: "kind", Data: "line 1\nline \"2\" \\ {x}", Comment: "c", Retry: 1500 * time.Millisecond}},
		{ID: "chosen", Topics: topics[1:2], Event: sse.Event{ID: "chosen", Comment: "only a comment"}},
	}
	var publishers []func(sse.Message) error
	for _, d := range txDrivers {
		publishers = append(publishers, func(m sse.Message) error {
			h := d.begin(t, in)
			if err := h.publish(ctx, m.Event); err != nil {
				return err
			}
			return h.commit(ctx)
		})
	}
	publishers = append(publishers, func(m sse.Message) error { return in.b.Publish(ctx, m) })
	publishers = append(publishers, func(m sse.Message) error { return in.hub.Publish(ctx, m.Event, m.Topics...) })
	for _, p := range publishers {
		for _, m := range want {
			// The drivers' publish functions use testTopic; the others m.Topics.
			if err := p(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []sse.Message
	err := in.b.Replay(ctx, "1", func(m sse.Message) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(publishers) {
		t.Fatalf("replay: %d messages, want %d: %+v", len(got), 2*len(publishers), got)
	}
	for i, m := range got {
		w := want[i%2]
		if i < 2*len(txDrivers) {
			w.Topics = []string{testTopic}
		}
		if w.ID == "" {
			w.ID, w.Event.ID = m.Pos, m.Pos
		}
		if fmt.Sprintf("%q %q %q %+v", m.ID, m.Pos, m.Topics, m.Event) != fmt.Sprintf("%q %q %q %+v", w.ID, m.Pos, w.Topics, w.Event) {
			t.Errorf("message %d:\n got %q %q %+v\nwant %q %q %+v", i, m.ID, m.Topics, m.Event, w.ID, w.Topics, w.Event)
		}
	}
}
