// Package ssegin serves Server-Sent Events from a [gin] engine with the
// [sse] core package.
//
// [Middleware] streams to clients that accept text/event-stream and aborts
// the chain, and calls c.Next() for every other request; [Handler] streams
// to every request. The callback is a plain [sse.StreamFunc], so
// [sse.Hub.StreamFunc] plugs in directly:
//
//	r.GET("/news", ssegin.Handler(hub.StreamFunc("news")))
//
// and [Context] reaches the *gin.Context from the stream, for route
// parameters and values set by earlier middleware (c.Param, c.Get).
//
// One path that streams to EventSource clients and answers "ok" to
// anything else:
//
//	r := gin.New()
//	r.Use(gin.Logger(), gin.Recovery())
//	r.GET("/rooms/:room/events", ssegin.Middleware(events), func(c *gin.Context) {
//		c.String(http.StatusOK, "ok")
//	})
//
// where events is an [sse.StreamFunc]:
//
//	func events(s *sse.Stream) error {
//		room := ssegin.Context(s).Param("room")
//		id := 0
//		return s.Every(2*time.Second, func() error {
//			id++
//			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello " + room})
//		})
//	}
//
// # Errors
//
// A stream that cannot start is answered with a 500 status and its error
// is added to the context with c.AbortWithError, where gin.Logger and
// error-handling middleware see it. Once the stream has started its
// status is sent, so an error the callback returns only ends the stream.
// It goes to the reporting of [sse.WithErrorHandler], which logs it with
// slog's default logger unless it wraps [sse.ErrClosed] (the client went
// away or stopped reading) or the option says otherwise, and it is added
// with c.Error unless it wraps sse.ErrClosed.
//
// # Middleware
//
// gin.Logger, gin.Recovery and gin-contrib/gzip work in front of a stream:
// each event is flushed through them as it is sent. gin-contrib/gzip
// compresses the stream, and its writer hides the connection from
// [http.ResponseController] (it has no Unwrap method), so behind it the
// per-write deadline of [sse.WithWriteTimeout] cannot be set and a client
// that stops reading is not dropped; the handler reports
// [sse.ErrNoWriteDeadline] once, with its first stream. Exclude the
// streaming path from it:
//
//	r.Use(gzip.Gzip(gzip.DefaultCompression, gzip.WithExcludedPaths([]string{"/events"})))
//
// gin-contrib/timeout does not suit a stream: it buffers the response in
// memory until the handler returns and drops it at the deadline, so no
// event reaches the client. [http.TimeoutHandler] around the engine
// buffers it too. gin's writers report that they can flush whatever they
// wrap, so [sse.ErrNotFlushable] cannot warn of either: leave them off
// the streaming route. Leave http.Server.WriteTimeout unset too, as it
// ends streams at its deadline.
// [sse.WithWriteTimeout] (on by default) drops a client that stops reading
// without touching the others, and heartbeats ([sse.WithHeartbeat]) find
// clients that went away.
//
// The stream's context is s.Context(), which ends when the client goes
// away; gin.Context's own Done and Err follow the request only with
// gin.Engine.ContextWithFallback set.
//
// [gin]: https://github.com/gin-gonic/gin
package ssegin
