package ssegin_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

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
	r.GET("/rooms/:room/events", ssegin.Middleware(func(c *gin.Context, s *sse.Stream) error {
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

// A route that only streams.
func ExampleHandler() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/events", ssegin.Handler(func(c *gin.Context, s *sse.Stream) error {
		return s.Send(sse.Event{Type: "greeting", Data: "hello"})
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	ev, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(ev.Type, ev.Data)
	// Output:
	// text/event-stream
	// greeting hello
}
