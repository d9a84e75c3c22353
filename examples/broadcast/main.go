// Command broadcast serves a hub's topic "ticks" to every client: / is a
// page whose EventSource shows the events live, /events is the stream,
// and POST /publish publishes its body. The server also publishes a tick
// every -interval (default 2s).
//
// Alone, the hub keeps its events in memory. With REDIS_URL set, they go
// through that Redis, so several servers behind a load balancer share
// them: an event published on one reaches the clients of all, with the
// same ID, and a client may reconnect to any of them.
//
//	REDIS_URL=redis://127.0.0.1:6379 go run ./examples/broadcast -addr 127.0.0.1:8080 &
//	REDIS_URL=redis://127.0.0.1:6379 go run ./examples/broadcast -addr 127.0.0.1:8081 &
//	curl -N http://127.0.0.1:8081/events &
//	curl -d 'hello from 8080' http://127.0.0.1:8080/publish
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/examples/internal/demo"
	sseredis "github.com/eventwire/sse/redis"
)

// topic is the one topic of the demo.
const topic = "ticks"

func main() {
	if err := run(demo.ParseFlags()); err != nil {
		log.Fatal(err)
	}
}

func run(flags demo.Flags) error {
	hub, err := newHub()
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	ticking := make(chan struct{})
	go func() {
		defer close(ticking)
		tick(ctx, hub, flags)
	}()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", demo.ServePage)
	mux.Handle("GET /events", sse.Handler(hub.StreamFunc(topic)))
	mux.Handle("POST /publish", publish(hub))
	// The server's shutdown ends every stream (sse.EndOnShutdown), so every
	// subscription ends before it returns; then the ticker and the hub go.
	err = demo.ListenAndServe(flags.Addr, mux)
	stop()
	<-ticking
	return errors.Join(err, hub.Close())
}

// newHub returns an in-memory hub, or one on the Redis at REDIS_URL.
func newHub() (*sse.Hub, error) {
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		log.Print("events in memory (set REDIS_URL to share them between servers)")
		return sse.NewHub()
	}
	b, err := sseredis.Open(context.Background(), redisURL, sseredis.WithLogger(slog.Default()))
	if err != nil {
		return nil, err // says what failed: the address, the password, ...
	}
	if u, err := url.Parse(redisURL); err == nil {
		log.Printf("events through %s", u.Redacted())
	}
	hub, err := sse.NewHub(sse.WithBackend(b))
	if err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return hub, nil
}

// tick publishes "tick n from addr" every flags.Interval until ctx ends.
func tick(ctx context.Context, hub *sse.Hub, flags demo.Flags) {
	t := time.NewTicker(flags.Interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, flags.Interval)
		err := hub.Publish(pctx, sse.Event{Data: fmt.Sprintf("tick %d from %s", n, flags.Addr)}, topic)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Printf("tick %d not published: %v", n, err)
		}
	}
}

// publish answers POST /publish: the body (UTF-8 text, up to 64 KiB) is
// published to the topic.
func publish(hub *sse.Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		switch err := hub.Publish(ctx, sse.Event{Data: string(body)}, topic); {
		case errors.Is(err, sse.ErrEmptyEvent), errors.Is(err, sse.ErrInvalidData):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		default:
			if _, err := io.WriteString(w, "published\n"); err != nil {
				log.Printf("publish: %v", err)
			}
		}
	})
}
