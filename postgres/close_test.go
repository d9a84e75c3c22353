package ssepg

import (
	"context"
	"errors"
	"testing"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// Close ends the listener (waiting for a notification) and its
// connection, once; after it, Publish and Listen refuse, while PublishTx,
// which runs on the caller's transaction, still works.
func TestClose(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	table := newTable(t)
	pool := newPool(t, pg.url())
	ctx := context.Background()
	b, err := New(ctx, pool, WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Listen(func(sse.Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Listen(func(sse.Message) {}); err == nil {
		t.Error("a second Listen succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	msg := sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "x"}}
	if err := b.Publish(ctx, msg); !errors.Is(err, sse.ErrHubClosed) {
		t.Errorf("Publish after Close: %v, want ErrHubClosed", err)
	}
	if err := b.Listen(func(sse.Message) {}); !errors.Is(err, sse.ErrHubClosed) {
		t.Errorf("Listen after Close: %v, want ErrHubClosed", err)
	}
	if err := b.PublishTx(ctx, pool, sse.Event{Data: "x"}, testTopic); err != nil {
		t.Errorf("PublishTx after Close: %v", err)
	}
	if data := committed(t, pool, table); len(data) != 1 {
		t.Errorf("table holds %q, want the event of PublishTx", data)
	}
}
