package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eventwire/sse/internal/leaktest"
)

// seen is what a test server saw of one request.
type seen struct {
	method string
	path   string
	header http.Header
	body   string
}

// script is a test server that answers request i with steps[i], and every
// request after the last step with 204 No Content, which ends the client.
type script struct {
	mu    sync.Mutex
	reqs  []seen
	steps []http.HandlerFunc
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(body)})
	i := len(s.reqs) - 1
	s.mu.Unlock()
	if i >= len(s.steps) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.steps[i](w, r)
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// serveScript starts a server running steps and returns it with its script.
func serveScript(t *testing.T, steps ...http.HandlerFunc) (*httptest.Server, *script) {
	t.Helper()
	s := &script{steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

// body answers with an event stream of b, which then ends.
func body(b string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, b)
	}
}

// cut answers with an event stream of b and then breaks the connection,
// as a network failure would.
func cut(b string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, b)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// status answers with code and headers given as name, value pairs.
func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	}
}

// waits records the reconnection delays of a client instead of waiting.
type waits struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (w *waits) option() ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.sleep = func(ctx context.Context, d time.Duration) error {
			w.mu.Lock()
			w.delays = append(w.delays, d)
			w.mu.Unlock()
			return context.Cause(ctx)
		}
	})
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.delays...)
}

// collect ranges over seq and returns the events and the final error.
func collect(seq func(func(Event, error) bool)) ([]Event, error) {
	var events []Event
	for ev, err := range seq {
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
	return events, nil
}

func get(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestClientReadsLikeEventSource runs each client rule of the standard
// over HTTP: what the events are, and what the client sends back when it
// reconnects.
func TestClientReadsLikeEventSource(t *testing.T) {
	const delay = 123 * time.Millisecond
	cases := []struct {
		name    string
		streams []string // one per connection
		want    []Event
		lastIDs []string // Last-Event-ID of each request; "-" for none
		delays  []time.Duration
	}{
		{name: "bom skipped", streams: []string{"\uFEFFdata: a\n\n"}, want: []Event{msg("a")}, lastIDs: []string{"-", "-"}},
		{name: "bom skipped on each connection", streams: []string{"\uFEFFid: 1\ndata: a\n\n", "\uFEFFdata: b\n\n"},
			want: []Event{{ID: "1", Type: "message", Data: "a"}, {ID: "1", Type: "message", Data: "b"}}, lastIDs: []string{"-", "1", "1"}},
		{name: "CR line ends", streams: []string{"id: 1\rdata: a\rdata: b\r\r"},
			want: []Event{{ID: "1", Type: "message", Data: "a\nb"}}, lastIDs: []string{"-", "1"}},
		{name: "unterminated last event dropped with its id", streams: []string{"id: 1\ndata: a\n\nid: 2\ndata: b\n", "data: c\n\n"},
			want: []Event{{ID: "1", Type: "message", Data: "a"}, {ID: "1", Type: "message", Data: "c"}}, lastIDs: []string{"-", "1", "1"}},
		{name: "id with NUL ignored", streams: []string{"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n"},
			want: []Event{{ID: "1", Type: "message", Data: "a"}, {ID: "1", Type: "message", Data: "b"}}, lastIDs: []string{"-", "1"}},
		{name: "empty id resets the last event id", streams: []string{"id: 1\ndata: a\n\nid\ndata: b\n\n"},
			want: []Event{{ID: "1", Type: "message", Data: "a"}, msg("b")}, lastIDs: []string{"-", "-"}},
		{name: "non-ASCII id sent back intact", streams: []string{"id: ünï 😀\ndata: a\n\n"},
			want: []Event{{ID: "ünï 😀", Type: "message", Data: "a"}}, lastIDs: []string{"-", "ünï 😀"}},
		{name: "id carried over a reconnect", streams: []string{"id: 5\ndata: a\n\n", "data: b\n\nid: 6\ndata: c\n\n"},
			want:    []Event{{ID: "5", Type: "message", Data: "a"}, {ID: "5", Type: "message", Data: "b"}, {ID: "6", Type: "message", Data: "c"}},
			lastIDs: []string{"-", "5", "6"}},
		{name: "retry sets the delay", streams: []string{"retry: 456\ndata: a\n\ndata: b\n\n"},
			want: []Event{{Type: "message", Data: "a", Retry: 456 * time.Millisecond}, msg("b")}, delays: []time.Duration{456 * time.Millisecond}},
		{name: "retry in a frame that does not fire", streams: []string{"retry: 456\n\n", "data: a\n\n"},
			want: []Event{{Type: "message", Data: "a", Retry: 456 * time.Millisecond}}, delays: []time.Duration{456 * time.Millisecond, 456 * time.Millisecond}},
		{name: "retry with junk ignored", streams: []string{"retry: 45x\ndata: a\n\nretry: -1\nretry: 1.5\nretry: 1 \n\n"},
			want: []Event{msg("a")}, delays: []time.Duration{delay}},
		{name: "retry zero", streams: []string{"retry: 0\ndata: a\n\n"}, want: []Event{msg("a")}, delays: []time.Duration{0}},
		{name: "comments and unknown fields ignored", streams: []string{": hi\nfoo: bar\ndata: a\n\n"}, want: []Event{msg("a")}},
		{name: "event type", streams: []string{"event: sse-reset\ndata: reload\n\n"}, want: []Event{{Type: ResetEvent, Data: "reload"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			steps := make([]http.HandlerFunc, len(c.streams))
			for i, s := range c.streams {
				steps[i] = body(s)
			}
			srv, sc := serveScript(t, steps...)
			var w waits
			got, err := collect(Events(srv.Client(), get(t, srv.URL), WithReconnectDelay(delay), w.option()))
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if view := browserView(got, ""); !reflect.DeepEqual(view, c.want) {
				t.Errorf("events as a browser sees them =\n%s\nwant\n%s", formatEvents(view), formatEvents(c.want))
			}
			reqs := sc.requests()
			if len(reqs) != len(c.streams)+1 {
				t.Fatalf("%d requests, want %d (one per stream, then 204)", len(reqs), len(c.streams)+1)
			}
			for i, want := range c.lastIDs {
				got, ok := reqs[i].header["Last-Event-Id"]
				if want == "-" {
					if ok {
						t.Errorf("request %d: Last-Event-ID %q, want none", i, got)
					}
				} else if !reflect.DeepEqual(got, []string{want}) {
					t.Errorf("request %d: Last-Event-ID %q, want %q", i, got, want)
				}
			}
			if c.delays != nil && !reflect.DeepEqual(w.get(), c.delays) {
				t.Errorf("delays %v, want %v", w.get(), c.delays)
			}
		})
	}
}

// TestClientCutMidEvent checks that an event cut by a network failure is
// never delivered, in part or joined with the next connection's lines.
func TestClientCutMidEvent(t *testing.T) {
	srv, sc := serveScript(t, cut("id: 1\ndata: a\n\nid: 2\ndata: b\ndata: par"), body("tial\n\ndata: c\n\n"))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the aborted handler
	var w waits
	got, err := collect(Events(srv.Client(), get(t, srv.URL), w.option()))
	want := []Event{{ID: "1", Type: "message", Data: "a"}, msg("c")} // c has no ID of its own
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("events =\n%s\nerror %v; want\n%s", formatEvents(got), err, formatEvents(want))
	}
	if id := sc.requests()[1].header.Get("Last-Event-ID"); id != "1" {
		t.Errorf("reconnected with Last-Event-ID %q, want 1", id)
	}
}

func TestClientStatus(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name     string
		opts     []ClientOption
		steps    []http.HandlerFunc
		requests int
		want     []Event
		err      error // nil, or what the final error wraps
		code     int   // the StatusError's code, if any
		delays   []time.Duration
	}{
		{name: "204 stops", steps: nil, requests: 1},
		{name: "204 after events stops", steps: []http.HandlerFunc{body("data: a\n\n")}, requests: 2, want: []Event{msg("a")}},
		{name: "500 retried", steps: []http.HandlerFunc{status(500), body("data: a\n\n")}, requests: 3, want: []Event{msg("a")}},
		{name: "503 with Retry-After seconds", steps: []http.HandlerFunc{status(503, "Retry-After", "7"), body("data: a\n\n")},
			requests: 3, want: []Event{msg("a")}, delays: []time.Duration{7 * time.Second, time.Millisecond}},
		{name: "429 with Retry-After date", steps: []http.HandlerFunc{status(429, "Retry-After", date)}, requests: 2},
		{name: "Retry-After junk ignored", steps: []http.HandlerFunc{status(503, "Retry-After", "soon")}, requests: 2, delays: []time.Duration{time.Millisecond}},
		{name: "404 fails", steps: []http.HandlerFunc{status(404), body("data: a\n\n")}, requests: 1, err: ErrBadStatus, code: 404},
		{name: "401 fails", steps: []http.HandlerFunc{status(401)}, requests: 1, err: ErrBadStatus, code: 401},
		{name: "redirect not followed fails", opts: nil, steps: []http.HandlerFunc{status(304)}, requests: 1, err: ErrBadStatus, code: 304},
		{name: "strict: 503 fails", opts: []ClientOption{WithRetryStatus(nil)}, steps: []http.HandlerFunc{status(503)}, requests: 1, err: ErrBadStatus, code: 503},
		{name: "custom: 404 retried", opts: []ClientOption{WithRetryStatus(func(c int) bool { return c == 404 })},
			steps: []http.HandlerFunc{status(404), body("data: a\n\n")}, requests: 3, want: []Event{msg("a")}},
		{name: "custom: 500 fails", opts: []ClientOption{WithRetryStatus(func(c int) bool { return c == 404 })},
			steps: []http.HandlerFunc{status(500)}, requests: 1, err: ErrBadStatus, code: 500},
		{name: "text/plain fails", steps: []http.HandlerFunc{status(200, "Content-Type", "text/plain")}, requests: 1, err: ErrNotEventStream},
		{name: "no content type fails", steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Write([]byte("data: a\n\n"))
		}}, requests: 1, err: ErrNotEventStream},
		{name: "media type is case-insensitive, charset ignored", steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "Text/Event-Stream; charset=iso-8859-1")
			w.Write([]byte("data: é\n\n"))
		}}, requests: 2, want: []Event{msg("é")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, sc := serveScript(t, c.steps...)
			var w waits
			opts := append([]ClientOption{WithReconnectDelay(time.Millisecond), w.option()}, c.opts...)
			got, err := collect(Events(srv.Client(), get(t, srv.URL), opts...))
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("error = %v, want %v", err, c.err)
			}
			if c.code != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != c.code || (c.code != 304 && se.Body != http.StatusText(c.code)) {
					t.Errorf("error = %#v, want a StatusError %d with the body", err, c.code)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("events =\n%s\nwant\n%s", formatEvents(got), formatEvents(c.want))
			}
			if n := len(sc.requests()); n != c.requests {
				t.Errorf("%d requests, want %d", n, c.requests)
			}
			if c.delays != nil && !reflect.DeepEqual(w.get(), c.delays) {
				t.Errorf("delays %v, want %v", w.get(), c.delays)
			}
			if strings.Contains(c.name, "date") {
				if d := w.get(); len(d) != 1 || d[0] < 85*time.Second || d[0] > 90*time.Second {
					t.Errorf("delays %v, want one of about 90s", d)
				}
			}
		})
	}
}

// hangGuard is how long a test waits for a client that should act at
// once: a guard that fails a hang, not a measure of time.
const hangGuard = time.Minute

// noHang runs fn and fails the test if it has not returned within the
// hang guard.
func noHang(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s: still waiting after %v", what, hangGuard)
	}
}

// withStatusBodyWait sets how long the client reads the body of a failed
// response, so that a test of many statuses does not wait the default's
// second for each.
func withStatusBodyWait(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.statusWait = d })
}

// endlessBodies are the bodies of a failed response that a stuck backend
// behind a proxy may send: each starts, and none ends until the client
// goes away.
var endlessBodies = []struct {
	name  string
	serve func(w http.ResponseWriter, r *http.Request)
}{
	{"stalls", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "stuck backend")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}},
	{"trickles", func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := io.WriteString(w, "x"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}},
	{"is huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}},
}

// TestClientStatusWhateverTheBody answers every final status but 200 with
// each of the endless bodies, and checks that the client acts on the
// status (ends with it, retries it, or stops at 204) with the start of the
// body in the StatusError, and closes the connection: the server's
// handler ends. 1xx statuses are not final: the transport reads on.
func TestClientStatusWhateverTheBody(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	requests := make(map[string]int)
	gone := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("case")
		mu.Lock()
		requests[name]++
		n := requests[name]
		mu.Unlock()
		if n > 1 {
			w.WriteHeader(http.StatusNoContent) // after a retried status: stop
			return
		}
		defer func() { gone <- name }()
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
		endlessBodies[len(r.URL.Query().Get("body"))-1].serve(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(srv.CloseClientConnections) // first: a client that hung holds one
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	for code := 201; code <= 599; code++ {
		for i, b := range endlessBodies {
			name := fmt.Sprintf("status %d, body that %s", code, b.name)
			target := srv.URL + "/?" + url.Values{"case": {name}, "code": {strconv.Itoa(code)}, "body": {strings.Repeat("x", i+1)}}.Encode()
			var causes []error
			hook := WithReconnectHook(func(r Reconnect) { causes = append(causes, r.Cause) })
			var w waits
			var err error
			noHang(t, name, func() {
				_, err = collect(Events(client, get(t, target), hook, w.option(), withStatusBodyWait(5*time.Millisecond)))
			})
			mu.Lock()
			n := requests[name]
			mu.Unlock()
			retried := code >= 500 || code == http.StatusTooManyRequests
			var se *StatusError
			switch {
			case code == http.StatusNoContent:
				if err != nil || n != 1 {
					t.Errorf("%s: error %v after %d requests, want none after one", name, err, n)
				}
			case retried:
				if err != nil || n != 2 || len(causes) != 1 || !errors.As(causes[0], &se) {
					t.Errorf("%s: error %v after %d requests, reconnections after %v; want a retry, then the 204", name, err, n, causes)
				}
			default:
				if !errors.As(err, &se) || n != 1 {
					t.Errorf("%s: error %v after %d requests, want the StatusError after one", name, err, n)
				}
			}
			if se != nil {
				switch {
				case se.StatusCode != code:
					t.Errorf("%s: StatusError for %d", name, se.StatusCode)
				case code == http.StatusNotModified: // a 304 has no body
					if se.Body != "" {
						t.Errorf("%s: body %q, want none", name, se.Body)
					}
				case b.name == "stalls" && se.Body != "stuck backend",
					b.name == "trickles" && (len(se.Body) > 512 || strings.Trim(se.Body, "x") != ""),
					b.name == "is huge" && (len(se.Body) != 512 || strings.Trim(se.Body, "x") != ""):
					t.Errorf("%s: StatusError.Body %q (%d bytes), want its start, at most 512 bytes", name, se.Body, len(se.Body))
				}
			}
			tr.CloseIdleConnections() // a connection the client failed to close stays open
			noHang(t, name+": waiting for the server to see the client leave", func() {
				if g := <-gone; g != name {
					t.Errorf("%s: the handler of %q ended instead", name, g)
				}
			})
		}
	}
}

// TestClientStatusBodyStallsWithDefaults is the stuck backend behind a
// proxy with the client's default options, over HTTP/1.1 and HTTP/2: a 404
// or a 503 whose body starts and never ends. The client acts on the status
// after its bounded read of the body, and closes the connection or stream:
// the server's handler sees it leave.
func TestClientStatusBodyStallsWithDefaults(t *testing.T) {
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			leaktest.Check(t)
			gone := make(chan int, 2)
			stuck := func(code int) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					defer func() { gone <- code }()
					w.WriteHeader(code)
					endlessBodies[0].serve(w, r)
				}
			}
			sc := &script{steps: []http.HandlerFunc{stuck(http.StatusNotFound), stuck(http.StatusServiceUnavailable)}}
			ls := startLiveServer(t, p.http2, sc, nil)
			left := func(code int) {
				noHang(t, fmt.Sprintf("waiting for the handler of the %d to see the client leave", code), func() {
					if got := <-gone; got != code {
						t.Errorf("the handler of the %d ended, want the %d", got, code)
					}
				})
			}

			var err error
			noHang(t, "404", func() { _, err = collect(Events(ls.client, get(t, ls.URL))) })
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound || se.Body != "stuck backend" {
				t.Errorf("404: error %v, want a StatusError with the start of the body", err)
			}
			left(http.StatusNotFound)

			var causes []error
			hook := WithReconnectHook(func(r Reconnect) { causes = append(causes, r.Cause) })
			var w waits // no need to wait the reconnection delay
			noHang(t, "503", func() { _, err = collect(Events(ls.client, get(t, ls.URL), hook, w.option())) })
			if err != nil || len(causes) != 1 || !errors.As(causes[0], &se) || se.StatusCode != http.StatusServiceUnavailable || se.Body != "stuck backend" {
				t.Errorf("503: error %v, reconnections after %v; want a retry after the StatusError with the start of the body", err, causes)
			}
			left(http.StatusServiceUnavailable)
			if n := len(sc.requests()); n != 3 {
				t.Errorf("%d requests, want 3: the 404, the 503 and the 204 after it", n)
			}
		})
	}
}

// TestClientBackoff checks the delays of failures in a row: the
// reconnection delay, then doubling with jitter up to the cap, and back to
// the delay once an event arrives.
func TestClientBackoff(t *testing.T) {
	const base, limit = 100 * time.Millisecond, 2 * time.Second
	steps := make([]http.HandlerFunc, 0, 20)
	for range 8 {
		steps = append(steps, status(503))
	}
	steps = append(steps, body("data: a\n\n"), body(""), status(502))
	srv, _ := serveScript(t, steps...)
	var w waits
	got, err := collect(Events(srv.Client(), get(t, srv.URL), WithReconnectDelay(base), WithMaxReconnectDelay(limit), w.option()))
	if err != nil || !reflect.DeepEqual(got, []Event{msg("a")}) {
		t.Fatalf("events %v, error %v", got, err)
	}
	delays := w.get()
	if len(delays) != 11 {
		t.Fatalf("delays %v, want 11", delays)
	}
	// Failures 1 to 8, then the stream with an event (its end is failure
	// 1 again), the empty stream (2) and the 502 (3).
	attempts := []int{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3}
	for i, d := range delays {
		n := attempts[i]
		most := min(base<<(n-1), limit)
		least := most / 2
		if n == 1 {
			least = base
		}
		if d < least || d > most {
			t.Errorf("delay %d (failure %d in a row) = %v, want %v to %v", i, n, d, least, most)
		}
	}
}

func TestClientServerDelayAboveCap(t *testing.T) {
	srv, _ := serveScript(t, body("retry: 5000\n\n"), status(503), status(503))
	var w waits
	if _, err := collect(Events(srv.Client(), get(t, srv.URL), WithMaxReconnectDelay(time.Second), w.option())); err != nil {
		t.Fatal(err)
	}
	for i, d := range w.get() {
		if d < 2500*time.Millisecond || d > 5*time.Second {
			t.Errorf("delay %d = %v; the server's 5s delay is above the cap, want it kept (with jitter after failures)", i, d)
		}
	}
}

// TestClientBoundsServerDelay checks what a server may make the client
// wait, with a Retry-After header or a retry field: what it asks, up to
// MaxServerDelay, or up to the cap if that is longer, however large,
// overflowing or far off the value; junk and dates past ask nothing. Two
// failures follow each ask, so that the backoff after a retry field is
// bounded too.
func TestClientBoundsServerDelay(t *testing.T) {
	const base = time.Millisecond
	now := time.Now()
	date := func(d time.Duration) string { return now.Add(d).UTC().Format(http.TimeFormat) }
	retryAfter := func(v string) http.HandlerFunc { return status(http.StatusServiceUnavailable, "Retry-After", v) }
	retry := func(ms string) http.HandlerFunc { return body("retry: " + ms + "\n\n") }
	cases := []struct {
		name        string
		cap         time.Duration // 0 keeps the default
		ask         http.HandlerFunc
		least, most time.Duration // the first delay
	}{
		{"Retry-After 2^32-1 seconds", 0, retryAfter("4294967295"), MaxServerDelay, MaxServerDelay},
		{"Retry-After 2^32 seconds", 0, retryAfter("4294967296"), MaxServerDelay, MaxServerDelay},
		{"Retry-After past a Duration", 0, retryAfter("9223372037"), MaxServerDelay, MaxServerDelay},
		{"Retry-After past 64 bits", 0, retryAfter("18446744073709551616"), MaxServerDelay, MaxServerDelay},
		{"Retry-After of 40 digits", 0, retryAfter(strings.Repeat("9", 40)), MaxServerDelay, MaxServerDelay},
		{"Retry-After in the year 9999", 0, retryAfter("Fri, 31 Dec 9999 23:59:59 GMT"), MaxServerDelay, MaxServerDelay},
		{"Retry-After in 10 minutes", 0, retryAfter(date(10 * time.Minute)), MaxServerDelay, MaxServerDelay},
		{"Retry-After just over the bound", 0, retryAfter("301"), MaxServerDelay, MaxServerDelay},
		{"Retry-After at the bound", 0, retryAfter("300"), 300 * time.Second, 300 * time.Second},
		{"Retry-After under the bound, over the cap", 0, retryAfter("299"), 299 * time.Second, 299 * time.Second},
		{"Retry-After in 2 minutes", 0, retryAfter(date(2 * time.Minute)), time.Minute, 2 * time.Minute},
		{"Retry-After in the past", 0, retryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), base, base},
		{"Retry-After negative", 0, retryAfter("-1"), base, base},
		{"Retry-After with a sign", 0, retryAfter("+5"), base, base},
		{"Retry-After with a fraction", 0, retryAfter("1.5"), base, base},
		{"Retry-After in hex", 0, retryAfter("0x10"), base, base},
		{"Retry-After junk", 0, retryAfter("soon"), base, base},
		{"retry of 285 years", 0, retry("9000000000000"), MaxServerDelay, MaxServerDelay},
		{"retry at the Duration's limit", 0, retry("9223372036854"), MaxServerDelay, MaxServerDelay},
		{"retry of 10 minutes", 0, retry("600000"), MaxServerDelay, MaxServerDelay},
		{"retry of 2 minutes", 0, retry("120000"), 2 * time.Minute, 2 * time.Minute},
		{"cap over the bound: Retry-After 2^32-1", time.Hour, retryAfter("4294967295"), time.Hour, time.Hour},
		{"cap over the bound: Retry-After 2 hours", time.Hour, retryAfter("7200"), time.Hour, time.Hour},
		{"cap over the bound: Retry-After 10 minutes", time.Hour, retryAfter("600"), 10 * time.Minute, 10 * time.Minute},
		{"cap over the bound: retry of 285 years", time.Hour, retry("9000000000000"), time.Hour, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := serveScript(t, c.ask, status(503), status(502))
			var w waits
			opts := []ClientOption{WithReconnectDelay(base), w.option()}
			bound := max(DefaultMaxReconnectDelay, MaxServerDelay)
			if c.cap != 0 {
				opts = append(opts, WithMaxReconnectDelay(c.cap))
				bound = max(c.cap, MaxServerDelay)
			}
			if _, err := collect(Events(srv.Client(), get(t, srv.URL), opts...)); err != nil {
				t.Fatal(err)
			}
			delays := w.get()
			if len(delays) != 3 {
				t.Fatalf("delays %v, want 3", delays)
			}
			if delays[0] < c.least || delays[0] > c.most {
				t.Errorf("first delay %v, want it in [%v, %v]", delays[0], c.least, c.most)
			}
			for i, d := range delays {
				if d < 0 || d > bound {
					t.Errorf("delay %d = %v, want it in [0, %v]", i, d, bound)
				}
			}
		})
	}
}

// TestClientBackoffHugeCap checks the backoff under a cap too long to
// double up to: the delay grows to the cap and stays there, with jitter,
// however many failures follow.
func TestClientBackoffHugeCap(t *testing.T) {
	const limit = time.Duration(math.MaxInt64)
	steps := make([]http.HandlerFunc, 80)
	for i := range steps {
		steps[i] = status(503)
	}
	srv, _ := serveScript(t, steps...)
	var w waits
	if _, err := collect(Events(srv.Client(), get(t, srv.URL), WithReconnectDelay(time.Millisecond), WithMaxReconnectDelay(limit), w.option())); err != nil {
		t.Fatal(err)
	}
	delays := w.get()
	if len(delays) != len(steps) {
		t.Fatalf("%d delays, want %d", len(delays), len(steps))
	}
	for i, d := range delays {
		// Failure i+1 waits 1ms << i, with jitter, up to the cap: 1ms << 44
		// is over half of it, so the doubling reaches the cap there.
		least := limit / 2
		if i <= 43 {
			least = time.Millisecond << i / 2
		}
		if d < least {
			t.Errorf("delay %d = %v, want at least %v", i+1, d, least)
		}
	}
}

// TestClientRedirect checks that redirects are followed on each attempt,
// with the Last-Event-ID, and that each reconnection starts from the
// original URL.
func TestClientRedirect(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, "/start "+r.Header.Get("Last-Event-ID"))
		n++
		target := fmt.Sprintf("/stream/%d", n)
		mu.Unlock()
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/stream/{n}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path+" "+r.Header.Get("Last-Event-ID"))
		mu.Unlock()
		if r.PathValue("n") == "3" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: %s\ndata: x\n\n", r.PathValue("n"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var w waits
	got, err := collect(Events(srv.Client(), get(t, srv.URL+"/start"), w.option()))
	if err != nil || len(got) != 2 {
		t.Fatalf("events %v, error %v", got, err)
	}
	want := []string{"/start ", "/stream/1 ", "/start 1", "/stream/2 1", "/start 2", "/stream/3 2"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("requests %q, want %q", paths, want)
	}
}

func TestClientRequestHeaders(t *testing.T) {
	srv, sc := serveScript(t, body("data: a\n\n"), body("id: 9\ndata: b\n\n"))
	req := get(t, srv.URL)
	req.Header.Set("X-Custom", "kept")
	req.Header.Set("Last-Event-ID", "4")
	var w waits
	got, err := collect(Events(srv.Client(), req, w.option()))
	want := []Event{msg("a"), {ID: "9", Type: "message", Data: "b"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, error %v; want %v", got, err, want)
	}
	for i, r := range sc.requests() {
		wantID := []string{"4", "4", "9"}[i]
		if r.header.Get("Accept") != "text/event-stream" || r.header.Get("Cache-Control") != "no-cache" ||
			r.header.Get("X-Custom") != "kept" || r.header.Get("Last-Event-ID") != wantID {
			t.Errorf("request %d headers %v, want the stream's, X-Custom and Last-Event-ID %s", i, r.header, wantID)
		}
	}
	if req.Header.Get("Accept") != "" {
		t.Errorf("the caller's request was changed: %v", req.Header)
	}

	// Headers the caller sets win.
	srv, sc = serveScript(t, body("data: a\n\n"))
	req = get(t, srv.URL)
	req.Header.Set("Accept", "text/event-stream, application/json;q=0.5")
	req.Header.Set("Cache-Control", "no-store")
	if _, err := collect(Events(srv.Client(), req, w.option())); err != nil {
		t.Fatal(err)
	}
	if h := sc.requests()[0].header; h.Get("Accept") != "text/event-stream, application/json;q=0.5" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v, want the caller's Accept and Cache-Control", h)
	}
}

// TestClientPostBody is the streaming API case: a POST with a JSON body,
// sent again with every reconnection.
func TestClientPostBody(t *testing.T) {
	const prompt = `{"prompt":"hello","stream":true}`
	srv, sc := serveScript(t, body("id: 1\ndata: hel\n\n"), status(502), body("id: 2\ndata: lo\n\n"))
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(prompt))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	var w waits
	got, err := collect(Events(srv.Client(), req, w.option()))
	if err != nil || len(got) != 2 || got[0].Data+got[1].Data != "hello" {
		t.Fatalf("events %v, error %v", got, err)
	}
	for i, r := range sc.requests() {
		if r.method != http.MethodPost || r.body != prompt || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: %s %q %v, want POST of the JSON body", i, r.method, r.body, r.header)
		}
	}
}

func TestClientBodyNotReplayable(t *testing.T) {
	leaktest.Check(t)
	const prompt = `{"prompt":"hello"}`
	srv, sc := serveScript(t, body("data: a\n\n"))
	req, err := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader(prompt)))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	got, err := collect(Events(srv.Client(), req, w.option()))
	if !errors.Is(err, ErrBodyNotReplayable) || !strings.Contains(err.Error(), "GetBody") {
		t.Fatalf("error = %v, want ErrBodyNotReplayable saying GetBody", err)
	}
	if len(got) != 1 {
		t.Errorf("events %v, want the first connection's", got)
	}
	if reqs := sc.requests(); len(reqs) != 1 || reqs[0].body != prompt {
		t.Errorf("requests %v, want one with the body", reqs)
	}

	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
	if _, err := collect(Events(srv.Client(), req)); !errors.Is(err, ErrBodyNotReplayable) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("error = %v, want ErrBodyNotReplayable with GetBody's error", err)
	}
}

func TestClientRequestHook(t *testing.T) {
	srv, sc := serveScript(t, status(503), body("data: a\n\n"))
	n := 0
	hook := WithRequestHook(func(r *http.Request) error {
		n++
		r.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", n))
		return nil
	})
	var w waits
	if _, err := collect(Events(srv.Client(), get(t, srv.URL), hook, w.option())); err != nil {
		t.Fatal(err)
	}
	for i, r := range sc.requests() {
		if want := fmt.Sprintf("Bearer token-%d", i+1); r.header.Get("Authorization") != want {
			t.Errorf("request %d: Authorization %q, want %q", i, r.header.Get("Authorization"), want)
		}
	}

	errHook := errors.New("no token")
	srv, sc = serveScript(t, body("data: a\n\n"))
	_, err := collect(Events(srv.Client(), get(t, srv.URL), WithRequestHook(func(*http.Request) error { return errHook })))
	if !errors.Is(err, errHook) || len(sc.requests()) != 0 {
		t.Errorf("error = %v after %d requests, want the hook's error before any", err, len(sc.requests()))
	}
}

func TestClientReconnectHook(t *testing.T) {
	srv, _ := serveScript(t, body("id: 1\ndata: a\n\n"), status(500), body("id: 2\ndata: b\n"))
	var got []Reconnect
	hook := WithReconnectHook(func(r Reconnect) { got = append(got, r) })
	var w waits
	if _, err := collect(Events(srv.Client(), get(t, srv.URL), WithReconnectDelay(time.Second), hook, w.option())); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("reconnects %+v, want 3", got)
	}
	var se *StatusError
	if got[0].Attempt != 1 || got[0].Cause != io.EOF || got[0].Delay != time.Second || got[0].LastEventID != "1" {
		t.Errorf("reconnect 1 = %+v, want attempt 1 after io.EOF, 1s, id 1", got[0])
	}
	if got[1].Attempt != 2 || !errors.As(got[1].Cause, &se) || se.StatusCode != 500 || got[1].LastEventID != "1" {
		t.Errorf("reconnect 2 = %+v, want attempt 2 after status 500", got[1])
	}
	if got[2].Attempt != 3 || got[2].Cause != io.EOF || got[2].LastEventID != "1" {
		t.Errorf("reconnect 3 = %+v, want attempt 3 after an unterminated event, still id 1", got[2])
	}
	for i, r := range got {
		if w.get()[i] != r.Delay {
			t.Errorf("reconnect %d reported delay %v but waited %v", i, r.Delay, w.get()[i])
		}
	}
}

// stall answers with an event stream that sends first and then nothing
// until the client goes away.
func stall(first string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

func TestClientIdleTimeout(t *testing.T) {
	leaktest.Check(t)
	// The heartbeat stream lasts longer than the timeout and is never idle
	// for it, by a margin (20 times its interval) that a busy machine's
	// scheduling does not use up.
	const idle = time.Second
	const beats, every = 30, 50 * time.Millisecond
	heartbeats := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 2\ndata: b\n\n")
		for range beats {
			w.(http.Flusher).Flush()
			time.Sleep(every)
			io.WriteString(w, ":\n\n")
		}
	}
	noHeaders := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	srv, sc := serveScript(t, stall("id: 1\ndata: a\n\n"), noHeaders, heartbeats)
	var causes []error
	hook := WithReconnectHook(func(r Reconnect) { causes = append(causes, r.Cause) })
	var w waits
	start := time.Now()
	got, err := collect(Events(srv.Client(), get(t, srv.URL), WithIdleTimeout(idle), hook, w.option()))
	if err != nil || len(got) != 2 {
		t.Fatalf("events %v, error %v", got, err)
	}
	if len(causes) != 3 || !errors.Is(causes[0], ErrIdleTimeout) || !errors.Is(causes[1], ErrIdleTimeout) || causes[2] != io.EOF {
		t.Errorf("causes %v, want two idle timeouts, then the end of the heartbeat stream", causes)
	}
	if len(sc.requests()) != 4 {
		t.Errorf("%d requests, want 4", len(sc.requests()))
	}
	if d := time.Since(start); d < 2*idle+beats*every {
		t.Errorf("took %v: the timeouts fired early", d)
	}
}

func TestClientMaxEventSize(t *testing.T) {
	srv, sc := serveScript(t, body("data: 0123456789\n\ndata: 01234567890\n\n"))
	got, err := collect(Events(srv.Client(), get(t, srv.URL), WithMaxEventSize(16)))
	if !errors.Is(err, ErrEventTooLarge) || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("error = %v, want ErrEventTooLarge saying the limit", err)
	}
	if len(got) != 1 || len(sc.requests()) != 1 {
		t.Errorf("events %v after %d requests, want the first event and no reconnection", got, len(sc.requests()))
	}
}

func TestClientInvalidRequest(t *testing.T) {
	head, _ := http.NewRequest(http.MethodHead, "http://127.0.0.1:1/", nil)
	for name, seq := range map[string]func(func(Event, error) bool){
		"nil request": Events(nil, nil),
		"no URL":      Events(nil, &http.Request{Method: "GET"}),
		"HEAD":        Events(nil, head),
		"bad URL":     Get(context.Background(), "http://[::1"),
	} {
		if _, err := collect(seq); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: error = %v, want ErrInvalidRequest", name, err)
		}
	}
}

// TestClientDropsIDThatCannotGoBack streams IDs with every byte value a
// stream can put in an ID (all but CR, LF and NUL), in the middle and at
// either end, through a net/http server, and checks what the client sends
// back on each of the two reconnections that follow: the ID exactly as the
// events carry it when a header can hold it, else no Last-Event-ID, as if
// the stream had cleared the ID, with the ID it dropped reported to the
// reconnect hook. The stream goes on in both cases.
func TestClientDropsIDThatCannotGoBack(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	requests := make(map[string][][]string) // Last-Event-ID values of each request, by case
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("case")
		mu.Lock()
		requests[key] = append(requests[key], r.Header["Last-Event-Id"])
		n := len(requests[key])
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		switch n {
		case 1:
			io.WriteString(w, "id: "+r.URL.Query().Get("id")+"\ndata: a\n\n")
		case 2:
			io.WriteString(w, "data: b\n\n")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	for b := range 256 {
		if b == '\r' || b == '\n' || b == 0 { // a line end, or an id field the stream ignores
			continue
		}
		c := string(rune(b))
		if b >= utf8.RuneSelf {
			c = string([]byte{byte(b)}) // a byte that is not UTF-8 on its own
		}
		for _, pos := range []string{"middle", "start", "end"} {
			raw := map[string]string{"middle": "a" + c + "b", "start": c + "b", "end": "a" + c}[pos]
			// What a header cannot carry: a control character (tab and
			// DEL among them) anywhere, a space at either end.
			lost := b < ' ' || b == 0x7F || (b == ' ' && pos != "middle")
			var hooks []Reconnect
			hook := WithReconnectHook(func(r Reconnect) { hooks = append(hooks, r) })
			var w waits
			name := fmt.Sprintf("byte %#02x at the %s, ID %q", b, pos, raw)
			target := srv.URL + "/?" + url.Values{"case": {name}, "id": {raw}}.Encode()
			got, err := collect(Events(srv.Client(), get(t, target), hook, w.option()))
			if err != nil || len(got) != 2 {
				t.Errorf("%s: events %v, error %v; want two events and no error", name, got, err)
				continue
			}
			id := got[0].ID // as the stream decoded it: U+FFFD for a lone non-UTF-8 byte
			if want := strings.ToValidUTF8(raw, "\uFFFD"); id != want {
				t.Errorf("%s: the event's ID is %q, want %q", name, id, want)
			}
			mu.Lock()
			sent := requests[name]
			mu.Unlock()
			wantSent, wantHooks := [][]string{nil, {id}, {id}}, []Reconnect{
				{Attempt: 1, Cause: io.EOF, LastEventID: id},
				{Attempt: 1, Cause: io.EOF, LastEventID: id}, // event b came in between
			}
			if lost {
				wantSent, wantHooks = [][]string{nil, nil, nil}, []Reconnect{
					{Attempt: 1, Cause: io.EOF, DroppedID: id},
					{Attempt: 1, Cause: io.EOF},
				}
			}
			if !reflect.DeepEqual(sent, wantSent) {
				t.Errorf("%s: the server saw Last-Event-ID %q, want %q", name, sent, wantSent)
			}
			if got[1].ID != "" || got[1].ClearID {
				t.Errorf("%s: the event after the reconnection has ID %q (ClearID %v), want none of its own", name, got[1].ID, got[1].ClearID)
			}
			for i := range hooks {
				hooks[i].Delay = 0
			}
			if !reflect.DeepEqual(hooks, wantHooks) {
				t.Errorf("%s: reconnections %+v, want %+v", name, hooks, wantHooks)
			}
		}
	}
}

// TestClientRefusesStartIDThatCannotBeSent checks a Last-Event-ID the
// caller puts in the request: one that a header cannot carry is the
// caller's mistake, refused before anything is sent.
func TestClientRefusesStartIDThatCannotBeSent(t *testing.T) {
	for _, id := range []string{"a\x01b", "a\tb", "a\x7F", " 2", "2 ", "2\t"} {
		srv, sc := serveScript(t, body("data: x\n\n"))
		req := get(t, srv.URL)
		req.Header.Set("Last-Event-ID", id)
		_, err := collect(Events(srv.Client(), req))
		if !errors.Is(err, ErrInvalidRequest) || !errors.Is(err, ErrInvalidID) || len(sc.requests()) != 0 {
			t.Errorf("Last-Event-ID %q: error %v after %d requests, want ErrInvalidRequest and ErrInvalidID before any", id, err, len(sc.requests()))
		}
	}
}

// forever streams an event every 5 ms until the client leaves.
func forever(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	for i := 0; ; i++ {
		fmt.Fprintf(w, "id: %d\ndata: x\n\n", i)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestClientEnds checks each way an iteration ends: nothing is yielded
// after, the body is closed (the server sees the client leave) and no
// goroutine is left.
func TestClientEnds(t *testing.T) {
	errCause := errors.New("shutting down")
	cases := []struct {
		name string
		run  func(t *testing.T, url string, gone <-chan struct{})
	}{
		{"break", func(t *testing.T, url string, gone <-chan struct{}) {
			n := 0
			for _, err := range Get(context.Background(), url) {
				if err != nil {
					t.Fatal(err)
				}
				if n++; n == 3 {
					break
				}
			}
			waitGone(t, gone)
		}},
		{"cancel", func(t *testing.T, url string, gone <-chan struct{}) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			n := 0
			var last error
			for _, err := range Get(ctx, url) {
				if last != nil {
					t.Fatalf("yielded after the error %v", last)
				}
				if last = err; err != nil {
					continue
				}
				if n++; n == 3 {
					cancel(errCause)
				}
			}
			if !errors.Is(last, errCause) {
				t.Errorf("final error %v, want the context's cause", last)
			}
			waitGone(t, gone)
		}},
		{"cancel then break", func(t *testing.T, url string, gone <-chan struct{}) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range Get(ctx, url) {
				cancel() // the iterator must not yield the context's error after the break
				break
			}
			waitGone(t, gone)
		}},
		{"cancel while reading", func(t *testing.T, url string, gone <-chan struct{}) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			_, err := collect(Get(ctx, url+"?stall"))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			waitGone(t, gone)
		}},
		{"cancel while waiting to reconnect", func(t *testing.T, url string, gone <-chan struct{}) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			var err error
			// Returning at all shows that the hour of delay was not waited.
			noHang(t, "the iteration ends with its context", func() {
				_, err = collect(Get(ctx, url+"?unavailable", WithReconnectDelay(time.Hour)))
			})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want context.DeadlineExceeded", err)
			}
		}},
		{"fatal error", func(t *testing.T, url string, gone <-chan struct{}) {
			_, err := collect(Get(context.Background(), url+"?missing"))
			if !errors.Is(err, ErrBadStatus) {
				t.Errorf("error %v, want ErrBadStatus", err)
			}
		}},
		{"yield panics", func(t *testing.T, url string, gone <-chan struct{}) {
			defer func() {
				if recover() == nil {
					t.Error("the panic was lost")
				}
				waitGone(t, gone)
			}()
			for range Get(context.Background(), url) {
				panic("in the loop")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			leaktest.Check(t)
			gone := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.RawQuery {
				case "missing":
					http.NotFound(w, r)
				case "unavailable":
					http.Error(w, "later", http.StatusServiceUnavailable)
				case "stall":
					stall("")(w, r)
				default:
					forever(w, r)
				}
				gone <- struct{}{}
			}))
			defer srv.Close()
			defer http.DefaultClient.CloseIdleConnections()
			c.run(t, srv.URL, gone)
		})
	}
}

func waitGone(t *testing.T, gone <-chan struct{}) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the client leave: the body was not closed")
	}
}

// TestClientRangeTwice checks that each range over the iterator is a
// stream of its own, the body sent again.
func TestClientRangeTwice(t *testing.T) {
	srv, sc := serveScript(t, body("id: 1\ndata: a\n\n"), body("data: b\n\n"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte("q")))
	seq := Events(srv.Client(), req, WithRetryStatus(nil))
	for i := range 2 {
		for ev, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			if want := []Event{{ID: "1", Type: "message", Data: "a"}, msg("b")}[i]; !reflect.DeepEqual(ev, want) {
				t.Errorf("range %d: %v, want %v", i, ev, want)
			}
			break
		}
	}
	for i, r := range sc.requests() {
		if r.header.Get("Last-Event-ID") != "" || r.body != "q" {
			t.Errorf("request %d: %v %q, want a fresh start with the body", i, r.header, r.body)
		}
	}
}
