package sseecho_test

import (
	"net/http"
	"testing"

	"github.com/eventwire/sse/adapters/echo"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/shutdowntest"
)

// TestEndOnShutdown: with sse.EndOnShutdown, http.Server.Shutdown ends the
// streams of both forms, stuck clients included, at once.
func TestEndOnShutdown(t *testing.T) {
	shutdowntest.Run(t, func(plain, hub sse.StreamFunc, opts ...sse.Option) http.Handler {
		e := newEcho(nil)
		e.GET("/plain", sseecho.Handler(plain, opts...))
		e.GET("/hub", ok, sseecho.Middleware(hub, opts...))
		return e
	})
}
