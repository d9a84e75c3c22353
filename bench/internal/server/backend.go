package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	sse "github.com/eventwire/sse/core"
	ssepg "github.com/eventwire/sse/postgres"
	sseredis "github.com/eventwire/sse/redis"
)

// Environment variables through which the load tool tells a server where
// its backend's service is (it starts the service itself, see Service).
const (
	RedisURLEnv    = "BENCH_REDIS_URL"    // eventwire-redis: a redis:// URL
	PostgresURLEnv = "BENCH_POSTGRES_URL" // eventwire-pg: a postgres:// URL
)

// Services an implementation may need, as Service names them.
const (
	Redis    = "redis"
	Postgres = "postgres"
)

// Service returns the service impl's server needs running, Redis or
// Postgres, or "" if it needs none.
func Service(impl string) string {
	switch impl {
	case "eventwire-redis":
		return Redis
	case "eventwire-pg":
		return Postgres
	}
	return ""
}

// connectTimeout bounds a backend's connection checks at start.
const connectTimeout = 10 * time.Second

// newEventwireRedis is the eventwire hub, default options, on the Redis
// backend (sseredis.Open, default options) at $BENCH_REDIS_URL: a publish
// is an XADD, and the hub's listener reads the events back from the
// stream before fanning them out. Every server started on one Redis
// shares the stream sseredis.DefaultKey.
func newEventwireRedis() (Broadcaster, error) {
	url, err := serviceURL(RedisURLEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	b, err := sseredis.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return newEventwireOn(b)
}

// newEventwirePG is the eventwire hub, default options, on the PostgreSQL
// backend (ssepg.Open, default options: a pgx pool, the table
// ssepg.DefaultTable) at $BENCH_POSTGRES_URL: a publish is a transaction
// that inserts a row (its commit orders and notifies it), and the hub's
// listener reads the rows back after each notification.
func newEventwirePG() (Broadcaster, error) {
	url, err := serviceURL(PostgresURLEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	b, err := ssepg.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return newEventwireOn(b)
}

// newEventwireOn makes the eventwire implementation on backend b, which
// the hub then owns (closes).
func newEventwireOn(b sse.Backend) (Broadcaster, error) {
	hub, err := sse.NewHub(sse.WithBackend(b))
	if err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return &eventwire{hub: hub, Handler: sse.Handler(hub.StreamFunc(Topic))}, nil
}

func serviceURL(env string) (string, error) {
	url := os.Getenv(env)
	if url == "" {
		return "", fmt.Errorf("%s is not set (the load tool sets it when it starts the service)", env)
	}
	return url, nil
}
