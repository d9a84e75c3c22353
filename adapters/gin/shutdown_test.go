package ssegin_test

import (
	"net/http"
	"testing"

	"github.com/eventwire/sse/adapters/gin"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/shutdowntest"
	"github.com/gin-gonic/gin"
)

// TestEndOnShutdown: with sse.EndOnShutdown, http.Server.Shutdown ends the
// streams of both forms, stuck clients included, at once.
func TestEndOnShutdown(t *testing.T) {
	shutdowntest.Run(t, func(plain, hub sse.StreamFunc, opts ...sse.Option) http.Handler {
		r := gin.New()
		r.GET("/plain", ssegin.Handler(plain, opts...))
		r.GET("/hub", ssegin.Middleware(hub, opts...), ok)
		return r
	})
}
