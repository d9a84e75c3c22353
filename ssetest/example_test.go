package ssetest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	ssechi "github.com/eventwire/sse/adapters/chi"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/ssetest"
	"github.com/go-chi/chi/v5"
)

// countFrom streams the numbers after the client's last event ID, each
// its own ID, until the client leaves.
func countFrom(s *sse.Stream) error {
	n, _ := strconv.Atoi(s.LastEventID())
	for {
		n++
		if err := s.Send(sse.Event{ID: strconv.Itoa(n), Data: "tick"}); err != nil {
			return err
		}
		if n%3 == 0 { // three at a time, then wait for the client to leave
			<-s.Done()
			return nil
		}
	}
}

// A handler of net/http tested as a browser uses it: three events, then
// the client reconnects with the last ID it saw and the handler resumes
// after it. Leaving the test closes the connection and checks that the
// handler returned.
func Example() {
	exampleTest(func(t testing.TB) { // go test passes your TestXxx its *testing.T
		c := ssetest.Open(t, sse.Handler(countFrom), nil)
		for _, ev := range c.Take(3) {
			fmt.Println(ev.ID, ev.Data)
		}
		c.Reconnect()
		fmt.Println("resumed at", c.Next().ID)
	})
	// Output:
	// 1 tick
	// 2 tick
	// 3 tick
	// resumed at 4
}

// A chi route that streams to EventSource clients and answers others with
// a page: the test sees the stream, then the page, status and headers.
func ExampleConn_Response() {
	r := chi.NewRouter()
	r.With(ssechi.Middleware(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "welcome to " + chi.URLParam(s.Request(), "room")})
	})).Get("/rooms/{room}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<h1>lobby</h1>"))
	})

	exampleTest(func(t testing.TB) {
		req := httptest.NewRequest(http.MethodGet, "/rooms/lobby", nil)
		fmt.Println(ssetest.Open(t, r, req).Next().Data)

		req = httptest.NewRequest(http.MethodGet, "/rooms/lobby", nil)
		req.Header.Set("Accept", "text/html") // a browser's navigation
		resp := ssetest.Open(t, r, req).Response()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.Status, resp.Header.Get("Vary"), string(body))
	})
	// Output:
	// welcome to lobby
	// 200 OK Accept <h1>lobby</h1>
}

// exampleTest stands in for go test in the examples, which have no
// *testing.T: it runs test, cleanups included, and prints what it
// reported.
func exampleTest(test func(t testing.TB)) {
	for _, report := range run(test).reports {
		fmt.Println("FAIL:", report)
	}
}
