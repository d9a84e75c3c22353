// Package ssechi serves Server-Sent Events from a [chi] router with the
// [sse] core package.
//
// A chi middleware is a plain func(http.Handler) http.Handler, so the
// adapter adds no types of its own: [Middleware] streams to clients that
// accept text/event-stream and hands every other request to the next
// handler, and [Handler] streams to every request. The callback is an
// [sse.StreamFunc], so [sse.Hub.StreamFunc] plugs in directly
// (r.Get("/news", ssechi.Handler(hub.StreamFunc("news")))); route parameters
// are at hand through chi.URLParam(s.Request(), "name").
//
// One path that streams to EventSource clients and answers "ok" to
// anything else:
//
//	r := chi.NewRouter()
//	r.Use(middleware.Logger, middleware.Recoverer)
//	r.With(ssechi.Middleware(events)).Get("/events", func(w http.ResponseWriter, r *http.Request) {
//		w.Write([]byte("ok"))
//	})
//
// where events is an [sse.StreamFunc]:
//
//	func events(s *sse.Stream) error {
//		id := 0
//		return s.Every(2*time.Second, func() error {
//			id++
//			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello"})
//		})
//	}
//
// # Errors
//
// A stream that cannot start because the response writer cannot flush is
// answered with a 500 error. Once the stream has started its status is
// sent, so an error the callback returns only ends the stream; it goes to
// the reporting of [sse.WithErrorHandler], which by default logs it with
// slog's default logger unless it wraps [sse.ErrClosed] (the client went
// away or stopped reading).
//
// # Middleware
//
// chi's middleware.Logger, middleware.Recoverer and middleware.Compress
// work in front of a stream: each event is flushed through them as it is
// sent. middleware.Compress compresses the stream only if
// "text/event-stream" is among its content types, and then flushes the
// compressor with every event.
//
// middleware.Timeout does not suit a stream: it cancels the request's
// context at its deadline, which ends the stream however healthy the
// client is, and then writes a superfluous 504 status. Leave it off the
// streaming route, and leave http.Server.WriteTimeout unset, which ends
// streams the same way. [sse.WithWriteTimeout] (on by default) drops a
// client that stops reading without touching the others, and heartbeats
// ([sse.WithHeartbeat]) find clients that went away. [http.TimeoutHandler]
// buffers the whole response; a stream behind it is answered with a 500
// error, as its writer cannot flush.
//
// [chi]: https://github.com/go-chi/chi
package ssechi
