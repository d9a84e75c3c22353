package sseecho

import (
	"context"
	"fmt"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v5"
)

// Middleware returns an echo middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept")
// with an event stream written by fn, and calls the next handler for
// every other request. The options go to [sse.Serve] unchanged; errors are
// handled as by [Handler]. The middleware is safe for concurrent use.
func Middleware(fn sse.StreamFunc, opts ...sse.Option) echo.MiddlewareFunc {
	stream := Handler(fn, opts...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if sse.Negotiate(c.Response().Header(), c.Request()) {
				return stream(c)
			}
			return next(c)
		}
	}
}

// Handler returns an echo handler that answers every request with an
// event stream written by fn, whatever its Accept header. The options go
// to [sse.Serve] unchanged; [Context] gives fn the *echo.Context. The
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
	return func(c *echo.Context) error {
		if res, err := echo.UnwrapResponse(c.Response()); err == nil {
			if inner, ok := flushes(res.Unwrap()); !ok {
				return fmt.Errorf("%w: %T", sse.ErrNotFlushable, inner)
			}
		}
		req := c.Request()
		r := req.WithContext(context.WithValue(req.Context(), contextKey{}, c))
		w := &responseWriter{ResponseWriter: c.Response()}
		err := sse.Serve(w, r, fn, opts...)
		if w.wrote {
			return nil // reported by the stream
		}
		return err
	}
}

type contextKey struct{}

// Context returns the echo context of the request that s answers, for
// route parameters (c.Param) and values set by earlier middleware
// (c.Get), or nil if s is not served by this package. echo reuses its
// contexts: this one is valid only until the handler returns, that is
// while the stream's function runs.
func Context(s *sse.Stream) *echo.Context {
	if s == nil {
		return nil
	}
	c, _ := s.Context().Value(contextKey{}).(*echo.Context)
	return c
}

// flushes reports whether w, the writer below echo's Response, or a writer
// it unwraps to can flush, and returns the last writer it looked at. An
// [echo.Response] says it can flush whatever it wraps and panics in Flush
// when it cannot, so flushes looks below it.
func flushes(w http.ResponseWriter) (http.ResponseWriter, bool) {
	for {
		switch t := w.(type) {
		case *echo.Response:
			w = t.Unwrap()
		case interface{ FlushError() error }, http.Flusher:
			return w, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return w, false
		}
	}
}

// responseWriter passes the stream to echo's response writer, which the
// stream reaches through Unwrap for flushes and deadlines, and records
// whether the status has been sent: from then on an error cannot become
// an error response.
type responseWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
