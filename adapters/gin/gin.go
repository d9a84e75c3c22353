package ssegin

import (
	"context"
	"errors"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/gin-gonic/gin"
)

// Middleware returns a gin middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept")
// with an event stream written by fn and aborts the chain, and calls
// c.Next() for every other request. The options go to [sse.Serve]
// unchanged; errors are handled as by [Handler]. The middleware is safe
// for concurrent use.
func Middleware(fn sse.StreamFunc, opts ...sse.Option) gin.HandlerFunc {
	stream := Handler(fn, opts...)
	return func(c *gin.Context) {
		if !sse.Negotiate(c.Writer.Header(), c.Request) {
			c.Next()
			return
		}
		stream(c)
		c.Abort()
	}
}

// Handler returns a gin handler that answers every request with an event
// stream written by fn, whatever its Accept header. The options go to
// [sse.Serve] unchanged; [Context] gives fn the *gin.Context. The handler
// is safe for concurrent use.
//
// If [sse.Serve] fails before the stream starts, the handler aborts with
// status 500 and the error (c.AbortWithError). An error after the stream
// has started ends it, goes to the reporting of [sse.WithErrorHandler]
// (logged with slog by default) and, unless it wraps [sse.ErrClosed], is
// added with c.Error. All the streams of the handler share one report of
// [sse.ErrNoWriteDeadline].
func Handler(fn sse.StreamFunc, opts ...sse.Option) gin.HandlerFunc {
	// A reporting scope of its own, shared by every stream of the
	// handler; a WithErrorHandler among opts comes later and wins.
	opts = append([]sse.Option{sse.WithErrorHandler(nil)}, opts...)
	return func(c *gin.Context) {
		r := c.Request.WithContext(context.WithValue(c.Request.Context(), contextKey{}, c))
		err := sse.Serve(c.Writer, r, fn, opts...)
		switch {
		case err == nil:
		case !c.Writer.Written():
			c.AbortWithError(http.StatusInternalServerError, err)
		case !errors.Is(err, sse.ErrClosed):
			c.Error(err)
		}
	}
}

type contextKey struct{}

// Context returns the gin context of the request that s answers, for
// route parameters (c.Param) and values set by earlier middleware
// (c.Get), or nil if s is not served by this package. Like any
// *gin.Context it is valid only until the handler returns, that is while
// the stream's function runs; give goroutines that outlive it c.Copy().
func Context(s *sse.Stream) *gin.Context {
	if s == nil {
		return nil
	}
	c, _ := s.Context().Value(contextKey{}).(*gin.Context)
	return c
}
