package sse_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sse "github.com/eventwire/sse/core"
)

// Reading a stream: the loop sees each event once, with the last event ID
// a browser would report. When the stream ends the client reconnects with
// Last-Event-ID; this server then answers 204 No Content, which ends the
// loop without an error.
func ExampleEvents() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") == "2" {
			w.WriteHeader(http.StatusNoContent) // nothing more: stop
			return
		}
		sse.Serve(w, r, func(s *sse.Stream) error {
			s.Send(sse.Event{ID: "1", Type: "greeting", Data: "hello"})
			s.Send(sse.Event{Data: "no id of its own"})
			return s.Send(sse.Event{ID: "2", JSON: map[string]int{"n": 2}})
		})
	}))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	for ev, err := range sse.Events(srv.Client(), req, sse.WithReconnectDelay(time.Millisecond)) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s [%s] %s\n", ev.ID, ev.Type, ev.Data)
	}
	fmt.Println("server said stop")
	// Output:
	// 1 [greeting] hello
	//  [message] no id of its own
	// 2 [message] {"n":2}
	// server said stop
}

// A streaming API in the style of LLM completions: a POST with a JSON
// body, answered with an event stream of tokens. This server drops the
// connection after two tokens; the client reconnects on its own, sending
// the body again (http.NewRequest sets GetBody for a strings.Reader) with
// the Last-Event-ID, and the server resumes after it.
func ExampleEvents_post() {
	tokens := []string{"Server", "-sent", " events", " resume", "."}
	var dropped atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Prompt string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		next := 0
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			next, _ = strconv.Atoi(id)
			fmt.Printf("(server: resuming %q after token %s)\n", in.Prompt, id)
		}
		sse.Serve(w, r, func(s *sse.Stream) error {
			for i := next; i < len(tokens); i++ {
				if i == 2 && dropped.CompareAndSwap(false, true) {
					return nil // the connection drops
				}
				if err := s.Send(sse.Event{ID: strconv.Itoa(i + 1), JSON: map[string]string{"token": tokens[i]}}); err != nil {
					return err
				}
			}
			return s.Send(sse.Event{Data: "[DONE]"})
		})
	}))
	defer srv.Close()

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL,
		strings.NewReader(`{"prompt": "say something"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer secret")

	// The answer ends with [DONE]: the iteration ends there, rather than
	// reconnecting and asking again.
	done := sse.WithEndAfter(func(ev sse.Event) bool { return ev.Data == "[DONE]" })
	var answer strings.Builder
	for ev, err := range sse.Events(srv.Client(), req, done, sse.WithReconnectDelay(time.Millisecond)) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if ev.Data == "[DONE]" {
			continue
		}
		var chunk struct{ Token string }
		if err := json.Unmarshal([]byte(ev.Data), &chunk); err != nil {
			fmt.Println("bad chunk:", err)
			return
		}
		answer.WriteString(chunk.Token)
	}
	fmt.Println(answer.String())
	// Output:
	// (server: resuming "say something" after token 2)
	// Server-sent events resume.
}

// A request body that cannot be read twice (here, one without GetBody)
// works until the client has to reconnect, and then says why it cannot.
func ExampleEvents_bodyNotReplayable() {
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "one answer, then the stream ends"})
	}))
	defer srv.Close()

	body := io.MultiReader(strings.NewReader(`{"prompt": "hi"}`)) // a reader NewRequest cannot rewind
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	for ev, err := range sse.Events(srv.Client(), req, sse.WithReconnectDelay(time.Millisecond)) {
		if err != nil {
			fmt.Println(errors.Is(err, sse.ErrBodyNotReplayable))
			fmt.Println(err)
			break
		}
		fmt.Println(ev.Data)
	}
	// Output:
	// one answer, then the stream ends
	// true
	// sse: request body cannot be sent again: the request has no GetBody
}

// A response status that fails the stream carries the start of its body,
// which often says why.
func ExampleStatusError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid API key"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()

	for _, err := range sse.Get(context.Background(), srv.URL) {
		var se *sse.StatusError
		if errors.As(err, &se) {
			fmt.Println(se.StatusCode, strings.TrimSpace(se.Body))
		}
	}
	// Output:
	// 401 {"error":"invalid API key"}
}

// A Decoder that continues a stream after a reconnect reports the ID it
// resumed from, as a browser does, until the stream sets another.
func ExampleDecoder_SetLastEventID() {
	d := sse.NewDecoder(strings.NewReader("data: a\n\nid: 43\ndata: b\n\n"))
	d.SetLastEventID("42")
	for {
		ev, err := d.Next()
		if err != nil {
			break
		}
		fmt.Println(d.LastEventID(), ev.Data)
	}
	// Output:
	// 42 a
	// 43 b
}
