package ssepg

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
)

// testTopic is the topic the tests publish to and stream.
const testTopic = "t"

var tables atomic.Int64

// newTable returns a table name no other test of the run uses.
func newTable(t testing.TB) string {
	return fmt.Sprintf("events_%d", tables.Add(1))
}

// instance is one server of an application: a pool, a backend on it, a
// hub on that, and an HTTP server that streams testTopic.
type instance struct {
	pool *pgxpool.Pool
	b    *Backend
	hub  *sse.Hub
	srv  *httptest.Server
}

// newInstance starts an instance on the database at url, table table,
// closed when the test ends.
func newInstance(t testing.TB, url, table string, opts ...Option) *instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool := newPool(t, url)
	opts = append([]Option{WithTable(table), WithBackoff(10*time.Millisecond, 200*time.Millisecond)}, opts...)
	b, err := New(ctx, pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// A listener back from an outage delivers what it missed at once: the
	// queues hold a burst of the publishers' speed, so that the slow
	// policy does not end the streams under test.
	hub, err := sse.NewHub(sse.WithBackend(b), sse.WithQueueSize(1<<12))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc(testTopic), sse.WithHeartbeat(0)))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		if err := hub.Close(); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		srv.Close()
	})
	return &instance{pool: pool, b: b, hub: hub, srv: srv}
}

// newPool returns a pool on the database at url, closed when the test
// ends.
func newPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// connect opens a stream of testTopic on the instance.
func (in *instance) connect(t testing.TB, name, lastID string) *backendtest.Client {
	t.Helper()
	return backendtest.Connect(t, in.srv.Client(), in.srv.URL, name, lastID)
}

// publish publishes an event with data to testTopic through the hub.
func (in *instance) publish(t testing.TB, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.hub.Publish(ctx, sse.Event{Data: data}, testTopic); err != nil {
		t.Fatalf("Publish(%q): %v", data, err)
	}
}

// committed returns the data of the events the table holds, in log order.
func committed(t testing.TB, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var data []string
	var err error
	for range 100 { // the server may be restarting
		rows, qerr := pool.Query(ctx, "SELECT data FROM "+table+" ORDER BY pos")
		if qerr == nil {
			data = data[:0]
			for rows.Next() {
				var d string
				if err := rows.Scan(&d); err != nil {
					t.Fatal(err)
				}
				data = append(data, d)
			}
			if err = rows.Err(); err == nil {
				return data
			}
		} else {
			err = qerr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("read the table: %v", err)
	return nil
}

func describe(evs []sse.Event) string { return backendtest.Describe(evs) }

func dataOf(evs []sse.Event) string {
	var d []string
	for _, ev := range evs {
		d = append(d, ev.Data)
	}
	return strings.Join(d, " ")
}
