package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	sse "github.com/eventwire/sse/core"
)

// DrainEnv is the environment variable that makes a server drain its
// streams when it shuts down: a duration, the window given to
// sse.DrainOnShutdown. With it set the server also answers
//
//	POST /shutdown   runs http.Server.Shutdown and answers, once it has
//	                 returned, with a ShutdownResult
//
// The server process then stays up, serving nothing, until the load tool
// stops it.
const DrainEnv = "BENCH_DRAIN"

// shutdownTimeout bounds Shutdown in POST /shutdown beyond the window.
const shutdownTimeout = 30 * time.Second

// ShutdownResult is what POST /shutdown answers.
type ShutdownResult struct {
	ElapsedNs int64  `json:"elapsed_ns"` // from Shutdown's call to its return
	Err       string `json:"err,omitempty"`
}

// drainOnShutdown reads DrainEnv and, if it is set, makes srv drain its
// streams over that window and serves POST /shutdown on mux. Call it
// before srv serves.
func drainOnShutdown(srv *http.Server, mux *http.ServeMux) error {
	v := os.Getenv(DrainEnv)
	if v == "" {
		return nil
	}
	window, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s: %w", DrainEnv, err)
	}
	sse.DrainOnShutdown(srv, window)
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
		shutdown(w, srv, window+shutdownTimeout)
	})
	return nil
}

// shutdown takes the request's connection over (Shutdown would wait for
// it as for any active request), shuts srv down, and writes the response
// on the connection once Shutdown has returned.
func shutdown(w http.ResponseWriter, srv *http.Server, timeout time.Duration) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot take the connection over: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	res := ShutdownResult{ElapsedNs: int64(time.Since(start))}
	if err != nil {
		res.Err = err.Error()
	}
	body, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server: shutdown result:", err)
		return
	}
	if _, err := fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		len(body), body); err != nil {
		fmt.Fprintln(os.Stderr, "server: shutdown result:", err)
		return
	}
	if err := buf.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "server: shutdown result:", err)
	}
}
