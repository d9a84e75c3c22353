package ssechi_test

import (
	"net/http"
	"testing"

	"github.com/eventwire/sse/adapters/chi"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/shutdowntest"
	"github.com/go-chi/chi/v5"
)

// TestEndOnShutdown: with sse.EndOnShutdown, http.Server.Shutdown ends the
// streams of both forms, stuck clients included, at once.
func TestEndOnShutdown(t *testing.T) {
	shutdowntest.Run(t, func(plain, hub sse.StreamFunc, opts ...sse.Option) http.Handler {
		r := chi.NewRouter()
		r.Get("/plain", ssechi.Handler(plain, opts...))
		r.With(ssechi.Middleware(hub, opts...)).Get("/hub", ok)
		return r
	})
}
