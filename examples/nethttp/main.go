// Command nethttp serves the demo with the standard library alone: / is a
// page whose EventSource shows the events live, and /events streams to
// clients that accept text/event-stream and answers "ok" to the others.
package main

import (
	"log"
	"net/http"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/examples/internal/demo"
)

func main() {
	flags := demo.ParseFlags()
	stream := sse.Handler(flags.Events)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", demo.ServePage)
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if !sse.Negotiate(w.Header(), r) {
			demo.ServeOK(w, r)
			return
		}
		stream.ServeHTTP(w, r)
	})
	if err := demo.ListenAndServe(flags.Addr, mux); err != nil {
		log.Fatal(err)
	}
}
