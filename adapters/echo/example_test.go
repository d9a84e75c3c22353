package sseecho_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/eventwire/sse/adapters/echo"
	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v4"
)

// One path streams to EventSource clients and answers "ok" to anything
// else. The callback reads the route parameter.
func ExampleMiddleware() {
	e := echo.New()
	e.GET("/rooms/:room/events", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok")
	}, sseecho.Middleware(func(s *sse.Stream) error {
		return s.Send(sse.Event{ID: "1", Data: "hello from " + sseecho.Context(s).Param("room")})
	}))
	srv := httptest.NewServer(e)
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
	// 1 message hello from lobby
	// ok
}

// A route that only streams, fed by a hub: the hub's StreamFunc plugs in
// directly.
func ExampleHandler() {
	hub, err := sse.NewHub()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	e := echo.New()
	e.GET("/news", sseecho.Handler(hub.StreamFunc("news")))
	srv := httptest.NewServer(e)
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
