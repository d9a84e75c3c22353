package sse

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// serveScriptOver is serveScript over HTTP/2 (with TLS) if h2 is set.
func serveScriptOver(t *testing.T, h2 bool, steps ...http.HandlerFunc) (*httptest.Server, *script) {
	t.Helper()
	if !h2 {
		return serveScript(t, steps...)
	}
	s := &script{steps: steps}
	srv := httptest.NewUnstartedServer(s)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, s
}

// TestClientEndOnEOF checks that WithEndOnEOF ends the iteration when the
// server ends its response, and only then: a cut connection and a retried
// status still reconnect (and resume), over HTTP/1.1 and HTTP/2.
func TestClientEndOnEOF(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name     string
		steps    []http.HandlerFunc
		end      bool
		want     []string // data of the events
		requests int
		lastIDs  []string // Last-Event-ID of each request
	}{
		{"ended", []http.HandlerFunc{body("id: 1\ndata: a\n\ndata: b\n\n")}, true, []string{"a", "b"}, 1, []string{""}},
		{"ended before any event", []http.HandlerFunc{body(": nothing to say\n\n")}, true, nil, 1, []string{""}},
		{"cut, then ended", []http.HandlerFunc{cut("id: 1\ndata: a\n\n"), body("data: b\n\n")}, true, []string{"a", "b"}, 2, []string{"", "1"}},
		{"retried status, then ended", []http.HandlerFunc{status(http.StatusServiceUnavailable), body("data: a\n\n")}, true, []string{"a"}, 2, []string{"", ""}},
		{"without the option", []http.HandlerFunc{body("id: 1\ndata: a\n\n")}, false, []string{"a"}, 2, []string{"", "1"}}, // then 204
	}
	for _, h2 := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(map[bool]string{false: "http1/", true: "http2/"}[h2]+tt.name, func(t *testing.T) {
				srv, sc := serveScriptOver(t, h2, tt.steps...)
				var w waits
				opts := []ClientOption{w.option()}
				if tt.end {
					opts = append(opts, WithEndOnEOF())
				}
				got, err := collect(Events(srv.Client(), get(t, srv.URL), opts...))
				if err != nil {
					t.Fatalf("error %v after %d events", err, len(got))
				}
				var data []string
				for _, ev := range got {
					data = append(data, ev.Data)
				}
				if !reflect.DeepEqual(data, tt.want) {
					t.Errorf("events %q, want %q", data, tt.want)
				}
				reqs := sc.requests()
				if len(reqs) != tt.requests {
					t.Fatalf("%d requests, want %d", len(reqs), tt.requests)
				}
				for i, want := range tt.lastIDs {
					if got := reqs[i].header.Get("Last-Event-ID"); got != want {
						t.Errorf("request %d: Last-Event-ID %q, want %q", i, got, want)
					}
				}
			})
		}
	}
}

// TestClientEndAfter checks that WithEndAfter ends the iteration after the
// event it names, yielded first, and closes the response though the server
// keeps it open, without reconnecting.
func TestClientEndAfter(t *testing.T) {
	leaktest.Check(t)
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			left := make(chan struct{})
			srv, sc := serveScriptOver(t, h2, func(w http.ResponseWriter, r *http.Request) {
				defer close(left)
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: a\n\ndata: [DONE]\n\ndata: after the end\n\n")
				w.(http.Flusher).Flush()
				<-r.Context().Done() // open until the client leaves
			})
			done := WithEndAfter(func(ev Event) bool { return ev.Data == "[DONE]" })
			got, err := collect(Events(srv.Client(), get(t, srv.URL), done))
			if err != nil || len(got) != 2 || got[0].Data != "a" || got[1].Data != "[DONE]" {
				t.Fatalf("events %v, error %v; want a and [DONE], no error", got, err)
			}
			select {
			case <-left:
			case <-time.After(time.Minute): // a hang guard, not a measure
				t.Fatal("the server's handler still runs: the client did not close the response")
			}
			if n := len(sc.requests()); n != 1 {
				t.Errorf("%d requests, want 1: the client reconnected after the end", n)
			}
		})
	}
}
