package ssegin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/eventwire/sse/adapters/gin"
	sse "github.com/eventwire/sse/core"
	"github.com/gin-gonic/gin"
)

// One path streams to EventSource clients and answers "ok" to anything
// else. The callback reads the route parameter and a value that earlier
// middleware set.
func ExampleMiddleware() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Set("user", "ada") })
	r.GET("/rooms/:room/events", ssegin.Middleware(func(s *sse.Stream) error {
		c := ssegin.Context(s)
		return s.Send(sse.Event{ID: "1", Data: "hello " + c.GetString("user") + " in " + c.Param("room")})
	}), func(c *gin.Context) {
		c.String(http.StatusOK, "ok")
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// An EventSource asks for the stream.
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/rooms/lobby/events", nil)
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

	// Any other request goes on to the next handler.
	resp, err = http.Get(srv.URL + "/rooms/lobby/events")
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
	// 1 message hello ada in lobby
	// ok
}

// A route that only streams, fed by a hub: the hub's StreamFunc plugs in
// directly.
func ExampleHandler() {
	gin.SetMode(gin.ReleaseMode)
	hub, err := sse.NewHub()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	r := gin.New()
	r.GET("/news", ssegin.Handler(hub.StreamFunc("news")))
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/news")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	// The stream subscribes once its headers are sent.
	for hub.Stats().Subscribers == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := hub.Publish(context.Background(), sse.Event{Type: "headline", Data: "extra!"}, "news"); err != nil {
		log.Fatal(err)
	}
	ev, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Type, ev.Data)
	// Output:
	// text/event-stream
	// headline extra!
}

// Errors after the stream has started go to the error handler, here a
// counter beside the default log.
func ExampleHandler_errorHandler() {
	gin.SetMode(gin.ReleaseMode)
	failed := make(chan error, 1)
	r := gin.New()
	r.GET("/events", ssegin.Handler(func(s *sse.Stream) error {
		return s.Send(sse.Event{ID: "line\nbreak", Data: "x"})
	}, sse.WithErrorHandler(func(r *http.Request, err error) {
		failed <- fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	})))
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	// The stream ends when the callback returns. Reading it to its end
	// keeps the client there until then: a client that left first would
	// make Send report that instead.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		log.Fatal(err)
	}
	err = <-failed
	fmt.Println(errors.Is(err, sse.ErrInvalidID))
	// Output:
	// true
}
