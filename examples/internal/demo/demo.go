// Package demo holds what the example servers share: the page that shows
// the events live, the demo's event loop and the command line.
package demo

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	sse "github.com/eventwire/sse/core"
)

// Page is the HTML page whose EventSource shows the events of /events.
//
//go:embed index.html
var Page []byte

// ServePage writes Page.
func ServePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := w.Write(Page); err != nil {
		log.Printf("page: %v", err)
	}
}

// ServeOK writes the plain response "ok", the answer of /events to clients
// that do not ask for an event stream.
func ServeOK(w http.ResponseWriter, _ *http.Request) {
	if _, err := io.WriteString(w, "ok"); err != nil {
		log.Printf("ok: %v", err)
	}
}

// Flags are the example servers' command-line settings.
type Flags struct {
	Addr     string        // -addr: where to listen
	Interval time.Duration // -interval: time between events
}

// ParseFlags parses the command line: -addr (default 127.0.0.1:8080) and
// -interval (default 2s).
func ParseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.DurationVar(&f.Interval, "interval", 2*time.Second, "time between events")
	flag.Parse()
	return f
}

// Events is the demo's stream: an event "message" with data "hello" and
// an increasing ID every f.Interval, resuming after the client's last ID
// when it reconnects. The ticker stops when the client goes away.
func (f Flags) Events(s *sse.Stream) error {
	id, _ := strconv.Atoi(s.LastEventID()) // a missing or foreign ID starts at 0
	return s.Every(f.Interval, func() error {
		id++
		return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello"})
	})
}

// Server returns a server for h on addr with the settings a server with
// stream routes needs: sse.EndOnShutdown, so that Shutdown ends the open
// streams instead of waiting for them; ReadHeaderTimeout and IdleTimeout,
// so that clients that send nothing are let go; and no WriteTimeout,
// which would end every stream after that time (each stream has its own
// per-write deadline).
func Server(addr string, h http.Handler) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	sse.EndOnShutdown(srv)
	return srv
}

// ListenAndServe serves h on addr, with the server [Server] returns,
// until an interrupt or SIGTERM, then shuts down.
func ListenAndServe(addr string, h http.Handler) error {
	srv := Server(addr, h)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Printf("listening on http://%s", ln.Addr())

	interrupt, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-served:
		return err
	case <-interrupt.Done():
	}
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
