package sse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	sse "github.com/eventwire/sse/core"
)

// A hub serves a topic to every client that opens the stream; whatever is
// published to the topic reaches them all. With EndOnShutdown,
// Server.Shutdown ends the open streams instead of waiting for them
// forever; the hub is closed after it.
func ExampleHub() {
	hub, err := sse.NewHub()
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewUnstartedServer(sse.Handler(hub.StreamFunc("news")))
	sse.EndOnShutdown(srv.Config)
	srv.Start()
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	// The stream subscribes once its headers are sent; events published
	// before that would reach it only through a reconnect's replay.
	for hub.Stats().Subscribers == 0 {
		time.Sleep(time.Millisecond)
	}

	ctx := context.Background()
	hub.Publish(ctx, sse.Event{Type: "headline", Data: "Hub released"}, "news")
	hub.Publish(ctx, sse.Event{JSON: map[string]int{"readers": 1}}, "news")
	dec := sse.NewDecoder(resp.Body)
	for range 2 {
		ev, err := dec.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Type, ev.Data)
	}

	srv.Config.Shutdown(ctx)
	_, err = dec.Next()
	fmt.Println("stream ended:", err == io.EOF)
	hub.Close()
	fmt.Println(hub.Publish(ctx, sse.Event{Data: "too late"}, "news"))
	// Output:
	// headline Hub released
	// message {"readers":1}
	// stream ended: true
	// sse: hub closed
}

// A client that reconnects with the ID of the last event it saw (as
// EventSource does, in the Last-Event-ID header) first receives the events
// it missed, from the hub's history.
func ExampleHub_StreamFunc() {
	hub, err := sse.NewHub()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc("scores")))
	defer srv.Close()

	ctx := context.Background()
	for i, score := range []string{"1-0", "1-1", "2-1"} {
		hub.Publish(ctx, sse.Event{ID: fmt.Sprint(i + 1), Data: score}, "scores")
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	dec := sse.NewDecoder(resp.Body)
	for range 2 {
		ev, err := dec.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("id %s: %s\n", ev.ID, ev.Data)
	}
	// Output:
	// id 2: 1-1
	// id 3: 2-1
}

// A worker with many events in hand publishes them in one call: a shared
// backend such as the Redis one appends the batch in one round trip
// instead of one per event. An invalid event refuses the whole batch
// before anything is published.
func ExampleHub_PublishBatch() {
	hub, err := sse.NewHub()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc("orders")))
	defer srv.Close()

	ctx := context.Background()
	n, err := hub.PublishBatch(ctx, []sse.Event{
		{ID: "o-1", Data: "paid"},
		{ID: "o-2\n", Data: "shipped"},
	}, "orders")
	fmt.Println(n, err)
	n, err = hub.PublishBatch(ctx, []sse.Event{
		{ID: "o-1", Data: "paid"},
		{ID: "o-2", Data: "shipped"},
		{ID: "o-3", Data: "delivered"},
	}, "orders")
	fmt.Println(n, err)

	// A client that saw o-1 catches up on the rest of the batch.
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Last-Event-ID", "o-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	dec := sse.NewDecoder(resp.Body)
	for range 2 {
		ev, err := dec.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("id %s: %s\n", ev.ID, ev.Data)
	}
	// Output:
	// 0 sse: invalid event id: "o-2\n" (event 1 of the batch)
	// 3 <nil>
	// id o-2: shipped
	// id o-3: delivered
}

// A dashboard's hub keeps the latest value of each metric (each an event
// type) and hands them to a client as it connects, so a new tab shows
// them at once instead of waiting for the next update; a client that
// falls behind gets the newest value of each, not a backlog.
func ExampleWithLiveValues() {
	hub, err := sse.NewHub(sse.WithLiveValues())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc("metrics")))
	defer srv.Close()

	ctx := context.Background()
	hub.Publish(ctx, sse.Event{Type: "cpu", Data: "12%"}, "metrics")
	hub.Publish(ctx, sse.Event{Type: "mem", Data: "1.2 GiB"}, "metrics")
	hub.Publish(ctx, sse.Event{Type: "cpu", Data: "17%"}, "metrics")

	resp, err := http.Get(srv.URL) // a new tab, after the updates
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	dec := sse.NewDecoder(resp.Body)
	for range 2 {
		ev, err := dec.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Type, ev.Data)
	}
	// Output:
	// mem 1.2 GiB
	// cpu 17%
}

// A user logs out: Hub.End ends that user's streams, on every server
// sharing the hub's backend, each with an sse-end event saying why.
func ExampleHub_End() {
	hub, err := sse.NewHub()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc("user:ann"), sse.WithHeartbeat(0)))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	for hub.Stats().Subscribers == 0 { // the stream has subscribed
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	hub.Publish(ctx, sse.Event{Data: "you have mail"}, "user:ann")
	hub.End(ctx, "logged out", "user:ann")

	dec := sse.NewDecoder(resp.Body)
	for {
		ev, err := dec.Next()
		if err != nil {
			fmt.Println("stream ended:", err == io.EOF)
			return
		}
		fmt.Println(ev.Type, ev.Data)
	}
	// Output:
	// message you have mail
	// sse-end logged out
	// stream ended: true
}
