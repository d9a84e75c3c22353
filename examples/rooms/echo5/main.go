package main

import (
	"context"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/eventwire/sse/adapters/echo/v5"
	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v5"
)

// auth stands for your own: it refuses requests without a user, before any
// stream starts, and leaves the user in the echo context.
func auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		user := c.Request().Header.Get("X-User")
		if user == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "who are you?")
		}
		c.Set("user", user)
		return next(c)
	}
}

func main() {
	hub, err := sse.NewHub()
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(auth)
	e.GET("/rooms/:room/events", sseecho.Handler(func(s *sse.Stream) error {
		c := sseecho.Context(s)
		if err := s.Send(sse.Event{Type: "welcome", Data: c.Get("user").(string)}); err != nil {
			return err
		}
		return hub.Subscribe(s, "room:"+c.Param("room"))
	}))
	e.POST("/rooms/:room/messages", func(c *echo.Context) error {
		var msg struct{ Text string }
		if err := c.Bind(&msg); err != nil {
			return err
		}
		ev := sse.Event{Type: "message", JSON: map[string]string{"from": c.Get("user").(string), "text": msg.Text}}
		if err := hub.Publish(c.Request().Context(), ev, "room:"+c.Param("room")); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
		}
		return c.NoContent(http.StatusAccepted)
	})

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: e, ReadHeaderTimeout: 10 * time.Second}
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
