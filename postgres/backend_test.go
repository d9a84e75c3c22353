package ssepg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// The scenario every backend runs: IDs chosen by publishers, resuming
// from each kind of ID, a reset for an unknown one.
func TestChosenIDs(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	backendtest.ChosenIDs(t, in.hub)
}

// Every ID that could not come back in a Last-Event-ID header is refused,
// by the hub and by the backend called directly, before anything is
// written.
func TestInvalidIDs(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	backendtest.InvalidIDs(t, in.hub, in.b)
}

// A batch reaches subscribers and replays as on every backend; the
// PostgreSQL backend inserts it in parts of 1,000.
func TestPublishBatch(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	backendtest.Batch(t, in.hub)
}

// A batch of 1,500 takes two INSERTs: each part's events get consecutive
// positions in the batch's order, even while another publisher commits
// events meanwhile.
func TestPublishBatchInsertsParts(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t), WithMaxLen(10000)) // the log keeps them all
	backendtest.BatchParts(t, 1500, maxBatch, in.b.PublishBatch, in.b.Publish, func(ctx context.Context) ([]string, error) {
		rows, err := in.pool.Query(ctx, "SELECT data FROM "+in.b.t.quoted+" WHERE pos IS NOT NULL ORDER BY pos")
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})
}

// Another program publishes with a plain INSERT: the trigger orders and
// announces its events, which reach the hub with their position as ID,
// or the ID it chose.
func TestPlainInsert(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	in := newInstance(t, pg.url(), table)
	c := in.connect(t, "live", "")
	backendtest.WaitSubscribers(t, in.hub, 1)
	_, err := in.pool.Exec(context.Background(), "INSERT INTO "+table+" (topics, data) VALUES ('{t}', 'a'), ('{other,t}', 'b');"+
		"INSERT INTO "+table+" (topics, data, chosen_id, type) VALUES ('{t}', 'c', 'x-1', 'kind')")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Take(t, 3)
	if got[0].Data != "a" || got[1].Data != "b" || got[2].Data != "c" || got[2].ID != "x-1" || got[2].Type != "kind" {
		t.Errorf("received%s\nwant a, b, and c with ID x-1 and type kind", describe(got))
	}
	if got[0].ID == "" || got[1].ID == "" || got[0].ID == got[1].ID {
		t.Errorf("IDs %q and %q, want two positions", got[0].ID, got[1].ID)
	}
}

// An event whose notification never comes (here a row written with the
// triggers off, so nothing is sent) is delivered by the next poll.
func TestPollWithoutNotification(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	in := newInstance(t, pg.url(), table, WithPoll(50*time.Millisecond))
	c := in.connect(t, "live", "")
	backendtest.WaitSubscribers(t, in.hub, 1)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+table+" (topics, data, pos, at) VALUES ('{t}', 'unannounced', nextval('"+table+"_pos'), now())")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := c.Next(t); ev.Data != "unannounced" {
		t.Errorf("received %+v, want the unannounced event", ev)
	}
}

// Hub.End on one server ends the streams of its topic on another server
// sharing the table (see sse.TestEnd).
func TestEnd(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	a, b := newInstance(t, pg.url(), table), newInstance(t, pg.url(), table)
	backendtest.End(t, a.hub, b.hub)
}

// Streams that end at their lifetime lose nothing through Postgres (see
// sse.TestRotation).
func TestRotation(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	backendtest.Rotation(t, newInstance(t, pg.url(), newTable(t)).hub)
}
