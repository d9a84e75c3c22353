package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
	"github.com/eventwire/sse/bench/internal/services"
)

// startServices starts the services that impls need (see server.Service):
// one redis-server and one PostgreSQL server at most, shared by every run.
// It returns the environment that tells the servers where they are, the
// services' process IDs by name, and a function that stops the services
// and reports errors to log. The services die with this process if stop
// is never called.
func startServices(ctx context.Context, impls []string, log io.Writer) (env []string, pids map[string]int, stop func(), err error) {
	need := map[string]bool{}
	for _, impl := range impls {
		need[server.Service(impl)] = true
	}
	var stops []func() error
	stop = func() {
		for _, s := range stops {
			if err := s(); err != nil {
				fmt.Fprintln(log, "load: stopping a service:", err)
			}
		}
	}
	pids = map[string]int{}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if need[server.Redis] {
		rd, err := services.StartRedis(ctx)
		if err != nil {
			return nil, nil, stop, fmt.Errorf("start Redis: %w", err)
		}
		stops = append(stops, rd.Stop)
		env = append(env, server.RedisURLEnv+"="+rd.URL())
		pids[server.Redis] = rd.Pid()
		fmt.Fprintf(log, "load: redis-server (pid %d) on %s\n", rd.Pid(), rd.Addr())
	}
	if need[server.Postgres] {
		pg, err := services.StartPostgres(ctx)
		if err != nil {
			return nil, nil, stop, fmt.Errorf("start PostgreSQL: %w", err)
		}
		stops = append(stops, pg.Stop)
		env = append(env, server.PostgresURLEnv+"="+pg.URL())
		pids[server.Postgres] = pg.Pid()
		fmt.Fprintf(log, "load: postgres (pid %d) at %s\n", pg.Pid(), pg.URL())
	}
	return env, pids, stop, nil
}
