package sseecho

import (
	"errors"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v4"
)

// A StreamFunc writes events to one client. It runs on the handler's
// goroutine with the request's context c; the stream ends when it returns,
// and it should return once [sse.Stream.Done] is closed.
type StreamFunc func(c echo.Context, s *sse.Stream) error

// Middleware returns an echo middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept") with an event stream written by fn,
// and calls the next handler for every other request. The options go to
// [sse.Serve] unchanged; errors are handled as by [Handler].
func Middleware(fn StreamFunc, opts ...sse.Option) echo.MiddlewareFunc {
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
// to [sse.Serve] unchanged.
//
// An error before the stream starts, such as one wrapping
// [sse.ErrNotFlushable], is returned for echo's HTTP error handler to
// answer. Once the stream has started the handler returns nil: the error
// ends the stream and is logged with c.Logger() unless it wraps
// [sse.ErrClosed].
func Handler(fn StreamFunc, opts ...sse.Option) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		err := sse.Serve(responseWriter{res}, c.Request(), fn.bind(c), opts...)
		if err == nil || !res.Committed {
			return err
		}
		if !errors.Is(err, sse.ErrClosed) {
			c.Logger().Error(err)
		}
		return nil
	}
}

// bind returns fn as an [sse.StreamFunc] over c, or nil for a nil fn so
// that [sse.Serve] reports it.
func (fn StreamFunc) bind(c echo.Context) sse.StreamFunc {
	if fn == nil {
		return nil
	}
	return func(s *sse.Stream) error { return fn(c, s) }
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
