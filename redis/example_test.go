package sseredis_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
	sseredis "github.com/eventwire/sse/redis"
)

// Several servers that open the same Redis share their events: whatever
// one publishes reaches the clients of all, and a client may reconnect to
// any of them. Without REDIS_URL the hub stays in memory. (It needs a
// Redis server, so it has no checked output.)
func ExampleOpen() {
	ctx := context.Background()
	var opts []sse.HubOption
	if url := os.Getenv("REDIS_URL"); url != "" {
		b, err := sseredis.Open(ctx, url, sseredis.WithMaxLen(10_000))
		if err != nil {
			log.Fatal(err) // e.g. sseredis: cannot reach Redis at 127.0.0.1:6379: ... connection refused
		}
		opts = append(opts, sse.WithBackend(b)) // the hub closes b
	}
	hub, err := sse.NewHub(opts...)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: sse.Handler(hub.StreamFunc("news"))}
	srv.RegisterOnShutdown(func() { hub.Shutdown(context.Background()) })
	go srv.ListenAndServe()

	// The event's ID is given by Redis, the same on every server.
	if err := hub.Publish(ctx, sse.Event{Type: "headline", Data: "Redis backend released"}, "news"); err != nil {
		log.Print(err) // Redis stayed unreachable until ctx ended: the event is not published
	}
	srv.Shutdown(ctx)
}

// New takes a client of your own, here one that goes through Redis
// Sentinel; the caller closes it after the hub.
func ExampleNew() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "events",
		SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
	})
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b, err := sseredis.New(ctx, client, sseredis.WithKey("{shop}:events"), sseredis.WithMaxAge(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	hub, err := sse.NewHub(sse.WithBackend(b))
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	http.Handle("/orders", sse.Handler(hub.StreamFunc("orders")))
}

// A configuration that cannot work fails at start, with an error that
// says what is wrong, rather than later or never.
func ExampleOpen_badConfiguration() {
	_, err := sseredis.Open(context.Background(), "http://127.0.0.1:6379")
	fmt.Println(err)
	// Output:
	// sseredis: bad Redis URL: redis: invalid URL scheme: http
}
