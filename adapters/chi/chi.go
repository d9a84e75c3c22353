package ssechi

import (
	"net/http"

	sse "github.com/eventwire/sse/core"
)

// Middleware returns a chi middleware that answers requests accepting
// text/event-stream (see [sse.Negotiate], which also sets "Vary: Accept")
// with an event stream written by fn, and passes every other request on
// to the next handler. The options go to [sse.Serve] unchanged.
//
// A stream that cannot start because the response writer cannot flush is
// answered with a 500 error, as [sse.Handler] does; an error after the
// stream has started ends it and goes to the reporting of
// [sse.WithErrorHandler] (logged with slog by default, unless it wraps
// [sse.ErrClosed]). All the streams of the middleware share one report of
// [sse.ErrNoWriteDeadline]. The returned middleware is safe for
// concurrent use.
func Middleware(fn sse.StreamFunc, opts ...sse.Option) func(http.Handler) http.Handler {
	stream := sse.Handler(fn, opts...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sse.Negotiate(w.Header(), r) {
				stream.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Handler returns a handler that answers every request with an event
// stream written by fn, whatever its Accept header, for routes that only
// stream: r.Get("/events", ssechi.Handler(fn)). It is [sse.Handler] as an
// [http.HandlerFunc], the type chi's routing methods take, and handles
// errors as [Middleware] does.
func Handler(fn sse.StreamFunc, opts ...sse.Option) http.HandlerFunc {
	return sse.Handler(fn, opts...).ServeHTTP
}
