package ssetest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ssechi "github.com/eventwire/sse/adapters/chi"
	sseecho "github.com/eventwire/sse/adapters/echo"
	ssegin "github.com/eventwire/sse/adapters/gin"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
	"github.com/eventwire/sse/ssetest"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
)

// checkEvents fails the test unless got are want, compared on what a
// client sees: ID, Type and Data.
func checkEvents(t *testing.T, got, want []sse.Event) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].ID == want[i].ID && got[i].Type == want[i].Type && got[i].Data == want[i].Data
	}
	if !same {
		t.Errorf("events:\n%s\nwant:\n%s", list(got), list(want))
	}
}

func list(evs []sse.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\t{ID:%q Type:%q Data:%q}\n", ev.ID, ev.Type, ev.Data)
	}
	return b.String()
}

// counter streams the numbers from 1, each its own ID, until the client
// leaves; it sets ended once it has returned, a moment after.
func counter(ended *atomic.Bool) http.Handler {
	return sse.Handler(func(s *sse.Stream) error {
		defer func() {
			time.Sleep(20 * time.Millisecond) // a handler that takes a moment to finish
			ended.Store(true)
		}()
		for i := 1; ; i++ {
			if err := s.Send(sse.Event{ID: strconv.Itoa(i), Data: "n" + strconv.Itoa(i)}); err != nil {
				return err
			}
			select {
			case <-s.Done():
				return nil
			case <-time.After(time.Millisecond):
			}
		}
	})
}

// TestTakeAndClose reads events from a live stream and checks that Close
// returns only once the handler has.
func TestTakeAndClose(t *testing.T) {
	leaktest.Check(t)
	var ended atomic.Bool
	c := ssetest.Open(t, counter(&ended), nil)
	checkEvents(t, []sse.Event{c.Next()}, []sse.Event{{ID: "1", Type: "message", Data: "n1"}})
	checkEvents(t, c.Take(2), []sse.Event{
		{ID: "2", Type: "message", Data: "n2"},
		{ID: "3", Type: "message", Data: "n3"},
	})
	if got := c.Take(0); len(got) != 0 {
		t.Errorf("Take(0) = %v, want none", got)
	}
	if ended.Load() {
		t.Fatal("the handler ended while the client was still reading")
	}
	if resp := c.Response(); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("response %s with Content-Type %q, want 200 text/event-stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	c.Close()
	if !ended.Load() {
		t.Error("Close returned before the handler did")
	}
	c.Close() // again: nothing to do
}

// TestRest reads a stream that the handler ends by itself.
func TestRest(t *testing.T) {
	leaktest.Check(t)
	h := sse.Handler(func(s *sse.Stream) error {
		for _, data := range []string{"a", "b", "c"} {
			if err := s.Send(sse.Event{Type: "letter", Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	c := ssetest.Open(t, h, nil)
	first := c.Next()
	checkEvents(t, append([]sse.Event{first}, c.Rest()...), []sse.Event{
		{Type: "letter", Data: "a"}, {Type: "letter", Data: "b"}, {Type: "letter", Data: "c"},
	})
	if rest := c.Rest(); len(rest) != 0 {
		t.Errorf("Rest after the end = %v, want none", rest)
	}
}

// TestRouters runs handlers of every router adapter, over HTTP/1.1 and
// HTTP/2, with a route parameter that the stream function reads.
func TestRouters(t *testing.T) {
	leaktest.Check(t)
	mode := gin.Mode()
	gin.SetMode(gin.ReleaseMode)
	t.Cleanup(func() { gin.SetMode(mode) })

	welcome := func(room string) sse.StreamFunc {
		return func(s *sse.Stream) error {
			if err := s.Send(sse.Event{ID: "1", Data: "welcome to " + room}); err != nil {
				return err
			}
			<-s.Done()
			return nil
		}
	}
	routers := map[string]func() http.Handler{
		"net/http": func() http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("/rooms/{room}/events", func(w http.ResponseWriter, r *http.Request) {
				sse.Serve(w, r, welcome(r.PathValue("room")))
			})
			return mux
		},
		"chi": func() http.Handler {
			r := chi.NewRouter()
			r.Get("/rooms/{room}/events", func(w http.ResponseWriter, r *http.Request) {
				ssechi.Handler(welcome(chi.URLParam(r, "room"))).ServeHTTP(w, r)
			})
			return r
		},
		"gin": func() http.Handler {
			r := gin.New()
			r.GET("/rooms/:room/events", func(c *gin.Context) {
				ssegin.Handler(welcome(c.Param("room")))(c)
			})
			return r
		},
		"echo": func() http.Handler {
			e := echo.New()
			e.GET("/rooms/:room/events", func(c echo.Context) error {
				return sseecho.Handler(welcome(c.Param("room")))(c)
			})
			return e
		},
	}
	for name, router := range routers {
		for _, h2 := range []bool{false, true} {
			var opts []ssetest.Option
			if h2 {
				opts = append(opts, ssetest.WithHTTP2())
			}
			t.Run(fmt.Sprintf("%s/HTTP2=%v", name, h2), func(t *testing.T) {
				c := ssetest.Open(t, router(), httptest.NewRequest(http.MethodGet, "/rooms/lobby/events", nil), opts...)
				checkEvents(t, []sse.Event{c.Next()}, []sse.Event{{ID: "1", Type: "message", Data: "welcome to lobby"}})
				if want := map[bool]int{false: 1, true: 2}[h2]; c.Response().ProtoMajor != want {
					t.Errorf("response over %s, want HTTP/%d", c.Response().Proto, want)
				}
			})
		}
	}
}

// TestRequest checks that the handler gets the request as the test made
// it, with the headers of an EventSource added, and again on reconnect.
func TestRequest(t *testing.T) {
	leaktest.Check(t)
	echoRequest := sse.Handler(func(s *sse.Stream) error {
		r := s.Request()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		return s.Send(sse.Event{ID: "7", Data: fmt.Sprintf("%s %s host=%s body=%s token=%s accept=%s cache=%s last=%s",
			r.Method, r.URL.RequestURI(), r.Host, body, r.Header.Get("X-Token"),
			r.Header.Get("Accept"), r.Header.Get("Cache-Control"), r.Header.Get("Last-Event-ID"))})
	})
	newRequest := func(method, target, body string) *http.Request {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, target, rd)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	for _, tt := range []struct {
		name      string
		req       func() *http.Request
		first     string
		reconnect string
	}{
		{
			"nil",
			func() *http.Request { return nil },
			"GET / host={server} body= token= accept=text/event-stream cache=no-cache last=",
			"GET / host={server} body= token= accept=text/event-stream cache=no-cache last=7",
		},
		{
			"httptest.NewRequest POST",
			func() *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/chat?room=1", strings.NewReader(`{"prompt":"hi"}`))
				req.Header.Set("X-Token", "secret")
				return req
			},
			`POST /chat?room=1 host=example.com body={"prompt":"hi"} token=secret accept=text/event-stream cache=no-cache last=`,
			`POST /chat?room=1 host=example.com body={"prompt":"hi"} token=secret accept=text/event-stream cache=no-cache last=7`,
		},
		{
			"http.NewRequest with headers of its own",
			func() *http.Request {
				req := newRequest(http.MethodGet, "http://elsewhere.test/feed?x=%20y", "")
				req.Header.Set("Accept", "text/event-stream, text/plain;q=0.5")
				req.Header.Set("Cache-Control", "max-age=0")
				req.Header.Set("Last-Event-ID", "3")
				return req
			},
			"GET /feed?x=%20y host=elsewhere.test body= token= accept=text/event-stream, text/plain;q=0.5 cache=max-age=0 last=3",
			"GET /feed?x=%20y host=elsewhere.test body= token= accept=text/event-stream, text/plain;q=0.5 cache=max-age=0 last=7",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ssetest.Open(t, echoRequest, tt.req())
			server := c.Response().Request.URL.Host
			if got, want := c.Next().Data, strings.Replace(tt.first, "{server}", server, 1); got != want {
				t.Errorf("first request:\n got %s\nwant %s", got, want)
			}
			c.Reconnect()
			if got, want := c.Next().Data, strings.Replace(tt.reconnect, "{server}", server, 1); got != want {
				t.Errorf("after Reconnect:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestReconnect checks that Reconnect sends the last event ID the stream
// set, which events without one report as a browser does, and sends none
// once the stream cleared it.
func TestReconnect(t *testing.T) {
	leaktest.Check(t)
	h := sse.Handler(func(s *sse.Stream) error {
		last, _ := strconv.Atoi(s.LastEventID())
		for _, ev := range []sse.Event{
			{ID: strconv.Itoa(last + 1), Data: "from " + s.LastEventID()},
			{ID: strconv.Itoa(last + 2), Data: "second"},
			{Data: "no id"},
		} {
			if err := s.Send(ev); err != nil {
				return err
			}
		}
		if last >= 2 {
			if err := s.Send(sse.Event{ClearID: true, Data: "cleared"}); err != nil {
				return err
			}
		}
		<-s.Done()
		return nil
	})
	c := ssetest.Open(t, h, nil)
	checkEvents(t, c.Take(3), []sse.Event{
		{ID: "1", Type: "message", Data: "from "},
		{ID: "2", Type: "message", Data: "second"},
		{ID: "2", Type: "message", Data: "no id"},
	})
	c.Reconnect()
	if got := c.Response().Request.Header.Get("Last-Event-ID"); got != "2" {
		t.Errorf("reconnected with Last-Event-ID %q, want 2", got)
	}
	checkEvents(t, c.Take(4), []sse.Event{
		{ID: "3", Type: "message", Data: "from 2"},
		{ID: "4", Type: "message", Data: "second"},
		{ID: "4", Type: "message", Data: "no id"},
		{ID: "", Type: "message", Data: "cleared"},
	})
	c.Reconnect()
	if _, sent := c.Response().Request.Header["Last-Event-Id"]; sent {
		t.Errorf("reconnected with Last-Event-ID %q after the stream cleared it, want none", c.Response().Request.Header.Get("Last-Event-ID"))
	}
	checkEvents(t, []sse.Event{c.Next()}, []sse.Event{{ID: "1", Type: "message", Data: "from "}})
}

// TestHub tests a hub's handler as a user would: a client that reconnects
// gets what it missed, one with an unknown ID gets a reset.
func TestHub(t *testing.T) {
	leaktest.Check(t)
	subscribed := make(chan struct{}, 1)
	hub, err := sse.NewHub(sse.WithHooks(sse.Hooks{
		Connect: func(*sse.Stream, []string) { subscribed <- struct{}{} },
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	h := sse.Handler(hub.StreamFunc("news"))
	publish := func(data string) {
		t.Helper()
		if err := hub.Publish(context.Background(), sse.Event{Data: data}, "news"); err != nil {
			t.Fatal(err)
		}
	}

	c := ssetest.Open(t, h, nil)
	<-subscribed
	publish("one")
	publish("two")
	got := c.Take(2)
	c.Close()
	publish("three") // while the client is away
	c.Reconnect()
	<-subscribed
	missed := c.Next()
	if missed.Data != "three" || missed.ID == got[1].ID {
		t.Errorf("after reconnecting with %q: %+v, want the event published while away", got[1].ID, missed)
	}

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Last-Event-ID", "no-such-id")
	reset := ssetest.Open(t, h, req).Next()
	<-subscribed
	if reset.Type != sse.ResetEvent {
		t.Errorf("with an unknown Last-Event-ID: %+v, want a %s event", reset, sse.ResetEvent)
	}
}

// TestRefused checks that a response that is not a stream is kept whole
// for Response.
func TestRefused(t *testing.T) {
	leaktest.Check(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ok" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		if !sse.Negotiate(w.Header(), r) {
			w.Write([]byte("a page"))
			return
		}
		sse.Serve(w, r, func(s *sse.Stream) error { return s.Send(sse.Event{Data: "stream"}) })
	})
	for _, tt := range []struct {
		name, auth, accept string
		status             int
		header, value      string
		body               string
	}{
		{"unauthorized", "", "", http.StatusUnauthorized, "WWW-Authenticate", "Bearer", "who are you?\n"},
		{"ordinary response", "Bearer ok", "text/html", http.StatusOK, "Vary", "Accept", "a page"},
		{"stream", "Bearer ok", "", http.StatusOK, "Content-Type", "text/event-stream", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", tt.auth)
			req.Header.Set("Accept", tt.accept)
			c := ssetest.Open(t, h, req)
			resp := c.Response()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get(tt.header) != tt.value || string(body) != tt.body {
				t.Errorf("%s with %s %q and body %q, want %d with %q and %q",
					resp.Status, tt.header, resp.Header.Get(tt.header), body, tt.status, tt.value, tt.body)
			}
			if again, _ := io.ReadAll(c.Response().Body); string(again) != tt.body {
				t.Errorf("second Response body %q, want %q again", again, tt.body)
			}
		})
	}
}
