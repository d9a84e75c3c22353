// Command echo5 serves the demo through an echo v5 server: / is a page
// whose EventSource shows the events live, and /events streams to clients
// that accept text/event-stream and answers "ok" to the others.
package main

import (
	"log"
	"net/http"

	"github.com/eventwire/sse/adapters/echo/v5"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

func main() {
	flags := demo.ParseFlags()
	e := echo.New()
	e.Use(middleware.RequestLogger(), middleware.Recover())
	e.GET("/", echo.WrapHandler(http.HandlerFunc(demo.ServePage)))
	e.GET("/events", func(c *echo.Context) error {
		return c.String(http.StatusOK, "ok")
	}, sseecho.Middleware(flags.Events))
	if err := demo.ListenAndServe(flags.Addr, e); err != nil {
		log.Fatal(err)
	}
}
