// Package ssegin serves Server-Sent Events from a [gin] engine with the
// [sse] core package.
//
// [Middleware] streams to clients that accept text/event-stream and aborts
// the chain, and calls c.Next() for every other request; [Handler] streams
// to every request. The callback, a [StreamFunc], gets the *gin.Context
// along with the stream, so route parameters and values set by earlier
// middleware (c.Param, c.Get) are at hand.
//
// One path that streams to EventSource clients and answers "ok" to
// anything else:
//
//	r := gin.New()
//	r.Use(gin.Logger(), gin.Recovery())
//	r.GET("/events", ssegin.Middleware(events), func(c *gin.Context) {
//		c.String(http.StatusOK, "ok")
//	})
//
// where events is a [StreamFunc]:
//
//	func events(c *gin.Context, s *sse.Stream) error {
//		id := 0
//		return s.Every(2*time.Second, func() error {
//			id++
//			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello"})
//		})
//	}
//
// # Errors
//
// A stream that cannot start is answered with a 500 status and its error
// is added to the context with c.AbortWithError, where gin.Logger and
// error-handling middleware see it. Once the stream has started its
// status is sent, so an error the callback returns only ends the stream;
// it is added with c.Error unless it wraps [sse.ErrClosed] (the client
// went away or stopped reading).
//
// # Middleware
//
// gin.Logger, gin.Recovery and gin-contrib/gzip work in front of a stream:
// each event is flushed through them as it is sent. gin-contrib/gzip
// compresses the stream, and its writer hides the connection from
// [http.ResponseController] (it has no Unwrap method), so behind it the
// per-write deadline of [sse.WithWriteTimeout] cannot be set and a client
// that stops reading is not dropped. Exclude the streaming path from it:
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
