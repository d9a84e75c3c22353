// Command gin serves the demo through a gin engine: / is a page whose
// EventSource shows the events live, and /events streams to clients that
// accept text/event-stream and answers "ok" to the others.
package main

import (
	"log"
	"net/http"

	"github.com/eventwire/sse/adapters/gin"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/gin-gonic/gin"
)

func main() {
	flags := demo.ParseFlags()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	r.GET("/", gin.WrapF(demo.ServePage))
	r.GET("/events", ssegin.Middleware(flags.Events), func(c *gin.Context) {
		c.String(http.StatusOK, "ok")
	})
	if err := demo.ListenAndServe(flags.Addr, r); err != nil {
		log.Fatal(err)
	}
}
