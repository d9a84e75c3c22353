package ssechi_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/eventwire/sse/adapters/chi"
	sse "github.com/eventwire/sse/core"
	"github.com/go-chi/chi/v5"
)

// One path streams to EventSource clients and answers "ok" to anything
// else.
func ExampleMiddleware() {
	r := chi.NewRouter()
	r.With(ssechi.Middleware(func(s *sse.Stream) error {
		return s.Send(sse.Event{ID: "1", Data: "hello"})
	})).Get("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// An EventSource asks for the stream.
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	ev, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.ID, ev.Type, ev.Data)

	// Any other request gets the next handler.
	resp, err = http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))
	// Output:
	// 1 message hello
	// ok
}

// A route that only streams, reading a route parameter in the callback.
func ExampleHandler() {
	r := chi.NewRouter()
	r.Get("/rooms/{room}/events", ssechi.Handler(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "welcome to " + chi.URLParam(s.Request(), "room")})
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/rooms/lobby/events")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	ev, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(ev.Data)
	// Output:
	// text/event-stream
	// welcome to lobby
}
