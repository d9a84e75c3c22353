package sse_test

import (
	"net/http"
	"testing"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/shutdowntest"
)

// TestEndOnShutdown checks the one shutdown wiring on net/http: with
// EndOnShutdown, http.Server.Shutdown ends plain streams and hub
// subscribers alike, stuck clients included, at once.
func TestEndOnShutdown(t *testing.T) {
	shutdowntest.Run(t, func(plain, hub sse.StreamFunc, opts ...sse.Option) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/plain", sse.Handler(plain, opts...))
		mux.Handle("/hub", sse.Handler(hub, opts...))
		return mux
	})
}
