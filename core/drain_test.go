package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// TestDrainOnShutdown checks that a server made to drain ends every
// stream, plain and hub subscription alike, with a retry hint and a clean
// end of the response, that each stream's context ends with
// http.ErrServerClosed, and that http.Server.Shutdown returns once they
// all have.
func TestDrainOnShutdown(t *testing.T) {
	leaktest.Check(t)
	const streams = 10 // of each kind
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			hub := newTestHub(t)
			causes := make(chan error, streams)
			mux := http.NewServeMux()
			mux.Handle("/plain", Handler(func(s *Stream) error {
				if err := s.Send(Event{Data: "open"}); err != nil {
					return err
				}
				<-s.Done()
				causes <- context.Cause(s.Context())
				return nil
			}, WithHeartbeat(0)))
			mux.Handle("/hub", Handler(hub.StreamFunc("t"), WithHeartbeat(0)))
			ls := startLiveServer(t, p.http2, mux, func(srv *http.Server) { DrainOnShutdown(srv, 300*time.Millisecond) })

			var wg sync.WaitGroup
			ends := make(chan string, 2*streams) // what each stream ended with
			for i := range 2 * streams {
				path := map[bool]string{false: "/plain", true: "/hub"}[i%2 == 1]
				resp, _ := doStream(t, ls, path, nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					body, err := io.ReadAll(resp.Body)
					frames := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
					ends <- fmt.Sprintf("%s %v %s", path, err, frames[len(frames)-1])
				}()
			}
			hubWaitSubscribers(t, hub, streams) // the plain ones are open: doStream had their headers
			ctx, cancel := context.WithTimeout(context.Background(), hubWait)
			defer cancel()
			if err := ls.Config.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			wg.Wait()
			close(ends)
			for end := range ends {
				path, rest, _ := strings.Cut(end, " ")
				errText, last, _ := strings.Cut(rest, " ")
				ms, err := strconv.Atoi(strings.TrimPrefix(last, "retry: "))
				if errText != "<nil>" || !strings.HasPrefix(last, "retry: ") || err != nil || ms < 1 || ms > 1000 {
					t.Errorf("%s stream ended with %s after %q; want a retry of 1 to 1000 ms and a clean end", path, errText, last)
				}
			}
			for range streams {
				if cause := receive(t, causes, arrive, "a plain stream's cause"); !errors.Is(cause, http.ErrServerClosed) {
					t.Errorf("a plain stream's context ended with %v, want http.ErrServerClosed", cause)
				}
			}
		})
	}
}
