package ssegin

import (
	"errors"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/gin-gonic/gin"
)

// A StreamFunc writes events to one client. It runs on the handler's
// goroutine with the request's context c; the stream ends when it returns,
// and it should return once [sse.Stream.Done] is closed.
type StreamFunc func(c *gin.Context, s *sse.Stream) error

// Middleware returns a gin middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept") with an event stream written by fn
// and aborts the chain, and calls c.Next() for every other request. The
// options go to [sse.Serve] unchanged; errors are handled as by [Handler].
func Middleware(fn StreamFunc, opts ...sse.Option) gin.HandlerFunc {
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
// [sse.Serve] unchanged.
//
// If [sse.Serve] fails before the stream starts, the handler aborts with
// status 500 and the error (c.AbortWithError). An error after the stream
// has started ends it and is added with c.Error, unless it wraps
// [sse.ErrClosed].
func Handler(fn StreamFunc, opts ...sse.Option) gin.HandlerFunc {
	return func(c *gin.Context) {
		err := sse.Serve(c.Writer, c.Request, fn.bind(c), opts...)
		switch {
		case err == nil:
		case !c.Writer.Written():
			c.AbortWithError(http.StatusInternalServerError, err)
		case !errors.Is(err, sse.ErrClosed):
			c.Error(err)
		}
	}
}

// bind returns fn as an [sse.StreamFunc] over c, or nil for a nil fn so
// that [sse.Serve] reports it.
func (fn StreamFunc) bind(c *gin.Context) sse.StreamFunc {
	if fn == nil {
		return nil
	}
	return func(s *sse.Stream) error { return fn(c, s) }
}
