// Package sseecho serves Server-Sent Events from an [echo] (v4) server with
// the [sse] core package. For echo v5 the adapter with the same functions
// is github.com/eventwire/sse/adapters/echo/v5.
//
// [Middleware] streams to clients that accept text/event-stream and calls
// the next handler for every other request; [Handler] streams to every
// request. The callback is a plain [sse.StreamFunc], so [sse.Hub.StreamFunc]
// plugs in directly:
//
//	e.GET("/news", sseecho.Handler(hub.StreamFunc("news")))
//
// and [Context] reaches the echo.Context from the stream, for route
// parameters (c.Param) and values set by earlier middleware (c.Get).
//
// One path that streams to EventSource clients and answers "ok" to
// anything else:
//
//	e := echo.New()
//	e.Use(middleware.RequestLogger(), middleware.Recover())
//	e.GET("/rooms/:room/events", func(c echo.Context) error {
//		return c.String(http.StatusOK, "ok")
//	}, sseecho.Middleware(events))
//
// where events is an [sse.StreamFunc]:
//
//	func events(s *sse.Stream) error {
//		room := sseecho.Context(s).Param("room")
//		id := 0
//		return s.Every(2*time.Second, func() error {
//			id++
//			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello " + room})
//		})
//	}
//
// # Errors
//
// An error before the stream starts, such as [sse.ErrNotFlushable], is
// returned to echo, whose HTTP error handler answers it. Once the stream
// has started its status is sent and a second response cannot follow, so
// an error the callback returns ends the stream, goes to the reporting of
// [sse.WithErrorHandler] and the handler returns nil. By default that
// reporting logs with slog's default logger, not echo's Logger, and skips
// errors that wrap [sse.ErrClosed] (the client went away or stopped
// reading); to log with echo's:
//
//	sseecho.Handler(events, sse.WithErrorHandler(func(_ *http.Request, err error) {
//		if !errors.Is(err, sse.ErrClosed) {
//			e.Logger.Error(err)
//		}
//	}))
//
// # Middleware
//
// middleware.RequestLogger (and the older Logger), middleware.Recover,
// middleware.Gzip and middleware.RequestID work in front of a stream:
// each event is flushed through them as it is sent, and middleware.Gzip
// compresses it.
//
// middleware.Timeout does not suit a stream: it runs the handler behind
// [http.TimeoutHandler], which buffers the whole response, so the stream
// cannot flush and is answered with an error instead.
// middleware.ContextTimeout cancels the request's context at its deadline,
// which ends the stream however healthy the client is. Leave both off the
// streaming route, and leave http.Server.WriteTimeout unset, which ends
// streams the same way. [sse.WithWriteTimeout] (on by default) drops a
// client that stops reading without touching the others, and heartbeats
// ([sse.WithHeartbeat]) find clients that went away.
//
// [echo]: https://echo.labstack.com
package sseecho
