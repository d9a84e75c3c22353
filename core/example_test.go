package sse_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	sse "github.com/eventwire/sse/core"
)

// The demo's stream: an event every two seconds until the client goes
// away. Every stops its ticker and returns when the client leaves; there is
// nothing to clean up by hand.
func ExampleHandler() {
	ended := make(chan struct{})
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		defer close(ended)
		id := 0
		return s.Every(2*time.Second, func() error {
			id++
			return s.Send(sse.Event{ID: strconv.Itoa(id), Data: "hello"})
		})
	}))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Header.Get("Content-Type"))
	ev, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("id %s: %s\n", ev.ID, ev.Data)

	resp.Body.Close() // the client goes away
	<-ended
	fmt.Println("stream ended")
	// Output:
	// text/event-stream
	// id 1: hello
	// stream ended
}

// Data with line breaks becomes one data line per line; an ID that would
// inject a field is refused and nothing is written.
func ExampleEvent_AppendText() {
	ev := sse.Event{ID: "7", Type: "note", Data: "first line\nsecond line"}
	frame, _ := ev.AppendText(nil)
	fmt.Print(string(frame))

	bad := sse.Event{ID: "8\ndata: injected", Data: "x"}
	_, err := bad.AppendText(nil)
	fmt.Println(errors.Is(err, sse.ErrInvalidID))
	// Output:
	// id: 7
	// event: note
	// data: first line
	// data: second line
	//
	// true
}

// Serve lets one route answer EventSource clients with a stream and
// everyone else with an ordinary response.
func ExampleServe() {
	h := func(w http.ResponseWriter, r *http.Request) {
		if !sse.Accepts(r) {
			fmt.Fprint(w, "ok")
			return
		}
		err := sse.Serve(w, r, func(s *sse.Stream) error {
			return s.Send(sse.Event{Type: "greeting", JSON: map[string]string{"to": s.LastEventID()}})
		})
		if err != nil {
			fmt.Println(err)
		}
	}

	plain := httptest.NewRecorder()
	h(plain, httptest.NewRequest(http.MethodGet, "/events", nil))
	fmt.Println(plain.Body.String())

	req := httptest.NewRequest(http.MethodGet, "/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "41")
	stream := httptest.NewRecorder()
	h(stream, req)
	fmt.Print(stream.Body.String())
	// Output:
	// ok
	// event: greeting
	// data: {"to":"41"}
	//
}

// StreamTo writes a stream to any flushing writer, here standard output.
func ExampleStreamTo() {
	out := bufio.NewWriter(os.Stdout)
	err := sse.StreamTo(context.Background(), out, func(s *sse.Stream) error {
		if err := s.Send(sse.Event{Comment: "two events follow"}); err != nil {
			return err
		}
		for _, word := range []string{"alpha", "beta"} {
			if err := s.Send(sse.Event{Data: word}); err != nil {
				return err
			}
		}
		return nil
	}, sse.WithRetry(5*time.Second))
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// retry: 5000
	//
	// : two events follow
	//
	// data: alpha
	//
	// data: beta
	//
}

func ExampleAccepts() {
	for _, accept := range []string{
		"text/event-stream",
		"*/*",
		"text/html,application/xhtml+xml,*/*;q=0.8",
		"application/json, text/event-stream;q=0.5",
		"text/event-stream;q=0",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", accept)
		fmt.Printf("%-45q %v\n", accept, sse.Accepts(r))
	}
	// Output:
	// "text/event-stream"                           true
	// "*/*"                                         false
	// "text/html,application/xhtml+xml,*/*;q=0.8"   false
	// "application/json, text/event-stream;q=0.5"   true
	// "text/event-stream;q=0"                       false
}

// A Decoder reads a stream as a browser's EventSource does.
func ExampleDecoder() {
	stream := "retry: 2000\nid: 1\ndata: first\ndata: line\n\n: a comment\nevent: update\ndata: second\n\n"
	d := sse.NewDecoder(strings.NewReader(stream))
	for {
		ev, err := d.Next()
		if err != nil {
			break
		}
		// ev.ID is the event's own; LastEventID the one in force.
		fmt.Printf("%s id=%q last=%s %q\n", ev.Type, ev.ID, d.LastEventID(), ev.Data)
	}
	fmt.Println(d.Retry())
	// Output:
	// message id="1" last=1 "first\nline"
	// update id="" last=1 "second"
	// 2s
}

// A Limit caps the streams one user keeps open; a stream past the cap is
// refused so that its client comes back by itself later: 503 with
// Retry-After for a client such as this one, 200 with a retry delay for a
// browser's EventSource.
func ExampleLimit() {
	limit := &sse.Limit{PerKey: 1, Key: func(r *http.Request) string { return r.URL.Query().Get("user") }}
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		<-s.Done()
		return nil
	}, sse.WithLimit(limit)))
	defer srv.Close()

	first, err := http.Get(srv.URL + "?user=ann")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer first.Body.Close()
	second, err := http.Get(srv.URL + "?user=ann")
	if err != nil {
		fmt.Println(err)
		return
	}
	second.Body.Close()
	fmt.Println(first.Status)
	fmt.Println(second.Status, second.Header.Get("Retry-After") != "")
	fmt.Println(limit.Open(), "open")
	// Output:
	// 200 OK
	// 503 Service Unavailable true
	// 1 open
}
