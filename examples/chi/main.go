// Command chi serves the demo through a chi router: / is a page whose
// EventSource shows the events live, and /events streams to clients that
// accept text/event-stream and answers "ok" to the others.
package main

import (
	"log"

	"github.com/eventwire/sse/adapters/chi"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

func main() {
	flags := demo.ParseFlags()
	r := chi.NewRouter()
	r.Use(middleware.Logger, middleware.Recoverer)
	r.Get("/", demo.ServePage)
	r.With(ssechi.Middleware(flags.Events)).Get("/events", demo.ServeOK)
	if err := demo.ListenAndServe(flags.Addr, r); err != nil {
		log.Fatal(err)
	}
}
