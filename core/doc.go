// Package sse writes Server-Sent Events: the text/event-stream protocol that
// a browser's EventSource reads.
//
// It is the framework-agnostic core of the module: it imports only the
// standard library, and the router adapters (chi, gin, echo) are thin
// wrappers around it.
//
// An [Event] encodes itself exactly as the WHATWG standard reads it back:
// data with line breaks becomes one data line per line, and an ID or type
// that could inject fields is refused with an error, never escaped. A
// [Stream] runs one response: [Serve] sends the headers, flushes them and
// calls your [StreamFunc] on the handler's goroutine; the stream ends when
// the function returns or the client goes away, sends heartbeat comments
// while it is idle and drops a client that stops reading after the write
// timeout.
//
// On the client side, [Events] reads a stream from Go as a browser's
// EventSource does, reconnecting and resuming with Last-Event-ID, and a
// [Decoder] parses a stream you already hold.
//
// An event every two seconds until the client leaves:
//
//	http.Handle("/events", sse.Handler(func(s *sse.Stream) error {
//		id := 0
//		return s.Every(2*time.Second, func() error {
//			id++
//			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello"})
//		})
//	}))
//
// # Errors
//
// Once a stream has started, its status is sent and no error response can
// follow, so an error the [StreamFunc] returns goes to the reporting of
// [WithErrorHandler]: by default it is logged with [slog.Default], unless
// it wraps [ErrClosed] (the client went away). A response writer that
// cannot take the write deadline is reported there too, as
// [ErrNoWriteDeadline]. Every router adapter passes the option through.
//
// # Broadcast
//
// A [Hub] sends each published event to the streams subscribed to its
// topics, encoding it once; a slow client never holds up the others, and a
// client that reconnects replays what it missed:
//
//	hub, _ := sse.NewHub()
//	http.Handle("/news", sse.Handler(hub.StreamFunc("news")))
//	hub.Publish(ctx, sse.Event{Data: "extra!"}, "news")
//
// The hub's log is a [Backend]: in memory by default, or shared by several
// servers (the module's redis package).
//
// # Shutting down
//
// [http.Server.Shutdown] waits for open handlers, and an event stream is a
// handler that never finishes by itself. [EndOnShutdown] is the one wiring
// that ends them all, whatever wrote them (a [StreamFunc] of yours or a
// hub) and on any router: Shutdown then interrupts every stream, a write
// stuck on a client that stopped reading included, and returns once the
// handlers have. Close the hub after the server:
//
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	sse.EndOnShutdown(srv)
//	go srv.ListenAndServe()
//	<-ctx.Done() // SIGTERM, say
//	srv.Shutdown(context.Background())
//	hub.Close()
//
// Leave http.Server.WriteTimeout at zero on a server with stream routes: it
// bounds the whole response, so it would end every stream after that time.
// Each stream has its own per-write deadline instead ([WithWriteTimeout]).
// Do set ReadHeaderTimeout, so that clients that never finish their request
// headers are let go.
package sse
