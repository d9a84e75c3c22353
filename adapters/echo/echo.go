package sseecho

import (
	"context"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v4"
)

// Middleware returns an echo middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept")
// with an event stream written by fn, and calls the next handler for
// every other request. The options go to [sse.Serve] unchanged; errors are
// handled as by [Handler]. The middleware is safe for concurrent use.
func Middleware(fn sse.StreamFunc, opts ...sse.Option) echo.MiddlewareFunc {
	stream := Handler(fn, opts...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if sse.Negotiate(c.Response().Header(), c.Request()) {
				return stream(c)
			}
			return next(c)
		}
	}
}

// Handler returns an echo handler that answers every request with an
// event stream written by fn, whatever its Accept header. The options go
// to [sse.Serve] unchanged; [Context] gives fn the echo.Context. The
// handler is safe for concurrent use.
//
// An error before the stream starts, such as one wrapping
// [sse.ErrNotFlushable], is returned for echo's HTTP error handler to
// answer. Once the stream has started the handler returns nil: the error
// ends the stream and goes to the reporting of [sse.WithErrorHandler]
// (logged with slog by default, unless it wraps [sse.ErrClosed]). All the
// streams of the handler share one report of [sse.ErrNoWriteDeadline].
func Handler(fn sse.StreamFunc, opts ...sse.Option) echo.HandlerFunc {
	// A reporting scope of its own, shared by every stream of the
	// handler; a WithErrorHandler among opts comes later and wins.
	opts = append([]sse.Option{sse.WithErrorHandler(nil)}, opts...)
	return func(c echo.Context) error {
		res := c.Response()
		req := c.Request()
		r := req.WithContext(context.WithValue(req.Context(), contextKey{}, c))
		err := sse.Serve(responseWriter{res}, r, fn, opts...)
		if res.Committed {
			return nil // reported by the stream
		}
		return err
	}
}

type contextKey struct{}

// Context returns the echo context of the request that s answers, for
// route parameters (c.Param) and values set by earlier middleware
// (c.Get), or nil if s is not served by this package. Like any
// echo.Context it is valid only until the handler returns, that is while
// the stream's function runs.
func Context(s *sse.Stream) echo.Context {
	if s == nil {
		return nil
	}
	c, _ := s.Context().Value(contextKey{}).(echo.Context)
	return c
}

// responseWriter is an [echo.Response] without its Flush method, which
// panics when the writer below cannot flush. The stream finds the flusher
// and the write deadline below through Unwrap instead, so a writer that
// cannot flush (as behind middleware.Timeout) is reported as
// [sse.ErrNotFlushable] before anything is written. Header, status and
// body still go through the Response, which keeps its Committed, Status
// and Size for echo and its middleware.
type responseWriter struct{ res *echo.Response }

var _ http.ResponseWriter = responseWriter{}

func (w responseWriter) Header() http.Header         { return w.res.Header() }
func (w responseWriter) Write(p []byte) (int, error) { return w.res.Write(p) }
func (w responseWriter) WriteHeader(code int)        { w.res.WriteHeader(code) }
func (w responseWriter) Unwrap() http.ResponseWriter { return w.res.Writer }
