package main

import (
	"context"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/eventwire/sse/adapters/gin"
	sse "github.com/eventwire/sse/core"
	"github.com/gin-gonic/gin"
)

// auth stands for your own: it refuses requests without a user, before any
// stream starts, and leaves the user in the gin context.
func auth(c *gin.Context) {
	user := c.GetHeader("X-User")
	if user == "" {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "who are you?"})
		return
	}
	c.Set("user", user)
}

func main() {
	hub, err := sse.NewHub()
	if err != nil {
		log.Fatal(err)
	}
	r := gin.Default()
	r.Use(auth)
	r.GET("/rooms/:room/events", ssegin.Handler(func(s *sse.Stream) error {
		c := ssegin.Context(s)
		if err := s.Send(sse.Event{Type: "welcome", Data: c.GetString("user")}); err != nil {
			return err
		}
		return hub.Subscribe(s, "room:"+c.Param("room"))
	}))
	r.POST("/rooms/:room/messages", func(c *gin.Context) {
		var msg struct{ Text string }
		if err := c.ShouldBindJSON(&msg); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		ev := sse.Event{Type: "message", JSON: gin.H{"from": c.GetString("user"), "text": msg.Text}}
		if err := hub.Publish(c, ev, "room:"+c.Param("room")); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.Status(http.StatusAccepted)
	})

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: r, ReadHeaderTimeout: 10 * time.Second}
	sse.EndOnShutdown(srv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown) // ends every stream at once
	hub.Close()
}
