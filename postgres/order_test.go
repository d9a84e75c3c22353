package ssepg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// Eight writers publish in transactions that commit in another order than
// they wrote in, some of them rolling back: first one commit at a time,
// in a shuffled order (the writer that published last often commits
// first), then all at once. Two hubs deliver every committed event exactly
// once, in the same order, which is the order of the commits where that is
// known; nothing of the rolled-back ones; and a client resuming from any
// of them replays the rest in that order.
func TestConcurrentWritersCommitOutOfOrder(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	url := pg.url() + "&pool_max_conns=12"
	ins := []*instance{newInstance(t, url, table), newInstance(t, url, table)}
	var clients []*backendtest.Client
	for i, in := range ins {
		clients = append(clients, in.connect(t, fmt.Sprintf("client of hub %d", i), ""))
		backendtest.WaitSubscribers(t, in.hub, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, rounds = 8, 10
	rng := rand.New(rand.NewPCG(1, 2))

	// One commit at a time: the order of the commits is known.
	var inOrder []string // the committed events, in commit order
	rolledBack := map[string]bool{}
	for round := range rounds {
		txs := make([]pgx.Tx, writers)
		for w := range writers {
			tx, err := ins[w%2].pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			txs[w] = tx
			if err := ins[w%2].b.PublishTx(ctx, tx, sse.Event{Data: fmt.Sprintf("serial %d.%d", round, w)}, testTopic); err != nil {
				t.Fatal(err)
			}
		}
		order := rng.Perm(writers)
		if round == 0 {
			slices.Reverse(order) // the last writer commits first
		}
		for i, w := range order {
			data := fmt.Sprintf("serial %d.%d", round, w)
			if i == round%writers {
				rolledBack[data] = true
				if err := txs[w].Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := txs[w].Commit(ctx); err != nil {
				t.Fatal(err)
			}
			inOrder = append(inOrder, data)
		}
	}

	// All at once: each writer publishes, waits until every writer has,
	// and commits (or rolls back) at the same time as the others.
	for round := range rounds {
		var published, wg sync.WaitGroup
		published.Add(writers)
		start := make(chan struct{})
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := fmt.Sprintf("concurrent %d.%d", round, w)
				tx, err := ins[w%2].pool.Begin(ctx)
				if err == nil {
					err = ins[w%2].b.PublishTx(ctx, tx, sse.Event{Data: data}, testTopic)
				}
				published.Done()
				<-start
				if err == nil && w == (round+3)%writers {
					err = tx.Rollback(ctx)
				} else if err == nil {
					err = tx.Commit(ctx)
				}
				errs <- err
			}()
			if w == (round+3)%writers {
				rolledBack[fmt.Sprintf("concurrent %d.%d", round, w)] = true
			}
		}
		published.Wait()
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	ins[0].publish(t, "end")

	want := committed(t, ins[0].pool, table) // in position order
	if n := 2*rounds*writers - 2*rounds + 1; len(want) != n {
		t.Fatalf("the table holds %d events, want %d", len(want), n)
	}
	var first []sse.Event
	for _, c := range clients {
		var got []sse.Event
		for {
			ev := c.Next(t)
			got = append(got, ev)
			if ev.Data == "end" {
				break
			}
		}
		data := dataOf(got)
		if data != dataOf(eventsOf(want)) {
			t.Fatalf("%s received, in this order:\n%s\nwant the committed events in position order:\n%s", c.Name, data, dataOf(eventsOf(want)))
		}
		for _, ev := range got {
			if rolledBack[ev.Data] {
				t.Errorf("%s received %q, which was rolled back", c.Name, ev.Data)
			}
		}
		if first == nil {
			first = got
		} else if !slices.EqualFunc(got, first, func(a, b sse.Event) bool { return a.ID == b.ID && a.Data == b.Data }) {
			t.Errorf("%s received%s\nwant the same as %s%s", c.Name, describe(got), clients[0].Name, describe(first))
		}
	}
	var serial []string
	for _, ev := range first {
		if len(ev.Data) > 7 && ev.Data[:7] == "serial " {
			serial = append(serial, ev.Data)
		}
	}
	if !slices.Equal(serial, inOrder) {
		t.Errorf("the events committed one at a time arrived as\n%q\nwant commit order\n%q", serial, inOrder)
	}

	// A client resuming from any event replays what followed it, in the
	// same order.
	for _, k := range []int{0, 7, len(first) / 2, len(first) - 2} {
		c := ins[1].connect(t, fmt.Sprintf("client resuming from event %d", k), first[k].ID)
		rest := c.Take(t, len(first)-k-1)
		if dataOf(rest) != dataOf(first[k+1:]) {
			t.Errorf("%s replayed\n%s\nwant\n%s", c.Name, dataOf(rest), dataOf(first[k+1:]))
		}
		c.Close()
	}
}

func eventsOf(data []string) []sse.Event {
	evs := make([]sse.Event, len(data))
	for i, d := range data {
		evs[i].Data = d
	}
	return evs
}
