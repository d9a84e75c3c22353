package load

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
	"github.com/eventwire/sse/bench/internal/services"
)

// requireService skips the test when err says the service is not
// installed, or fails it when the environment variable CI is "true".
func requireService(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, services.ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needed on CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackendsDeliver serves the hub through each backend, on a service
// of the test's own, and checks that every client gets every event once,
// in order.
func TestBackendsDeliver(t *testing.T) {
	t.Run("eventwire-redis", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		rd, err := services.StartRedis(ctx)
		requireService(t, err)
		t.Cleanup(func() {
			if err := rd.Stop(); err != nil {
				t.Error(err)
			}
		})
		t.Setenv(server.RedisURLEnv, rd.URL())
		checkDelivers(t, "eventwire-redis")
	})
	t.Run("eventwire-pg", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		pg, err := services.StartPostgres(ctx)
		requireService(t, err)
		t.Cleanup(func() {
			if err := pg.Stop(); err != nil {
				t.Error(err)
			}
		})
		t.Setenv(server.PostgresURLEnv, pg.URL())
		checkDelivers(t, "eventwire-pg")
	})
}
