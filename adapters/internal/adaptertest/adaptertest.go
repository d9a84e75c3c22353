// Package adaptertest is the conformance suite the router adapters share.
// Each adapter's tests build its router around a callback and the suite
// drives it with a real HTTP client over HTTP/1.1 and HTTP/2: events must
// reach the client one at a time as they are sent, through every stack of
// middleware, and the core options must behave the same on every router.
package adaptertest

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/leaktest"
	"github.com/eventwire/sse/internal/syncbuf"
)

// Path is where a [Router] serves the stream.
const Path = "/events"

// A Router builds the router under test with fn served at [Path] through
// the adapter, with opts passed to it. A router built with the adapter's
// middleware form answers "ok" to requests that do not accept
// text/event-stream.
type Router func(fn sse.StreamFunc, opts ...sse.Option) http.Handler

// A Stack is the router under one combination of middleware, built with
// the adapter's middleware form.
type Stack struct {
	Name       string
	Router     Router
	Encoding   string // the Content-Encoding of the stream: "" or "gzip"
	OKEncoding string // the Content-Encoding of the "ok" response
}

// Server is a test server that records what net/http logged.
type Server struct {
	*httptest.Server
	log syncbuf.Buffer
}

// NewServer starts h on a test server, over TLS with HTTP/2 if h2 is set,
// and closes it when the test ends.
func NewServer(t *testing.T, h http.Handler, h2 bool) *Server {
	t.Helper()
	s := &Server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ErrorLog = log.New(&s.log, "", 0)
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// Log returns what the server has logged, such as a superfluous
// WriteHeader call.
func (s *Server) Log() string { return s.log.String() }

// Get sends a GET request for path, with the header's name and value
// pairs; with stream set it accepts text/event-stream. It asks for gzip
// explicitly, so the transport leaves the body as the server sent it. It
// fails the test on a transport error or if the response did not come
// over the server's protocol (HTTP/2 for a server started with h2).
func Get(t *testing.T, ctx context.Context, s *Server, path string, stream bool, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if want := map[bool]int{false: 1, true: 2}[s.EnableHTTP2]; resp.ProtoMajor != want {
		t.Fatalf("response over %s, want HTTP/%d", resp.Proto, want)
	}
	return resp
}

// Body returns the body of resp as the client reads it: a gzip body is
// decompressed incrementally, as it arrives.
func Body(t *testing.T, resp *http.Response) io.Reader {
	t.Helper()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return resp.Body
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	return zr
}

// CheckStream fails the test unless resp opens an event stream.
func CheckStream(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s, want 200", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
}

// Sent are the events of a lockstep run: data with every kind of line
// break, a trailing line break, leading spaces and colons, unicode, each
// payload field, and one event larger than the usual write buffers.
var Sent = []sse.Event{
	{ID: "1", Data: "hello"},
	{ID: "2", Type: "update", Data: "crlf\r\nlf\ncr\rend"},
	{ID: "3", Data: "unicode: héllo, 世界 😀 \u2028 \x00"},
	{ID: "4", Data: "trailing newline\n"},
	{Data: " leading space: and colon"},
	{ID: "6", Data: ":colon first\n\nafter a blank line\r\n"},
	{ID: "7", Comment: "a comment\non two lines", JSON: map[string]int{"n": 7}},
	{ID: "8", Bytes: []byte("bytes")},
	{ID: "9", Data: strings.Repeat("0123456789abcdef", 4096)},
}

// Received are [Sent] as the client decodes them.
var Received = []sse.Event{
	{ID: "1", Type: "message", Data: "hello"},
	{ID: "2", Type: "update", Data: "crlf\nlf\ncr\nend"},
	{ID: "3", Type: "message", Data: "unicode: héllo, 世界 😀 \u2028 \x00"},
	{ID: "4", Type: "message", Data: "trailing newline\n"},
	{Type: "message", Data: " leading space: and colon"}, // no ID of its own: 4 stays in force
	{ID: "6", Type: "message", Data: ":colon first\n\nafter a blank line\n"},
	{ID: "7", Type: "message", Data: `{"n":7}`},
	{ID: "8", Type: "message", Data: "bytes"},
	{ID: "9", Type: "message", Data: strings.Repeat("0123456789abcdef", 4096)},
}

// deliveryTimeout is how long a lockstep run waits for the client to
// confirm an event before it calls the event held back.
const deliveryTimeout = 3 * time.Second

// A Lockstep sends [Sent] one event at a time: it sends event i and waits
// until the client confirms that it decoded event i before it sends the
// next, so an event held in any buffer on the way fails the run.
type Lockstep struct {
	acks chan int
	done chan error
}

// NewLockstep returns a Lockstep for one request.
func NewLockstep() *Lockstep {
	return &Lockstep{acks: make(chan int, len(Sent)), done: make(chan error, 1)}
}

// Stream is the server side, the callback to serve.
func (l *Lockstep) Stream(s *sse.Stream) error {
	err := l.stream(s)
	l.done <- err
	return err
}

func (l *Lockstep) stream(s *sse.Stream) error {
	timer := time.NewTimer(deliveryTimeout)
	defer timer.Stop()
	for i, ev := range Sent {
		if err := s.Send(ev); err != nil {
			return fmt.Errorf("send event %d: %w", i, err)
		}
		timer.Reset(deliveryTimeout)
		select {
		case n := <-l.acks:
			if n != i {
				return fmt.Errorf("client confirmed event %d, want %d", n, i)
			}
		case <-timer.C:
			return fmt.Errorf("event %d did not reach the client within %v: it is held in a buffer", i, deliveryTimeout)
		case <-s.Done():
			return fmt.Errorf("stream ended waiting for event %d: %w", i, s.Err())
		}
	}
	return nil
}

// Check is the client side: it requests the stream from s, decodes each
// event as it arrives, confirms it to the server side and checks that the
// events are [Received] in order and then the end of the stream, and that
// the response's Content-Encoding is encoding.
func (l *Lockstep) Check(t *testing.T, s *Server, encoding string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*deliveryTimeout)
	defer cancel()
	resp := Get(t, ctx, s, Path, true)
	CheckStream(t, resp)
	if got := resp.Header.Get("Content-Encoding"); got != encoding {
		t.Fatalf("Content-Encoding %q, want %q", got, encoding)
	}
	d := sse.NewDecoder(Body(t, resp))
	for i, want := range Received {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("event %d: %v (server: %v)", i, err, l.result())
		}
		if got.ID != want.ID || got.Type != want.Type || got.Data != want.Data {
			t.Fatalf("event %d = {ID:%q Type:%q Data:%.80q}, want {ID:%q Type:%q Data:%.80q}",
				i, got.ID, got.Type, got.Data, want.ID, want.Type, want.Data)
		}
		l.acks <- i
	}
	if got, err := d.Next(); err != io.EOF {
		t.Errorf("after the last event: %+v, %v; want io.EOF", got, err)
	}
	if err := l.result(); err != nil {
		t.Errorf("server: %v", err)
	}
}

// result waits for the server side's result.
func (l *Lockstep) result() error {
	select {
	case err := <-l.done:
		l.done <- err
		return err
	case <-time.After(2 * deliveryTimeout):
		return errors.New("the callback did not return")
	}
}

// CheckOK fails the test unless a request for [Path] that does not accept
// an event stream gets the next handler's "ok", in the given encoding.
func CheckOK(t *testing.T, s *Server, encoding string) {
	t.Helper()
	for _, accept := range []string{"", "*/*", "text/html", "text/event-stream;q=0"} {
		resp := Get(t, t.Context(), s, Path, false, "Accept", accept)
		if got := resp.Header.Get("Content-Encoding"); got != encoding {
			t.Errorf("Accept %q: Content-Encoding %q, want %q", accept, got, encoding)
		}
		body, err := io.ReadAll(Body(t, resp))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Errorf("Accept %q: %s %q, want 200 \"ok\"", accept, resp.Status, body)
		}
	}
}

// TestStacks runs a lockstep stream and a plain request through each
// stack, over HTTP/1.1 and HTTP/2, and checks that nothing wrote a second
// response.
func TestStacks(t *testing.T, stacks []Stack) {
	for _, st := range stacks {
		for _, h2 := range []bool{false, true} {
			name := st.Name + "/" + map[bool]string{false: "HTTP1", true: "HTTP2"}[h2]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				l := NewLockstep()
				s := NewServer(t, st.Router(l.Stream), h2)
				l.Check(t, s, st.Encoding)
				CheckOK(t, s, st.OKEncoding)
				s.Close()
				if log := s.Log(); log != "" {
					t.Errorf("server logged:\n%s", log)
				}
			})
		}
	}
}

// TestForms checks the core options and disconnects through the adapter's
// middleware and handler forms, and that the middleware form passes other
// requests on.
func TestForms(t *testing.T, middleware, handler Router) {
	t.Run("Middleware", func(t *testing.T) {
		t.Parallel()
		t.Run("PassThrough", func(t *testing.T) {
			t.Parallel()
			CheckOK(t, NewServer(t, middleware(func(s *sse.Stream) error {
				return s.Send(sse.Event{Data: "stream"})
			}), false), "")
		})
		testOptions(t, middleware)
	})
	t.Run("Handler", func(t *testing.T) {
		t.Parallel()
		testOptions(t, handler)
	})
}

func testOptions(t *testing.T, r Router) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP1", true: "HTTP2"}[h2], func(t *testing.T) {
			t.Parallel()
			t.Run("LastEventID", func(t *testing.T) { t.Parallel(); testLastEventID(t, r, h2) })
			t.Run("Retry", func(t *testing.T) { t.Parallel(); testRetry(t, r, h2) })
			t.Run("Heartbeat", func(t *testing.T) { t.Parallel(); testHeartbeat(t, r, h2) })
			t.Run("WriteTimeout", func(t *testing.T) { t.Parallel(); WriteTimeout(t, r, h2) })
			t.Run("Disconnect", func(t *testing.T) { t.Parallel(); testDisconnect(t, r, h2) })
			t.Run("ErrorHandler", func(t *testing.T) { t.Parallel(); testErrorHandler(t, r, h2) })
			t.Run("RequestBody", func(t *testing.T) { t.Parallel(); testRequestBody(t, r, h2) })
		})
	}
}

// testLastEventID checks that the callback sees the ID the client sends
// on reconnect, from the header or the query.
func testLastEventID(t *testing.T, r Router, h2 bool) {
	s := NewServer(t, r(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "last " + s.LastEventID()})
	}), h2)
	for _, tt := range []struct {
		path, header, want string
	}{
		{Path, "", "last "},
		{Path, "41", "last 41"},
		{Path, "ünïcode 😀", "last ünïcode 😀"},
		{Path + "?lastEventId=7", "", "last 7"},
	} {
		resp := Get(t, t.Context(), s, tt.path, true, "Last-Event-ID", tt.header)
		CheckStream(t, resp)
		ev, err := sse.NewDecoder(Body(t, resp)).Next()
		if err != nil || ev.Data != tt.want {
			t.Errorf("%s with Last-Event-ID %q: %q, %v; want %q", tt.path, tt.header, ev.Data, err, tt.want)
		}
	}
}

// testRequestBody checks that the callback can read a POST's body, as an
// endpoint that streams the answer to a prompt does, though the stream's
// headers went out before it ran.
func testRequestBody(t *testing.T, r Router, h2 bool) {
	const prompt = `{"prompt":"Say hello."}`
	s := NewServer(t, r(func(s *sse.Stream) error {
		body, err := io.ReadAll(s.Request().Body)
		if err != nil {
			return s.Send(sse.Event{Type: "error", Data: err.Error()})
		}
		return s.Send(sse.Event{Data: string(body)})
	}), h2)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+Path, strings.NewReader(prompt))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	CheckStream(t, resp)
	ev, err := sse.NewDecoder(Body(t, resp)).Next()
	if err != nil || ev.Type != "message" || ev.Data != prompt {
		t.Errorf("callback read the body as %+v, %v; want %q", ev, err, prompt)
	}
}

// testRetry checks that sse.WithRetry reaches the client.
func testRetry(t *testing.T, r Router, h2 bool) {
	s := NewServer(t, r(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "x"})
	}, sse.WithRetry(1500*time.Millisecond)), h2)
	resp := Get(t, t.Context(), s, Path, true)
	CheckStream(t, resp)
	d := sse.NewDecoder(Body(t, resp))
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if got := d.Retry(); got != 1500*time.Millisecond {
		t.Errorf("retry %v, want 1.5s", got)
	}
}

// testHeartbeat checks that sse.WithHeartbeat sets the interval of the
// comments an idle stream sends: two, 50 ms apart, must arrive within 10 s,
// where the default interval is 15 s. The bound leaves a loaded machine
// its time and still tells the option from the default.
func testHeartbeat(t *testing.T, r Router, h2 bool) {
	s := NewServer(t, r(func(s *sse.Stream) error {
		<-s.Done()
		return nil
	}, sse.WithHeartbeat(50*time.Millisecond)), h2)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp := Get(t, ctx, s, Path, true)
	CheckStream(t, resp)
	const want = ":\n\n:\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(Body(t, resp), got); err != nil || string(got) != want {
		t.Errorf("read %q, %v; want two heartbeats %q", got, err, want)
	}
}

// WriteTimeout checks that sse.WithWriteTimeout drops a client that stops
// reading: the callback's sends fail within a few seconds, where the
// default timeout is 10 s.
func WriteTimeout(t *testing.T, r Router, h2 bool) {
	ended := make(chan error, 1)
	big := sse.Event{Data: strings.Repeat("x", 64<<10)}
	s := NewServer(t, r(func(s *sse.Stream) error {
		for {
			if err := s.Send(big); err != nil {
				ended <- err
				return err
			}
		}
	}, sse.WithWriteTimeout(200*time.Millisecond), sse.WithHeartbeat(0)), h2)
	resp := Get(t, t.Context(), s, Path, true) // and never read the body
	CheckStream(t, resp)
	select {
	case err := <-ended:
		if !errors.Is(err, sse.ErrClosed) {
			t.Errorf("Send error %v, want sse.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client that stopped reading was not dropped within 5s")
	}
}

// testErrorHandler checks that sse.WithErrorHandler gets the error that
// the callback returns after the stream started, with the request, once
// for each stream, and nothing else: the router's writer takes the write
// deadline.
func testErrorHandler(t *testing.T, r Router, h2 bool) {
	const streams = 2
	boom := errors.New("boom")
	reported := make(chan error, 16)
	s := NewServer(t, r(func(s *sse.Stream) error {
		if err := s.Send(sse.Event{Data: "x"}); err != nil {
			return err
		}
		return boom
	}, sse.WithErrorHandler(func(req *http.Request, err error) {
		if req == nil || req.URL.Path != Path {
			err = fmt.Errorf("for request %v: %w", req, err)
		}
		reported <- err
	})), h2)
	for range streams {
		resp := Get(t, t.Context(), s, Path, true)
		CheckStream(t, resp)
		body, err := io.ReadAll(Body(t, resp))
		if err != nil || string(body) != "data: x\n\n" {
			t.Errorf("stream %q, %v; want %q", body, err, "data: x\n\n")
		}
	}
	s.Close() // every handler has returned
	close(reported)
	var got []error
	for err := range reported {
		got = append(got, err)
	}
	if len(got) != streams || got[0] != boom || got[1] != boom {
		t.Errorf("reported %v, want boom for each of %d streams", got, streams)
	}
}

// testDisconnect checks that a client going away ends the callback. The
// stream sends no heartbeat, whose failed write would end it too, so
// only the client's leaving can; the bound only keeps a broken adapter
// from hanging the test.
func testDisconnect(t *testing.T, r Router, h2 bool) {
	ended := make(chan time.Time, 1)
	s := NewServer(t, r(func(s *sse.Stream) error {
		if err := s.Send(sse.Event{Data: "ready"}); err != nil {
			return err
		}
		<-s.Done()
		ended <- time.Now()
		return nil
	}, sse.WithHeartbeat(0)), h2)
	ctx, cancel := context.WithCancel(t.Context())
	resp := Get(t, ctx, s, Path, true)
	CheckStream(t, resp)
	if _, err := sse.NewDecoder(Body(t, resp)).Next(); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	cancel()
	select {
	case end := <-ended:
		t.Logf("the callback ended %v after the client left", end.Sub(gone))
	case <-time.After(10 * time.Second):
		t.Fatal("callback still running 10s after the client left")
	}
}

// CheckNoLeaks fails with the stacks of any goroutine still running code
// of this module, other than the caller's; run it from TestMain after the
// tests. It waits up to leaktest.Grace for goroutines that are ending.
func CheckNoLeaks() error {
	var leaked []string
	for deadline := time.Now().Add(leaktest.Grace); ; time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = leaked[:0]
		for i, g := range strings.Split(string(buf), "\n\n") {
			if i > 0 && strings.Contains(g, "github.com/eventwire/sse/") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	}
}
