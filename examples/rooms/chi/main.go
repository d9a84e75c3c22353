package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/eventwire/sse/adapters/chi"
	sse "github.com/eventwire/sse/core"
	"github.com/go-chi/chi/v5"
)

type userKey struct{}

// auth stands for your own: it refuses requests without a user, before any
// stream starts, and leaves the user in the request's context.
func auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get("X-User")
		if user == "" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

func main() {
	hub, err := sse.NewHub()
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(auth)
	r.Get("/rooms/{room}/events", ssechi.Handler(func(s *sse.Stream) error {
		user := s.Request().Context().Value(userKey{}).(string)
		if err := s.Send(sse.Event{Type: "welcome", Data: user}); err != nil {
			return err
		}
		return hub.Subscribe(s, "room:"+chi.URLParam(s.Request(), "room"))
	}))
	r.Post("/rooms/{room}/messages", func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev := sse.Event{Type: "message", JSON: map[string]string{"from": r.Context().Value(userKey{}).(string), "text": msg.Text}}
		if err := hub.Publish(r.Context(), ev, "room:"+chi.URLParam(r, "room")); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
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
