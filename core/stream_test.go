package sse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
	"github.com/eventwire/sse/internal/syncbuf"
)

// arrive bounds the wait for something that must happen soon. It is
// generous so that a loaded machine does not fail the tests (two -race runs
// of the module at once on two busy cores made 0.3 s of work take over
// 5 s); the bounds that matter to a user (a stream ending within a second)
// are checked separately.
const arrive = 20 * time.Second

// liveProtocols are the protocols the tests over a real server run with.
var liveProtocols = []struct {
	name  string
	http2 bool
}{
	{"http1", false},
	{"http2", true},
}

// liveServer is a real HTTP server on the loopback interface and a client
// for it.
type liveServer struct {
	*httptest.Server
	client     *http.Client
	protoMajor int
}

// startLiveServer starts a server for h, over TLS with HTTP/2 if http2 is
// set. configure, if not nil, changes the http.Server before it starts.
// The server and the client's connections are closed when the test ends.
func startLiveServer(t *testing.T, http2 bool, h http.Handler, configure func(*http.Server)) *liveServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if configure != nil {
		configure(srv.Config)
	}
	ls := &liveServer{Server: srv, protoMajor: 1}
	if http2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
		ls.protoMajor = 2
	} else {
		srv.Start()
	}
	ls.client = srv.Client()
	t.Cleanup(func() {
		ls.client.CloseIdleConnections()
		srv.CloseClientConnections()
		// Close waits for every handler to return; a StreamFunc that
		// ignores the end of its stream would hang the test binary.
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			srv.Close()
		}()
		select {
		case <-closed:
		case <-time.After(arrive):
			t.Errorf("server did not close within %v: a handler is still running", arrive)
		}
	})
	return ls
}

// serveFunc returns a handler that serves every request with [Serve] and
// reports what Serve returned on the channel.
func serveFunc(fn StreamFunc, opts ...Option) (http.Handler, <-chan error) {
	served := make(chan error, 100)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served <- Serve(w, r, fn, opts...)
	}), served
}

// receive waits up to within for a value on c.
func receive[T any](t *testing.T, c <-chan T, within time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %v", what, within)
		var zero T
		return zero
	}
}

// doStream sends a GET for an event stream and returns the response once
// its headers have arrived, failing the test if they take longer than
// arrive. The request is canceled and the body closed when the test ends.
func doStream(t *testing.T, ls *liveServer, target string, header http.Header) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+target, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for name, values := range header {
		req.Header[name] = values
	}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := ls.client.Do(req)
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(arrive):
		cancel()
		<-done
		t.Fatalf("GET %s: no response headers within %v", target, arrive)
	}
	if res.err != nil {
		cancel()
		t.Fatalf("GET %s: %v", target, res.err)
	}
	t.Cleanup(func() {
		cancel()
		res.resp.Body.Close()
	})
	return res.resp, cancel
}

// openEventStream is doStream with a wireReader on the body.
func openEventStream(t *testing.T, ls *liveServer, target string, header http.Header) (*http.Response, *wireReader, context.CancelFunc) {
	t.Helper()
	resp, cancel := doStream(t, ls, target, header)
	wr := newWireReader(resp.Body)
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		wr.stop()
	})
	return resp, wr, cancel
}

// A wireFrame is one frame of an event stream: its lines, without line
// ends, joined by "\n" ("id: 1\ndata: x"; a heartbeat is ":"), and the time
// it was read.
type wireFrame struct {
	text string
	at   time.Time
}

// wireReader reads the frames of an event stream on its own goroutine, so
// that a test can wait for a frame with a timeout. It parses the wire form
// this package writes (lines ended by LF, frames by an empty line) and
// nothing more, so that the tests assert exact bytes.
type wireReader struct {
	frames chan wireFrame // closed when the stream ends
	err    error          // why the stream ended; read once frames is closed
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newWireReader(r io.Reader) *wireReader {
	wr := &wireReader{
		frames: make(chan wireFrame),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go wr.loop(bufio.NewReader(r))
	return wr
}

func (wr *wireReader) loop(br *bufio.Reader) {
	defer close(wr.done)
	for {
		text, err := readWireFrame(br)
		if err != nil {
			wr.err = err
			close(wr.frames)
			return
		}
		select {
		case wr.frames <- wireFrame{text, time.Now()}:
		case <-wr.quit:
			return
		}
	}
}

// stop waits for the reading goroutine to end. The reader it reads must
// have been closed.
func (wr *wireReader) stop() {
	wr.once.Do(func() { close(wr.quit) })
	<-wr.done
}

// readWireFrame reads one frame. It returns io.EOF if the stream ends
// cleanly between frames, and io.ErrUnexpectedEOF inside a frame.
func readWireFrame(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && (line != "" || len(lines) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// next returns the next frame, failing the test if none arrives within the
// given time or the stream ends.
func (wr *wireReader) next(t *testing.T, within time.Duration, what string) wireFrame {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case f, ok := <-wr.frames:
		if !ok {
			t.Fatalf("%s: stream ended (%v) before the frame arrived", what, wr.err)
		}
		return f
	case <-timer.C:
		t.Fatalf("%s: no frame within %v", what, within)
		return wireFrame{}
	}
}

// collect returns the frames that arrive within the given time. It stops
// early if the stream ends.
func (wr *wireReader) collect(within time.Duration) []wireFrame {
	timer := time.NewTimer(within)
	defer timer.Stop()
	var frames []wireFrame
	for {
		select {
		case f, ok := <-wr.frames:
			if !ok {
				return frames
			}
			frames = append(frames, f)
		case <-timer.C:
			return frames
		}
	}
}

// rest returns the frames up to the end of the stream and the error that
// ended it (io.EOF for a clean end), failing the test if the stream does
// not end within the given time.
func (wr *wireReader) rest(t *testing.T, within time.Duration) ([]string, error) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	var frames []string
	for {
		select {
		case f, ok := <-wr.frames:
			if !ok {
				return frames, wr.err
			}
			frames = append(frames, f.text)
		case <-timer.C:
			t.Fatalf("stream did not end within %v; frames so far: %q", within, frames)
			return nil, nil
		}
	}
}

func TestServeHeaders(t *testing.T) {
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			release := make(chan struct{})
			h, served := serveFunc(func(s *Stream) error {
				select {
				case <-release:
				case <-s.Done():
					return s.Err()
				}
				return s.Send(Event{ID: "1", Data: "first"})
			})
			// A handler or middleware may have set headers that do not fit
			// a stream; Serve must replace them.
			preset := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Cache-Control", "max-age=3600")
				h.ServeHTTP(w, r)
			})
			ls := startLiveServer(t, p.http2, preset, nil)

			// doStream returns only once the headers have arrived, and the
			// handler is held before its first Send until release closes.
			resp, wr, _ := openEventStream(t, ls, "/", nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			if resp.ProtoMajor != ls.protoMajor {
				t.Errorf("protocol = %s, want HTTP/%d", resp.Proto, ls.protoMajor)
			}
			for _, want := range []struct{ name, value string }{
				{"Content-Type", "text/event-stream"},
				{"Cache-Control", "no-cache, no-transform"},
				{"X-Accel-Buffering", "no"},
			} {
				if got := resp.Header.Values(want.name); !slices.Equal(got, []string{want.value}) {
					t.Errorf("%s = %q, want [%q]", want.name, got, want.value)
				}
			}
			if got, ok := resp.Header["Content-Length"]; ok || resp.ContentLength != -1 {
				t.Errorf("Content-Length = %q (length %d), want none", got, resp.ContentLength)
			}

			close(release)
			if got := wr.next(t, arrive, "first event").text; got != "id: 1\ndata: first" {
				t.Errorf("first frame = %q, want %q", got, "id: 1\ndata: first")
			}
			if frames, err := wr.rest(t, arrive); len(frames) != 0 || err != io.EOF {
				t.Errorf("after the handler returned: frames %q, end %v; want none and EOF", frames, err)
			}
			if err := receive(t, served, arrive, "Serve"); err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		})
	}
}

func TestSendFlushesEachEvent(t *testing.T) {
	const events = 5
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			read := make(chan int)
			h, served := serveFunc(func(s *Stream) error {
				for i := range events {
					if err := s.Send(Event{ID: strconv.Itoa(i), Data: fmt.Sprintf("event %d", i)}); err != nil {
						return err
					}
					// Send the next event only once the client has read
					// this one: if Send left it in a buffer, it never would.
					select {
					case got := <-read:
						if got != i {
							return fmt.Errorf("client confirmed event %d, want %d", got, i)
						}
					case <-s.Done():
						return s.Err()
					}
				}
				return nil
			})
			ls := startLiveServer(t, p.http2, h, nil)
			_, wr, _ := openEventStream(t, ls, "/", nil)

			for i := range events {
				f := wr.next(t, arrive, fmt.Sprintf("event %d (was it flushed?)", i))
				if want := fmt.Sprintf("id: %d\ndata: event %d", i, i); f.text != want {
					t.Fatalf("frame %d = %q, want %q", i, f.text, want)
				}
				select {
				case read <- i:
				case <-time.After(arrive):
					t.Fatalf("handler did not wait for the confirmation of event %d", i)
				}
			}
			if frames, err := wr.rest(t, arrive); len(frames) != 0 || err != io.EOF {
				t.Errorf("after the last event: frames %q, end %v; want none and EOF", frames, err)
			}
			if err := receive(t, served, arrive, "Serve"); err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		})
	}
}

func TestClientDisconnectEndsStream(t *testing.T) {
	waits := []struct {
		name string
		wait func(s *Stream) error
	}{
		{"select on Done", func(s *Stream) error {
			select {
			case <-s.Done():
				return nil
			case <-time.After(time.Minute):
				return errors.New("Done not closed")
			}
		}},
		{"idle Every", func(s *Stream) error {
			return s.Every(time.Hour, func() error { return errors.New("unexpected tick") })
		}},
		{"busy Every", func(s *Stream) error {
			return s.Every(5*time.Millisecond, func() error { return s.Send(Event{Data: "tick"}) })
		}},
	}
	for _, p := range liveProtocols {
		for _, w := range waits {
			t.Run(p.name+"/"+w.name, func(t *testing.T) {
				leaktest.Check(t)
				returned := make(chan time.Time, 1)
				h, served := serveFunc(func(s *Stream) error {
					if err := s.Send(Event{Data: "hello"}); err != nil {
						return err
					}
					err := w.wait(s)
					returned <- time.Now()
					return err
				})
				ls := startLiveServer(t, p.http2, h, nil)
				_, wr, cancel := openEventStream(t, ls, "/", nil)
				if got := wr.next(t, arrive, "first event").text; got != "data: hello" {
					t.Fatalf("first frame = %q, want %q", got, "data: hello")
				}

				left := time.Now()
				cancel()
				at := receive(t, returned, arrive, "StreamFunc return after the client left")
				if took := at.Sub(left); took > time.Second {
					t.Errorf("StreamFunc returned %v after the client left, want within 1s", took)
				}
				if err := receive(t, served, time.Second, "Serve return after the StreamFunc"); err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			})
		}
	}
}

func TestHeartbeat(t *testing.T) {
	const every = 100 * time.Millisecond
	tests := []struct {
		name      string
		opts      []Option
		sendEvery time.Duration // 0 leaves the stream idle
		window    time.Duration
		minBeats  int
		maxBeats  int
	}{
		// Timers never fire early, so at most window/every+1 heartbeats fit.
		// A busy stream may still send one when the machine stalls its
		// ticks for longer than every: what it must not do is send one
		// soon after an event (checked below).
		{"idle", []Option{WithHeartbeat(every)}, 0, 6 * every, 3, 7},
		{"busy", []Option{WithHeartbeat(every)}, every / 10, 5 * every, 0, 2},
		{"off", []Option{WithHeartbeat(0)}, 0, 4 * every, 0, 0},
	}
	for _, p := range liveProtocols {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				h, _ := serveFunc(func(s *Stream) error {
					if err := s.Send(Event{Data: "open"}); err != nil {
						return err
					}
					if tt.sendEvery > 0 {
						return s.Every(tt.sendEvery, func() error { return s.Send(Event{Data: "tick"}) })
					}
					<-s.Done()
					return nil
				}, tt.opts...)
				ls := startLiveServer(t, p.http2, h, nil)
				_, wr, _ := openEventStream(t, ls, "/", nil)
				if got := wr.next(t, arrive, "first event").text; got != "data: open" {
					t.Fatalf("first frame = %q, want %q", got, "data: open")
				}

				beats, ticks := 0, 0
				last := time.Now()
				for _, f := range wr.collect(tt.window) {
					switch {
					case f.text == ":":
						beats++
						// Half the period leaves room for delivery jitter;
						// a heartbeat on a timer that writes do not reset
						// comes within a tick (every/10) of an event.
						if gap := f.at.Sub(last); gap < every/2 {
							t.Errorf("heartbeat %v after the frame before it, want none before %v of silence", gap, every)
						}
					case f.text == "data: tick" && tt.sendEvery > 0:
						ticks++
					default:
						t.Errorf("unexpected frame %q", f.text)
					}
					last = f.at
				}
				if beats < tt.minBeats || beats > tt.maxBeats {
					t.Errorf("%d heartbeats in %v, want %d to %d", beats, tt.window, tt.minBeats, tt.maxBeats)
				}
				if tt.sendEvery > 0 && ticks < 10 {
					t.Errorf("only %d events in %v: the stream was not busy, so the test proves nothing", ticks, tt.window)
				}
			})
		}
	}
}

func TestWriteTimeoutDropsStuckClient(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			leaktest.Check(t)
			type flood struct {
				err     error
				blocked time.Duration // how long the failing Send took
			}
			flooded := make(chan flood, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
				Serve(w, r, func(s *Stream) error {
					big := Event{Data: strings.Repeat("x", 64<<10)}
					for range 2000 { // 128 MiB, far beyond any socket buffer
						start := time.Now()
						if err := s.Send(big); err != nil {
							flooded <- flood{err, time.Since(start)}
							return err
						}
					}
					flooded <- flood{errors.New("every Send succeeded"), 0}
					return nil
				}, WithWriteTimeout(timeout), WithHeartbeat(0))
			})
			mux.HandleFunc("/ticks", func(w http.ResponseWriter, r *http.Request) {
				Serve(w, r, func(s *Stream) error {
					id := 0
					return s.Every(10*time.Millisecond, func() error {
						id++
						return s.Send(Event{ID: strconv.Itoa(id), Data: "tick"})
					})
				}, WithWriteTimeout(timeout), WithHeartbeat(0))
			})
			ls := startLiveServer(t, p.http2, mux, nil)

			_, reader, _ := openEventStream(t, ls, "/ticks", nil)
			ticks := []wireFrame{reader.next(t, arrive, "first tick")}

			if p.http2 {
				// A second stream on the same connection whose body is never
				// read: HTTP/2 flow control stops the server once the
				// stream's window is full.
				doStream(t, ls, "/flood", nil)
			} else {
				conn, err := net.Dial("tcp", ls.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				conn.(*net.TCPConn).SetReadBuffer(4 << 10)
				if _, err := fmt.Fprintf(conn, "GET /flood HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
					ls.Listener.Addr()); err != nil {
					t.Fatal(err)
				}
				// ... and never read.
			}

			var res flood
			var droppedAt time.Time
			limit := time.NewTimer(10 * time.Second)
			defer limit.Stop()
			for droppedAt.IsZero() {
				select {
				case f, ok := <-reader.frames:
					if !ok {
						t.Fatalf("reading client's stream ended while the stuck one was open: %v", reader.err)
					}
					ticks = append(ticks, f)
				case res = <-flooded:
					droppedAt = time.Now()
				case <-limit.C:
					t.Fatal("the client that does not read was not dropped within 10s")
				}
			}

			// Over HTTP/2, net/http resets the stream when its deadline
			// passes and reports the reset's cause to the blocked write.
			if !errors.Is(res.err, ErrClosed) || !errors.Is(res.err, os.ErrDeadlineExceeded) {
				t.Errorf("Send to the stuck client = %v, want an error wrapping ErrClosed and os.ErrDeadlineExceeded", res.err)
			}
			if res.blocked < timeout*9/10 || res.blocked > timeout+800*time.Millisecond {
				t.Errorf("the failing Send took %v, want about the write timeout %v", res.blocked, timeout)
			}

			// The reading client kept receiving while the stuck one blocked
			// its Send (a tick every 10ms), and keeps receiving after.
			during := 0
			for _, f := range ticks {
				if f.at.After(droppedAt.Add(-res.blocked)) {
					during++
				}
			}
			if during < 3 {
				t.Errorf("reading client got %d events while the stuck client's Send blocked for %v, want several", during, res.blocked)
			}
			for range 5 {
				ticks = append(ticks, reader.next(t, arrive, "tick after the stuck client was dropped"))
			}
			for i, f := range ticks {
				if want := fmt.Sprintf("id: %d\ndata: tick", i+1); f.text != want {
					t.Fatalf("reading client's frame %d = %q, want %q", i, f.text, want)
				}
			}
		})
	}
}

func TestIdleStreamOutlivesWriteTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			sent := make(chan error, 1)
			h, _ := serveFunc(func(s *Stream) error {
				if err := s.Send(Event{Data: "before"}); err != nil {
					return err
				}
				// Stay idle, with the client reading, well past the timeout.
				select {
				case <-time.After(3 * timeout):
				case <-s.Done():
				}
				err := s.Send(Event{Data: "after"})
				sent <- err
				if err != nil {
					return err
				}
				<-s.Done()
				return nil
			}, WithWriteTimeout(timeout), WithHeartbeat(0))
			ls := startLiveServer(t, p.http2, h, nil)
			_, wr, _ := openEventStream(t, ls, "/", nil)
			if got := wr.next(t, arrive, "first event").text; got != "data: before" {
				t.Fatalf("first frame = %q, want %q", got, "data: before")
			}
			if err := receive(t, sent, arrive, "Send after idling"); err != nil {
				t.Fatalf("Send after %v idle = %v, want nil: a client that reads must not be dropped", 3*timeout, err)
			}
			if got := wr.next(t, arrive, "event after idling").text; got != "data: after" {
				t.Errorf("second frame = %q, want %q", got, "data: after")
			}
		})
	}
}

// A stream whose last write left its deadline (HTTP/1.x keeps it between
// writes) and that then idles past it still ends cleanly: the server's
// own write of the response's end does not meet the passed deadline.
func TestStreamEndsCleanlyAfterIdlingPastWriteTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			h, served := serveFunc(func(s *Stream) error {
				if err := s.Send(Event{Data: "before"}); err != nil {
					return err
				}
				// Idle, with the client reading, well past the deadline.
				select {
				case <-time.After(3 * timeout):
				case <-s.Done():
				}
				return nil
			}, WithWriteTimeout(timeout), WithHeartbeat(0))
			ls := startLiveServer(t, p.http2, h, nil)
			_, wr, _ := openEventStream(t, ls, "/", nil)
			frames, err := wr.rest(t, arrive)
			if len(frames) != 1 || frames[0] != "data: before" || err != io.EOF {
				t.Errorf("frames %q, end %v; want the one event and a clean EOF", frames, err)
			}
			if err := receive(t, served, arrive, "Serve"); err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		})
	}
}

func TestLastEventID(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		header string
		want   string
	}{
		{name: "first connect", want: ""},
		{name: "header", header: "42", want: "42"},
		{name: "query", query: "lastEventId=7", want: "7"},
		{name: "header wins", header: "42", query: "lastEventId=7", want: "42"},
		{name: "escaped query", query: "x=1&lastEventId=a%20b%2Fc", want: "a b/c"},
		{name: "UTF-8 header", header: "événement-№1", want: "événement-№1"},
	}
	for _, p := range liveProtocols {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				type seen struct {
					id      string
					request bool
				}
				got := make(chan seen, 1)
				h, served := serveFunc(func(s *Stream) error {
					got <- seen{s.LastEventID(), s.Request() != nil && s.Request().URL.RawQuery == tt.query}
					return nil
				})
				ls := startLiveServer(t, p.http2, h, nil)
				header := http.Header{}
				if tt.header != "" {
					header.Set("Last-Event-ID", tt.header)
				}
				target := "/"
				if tt.query != "" {
					target += "?" + tt.query
				}
				_, wr, _ := openEventStream(t, ls, target, header)
				s := receive(t, got, arrive, "StreamFunc")
				if s.id != tt.want {
					t.Errorf("LastEventID() = %q, want %q", s.id, tt.want)
				}
				if !s.request {
					t.Error("Request() is not the request the stream answers")
				}
				if frames, err := wr.rest(t, arrive); len(frames) != 0 || err != io.EOF {
					t.Errorf("frames %q, end %v; want none and EOF", frames, err)
				}
				if err := receive(t, served, arrive, "Serve"); err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			})
		}
	}
}

func TestRetryFirstFrame(t *testing.T) {
	tests := []struct {
		name  string
		retry time.Duration
		want  []string
	}{
		{"1500ms", 1500 * time.Millisecond, []string{"retry: 1500", "data: x"}},
		{"rounded down", 1500*time.Millisecond + 999*time.Microsecond, []string{"retry: 1500", "data: x"}},
		{"zero sends none", 0, []string{"data: x"}},
		{"below a millisecond sends none", 500 * time.Microsecond, []string{"data: x"}},
	}
	for _, p := range liveProtocols {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				h, served := serveFunc(func(s *Stream) error {
					return s.Send(Event{Data: "x"})
				}, WithRetry(tt.retry))
				ls := startLiveServer(t, p.http2, h, nil)
				_, wr, _ := openEventStream(t, ls, "/", nil)
				frames, err := wr.rest(t, arrive)
				if !slices.Equal(frames, tt.want) || err != io.EOF {
					t.Errorf("frames %q, end %v; want %q and EOF", frames, err, tt.want)
				}
				if err := receive(t, served, arrive, "Serve"); err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			})
		}
	}
}

// plainResponseWriter has only the methods of http.ResponseWriter and no
// Unwrap, as a wrapper written without streaming in mind. It counts the
// calls that would put something on the wire.
type plainResponseWriter struct {
	rw     http.ResponseWriter
	writes int
}

func (w *plainResponseWriter) Header() http.Header { return w.rw.Header() }

func (w *plainResponseWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.rw.Write(p)
}

func (w *plainResponseWriter) WriteHeader(code int) {
	w.writes++
	w.rw.WriteHeader(code)
}

// unwrappingResponseWriter is a wrapper as router middleware writes it:
// only the ResponseWriter methods, and Unwrap.
type unwrappingResponseWriter struct{ http.ResponseWriter }

func (w unwrappingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestServeNotFlushable(t *testing.T) {
	tests := []struct {
		name string
		wrap func(*httptest.ResponseRecorder) (http.ResponseWriter, *plainResponseWriter)
		ok   bool
	}{
		{"recorder", func(rec *httptest.ResponseRecorder) (http.ResponseWriter, *plainResponseWriter) {
			return rec, nil
		}, true},
		{"wrapper without Unwrap", func(rec *httptest.ResponseRecorder) (http.ResponseWriter, *plainResponseWriter) {
			w := &plainResponseWriter{rw: rec}
			return w, w
		}, false},
		{"wrapper with Unwrap", func(rec *httptest.ResponseRecorder) (http.ResponseWriter, *plainResponseWriter) {
			return unwrappingResponseWriter{rec}, nil
		}, true},
		{"Unwrap to a writer that cannot flush", func(rec *httptest.ResponseRecorder) (http.ResponseWriter, *plainResponseWriter) {
			w := &plainResponseWriter{rw: rec}
			return unwrappingResponseWriter{w}, w
		}, false},
	}
	for _, tt := range tests {
		t.Run("Serve/"+tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w, plain := tt.wrap(rec)
			called := false
			err := Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), func(s *Stream) error {
				called = true
				return s.Send(Event{Data: "x"})
			}, WithHeartbeat(0))
			if !tt.ok {
				if !errors.Is(err, ErrNotFlushable) {
					t.Errorf("Serve = %v, want an error wrapping ErrNotFlushable", err)
				}
				if called {
					t.Error("StreamFunc was called")
				}
				if plain.writes != 0 || rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Flushed {
					t.Errorf("Serve wrote %d times: body %q, header %v, flushed %v; want nothing",
						plain.writes, rec.Body, rec.Header(), rec.Flushed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Serve = %v, want nil", err)
			}
			if got := rec.Body.String(); got != "data: x\n\n" {
				t.Errorf("body = %q, want %q", got, "data: x\n\n")
			}
			if got := rec.Header().Get("Content-Type"); got != "text/event-stream" || !rec.Flushed {
				t.Errorf("Content-Type %q, flushed %v; want text/event-stream, flushed", got, rec.Flushed)
			}
		})
		t.Run("Handler/"+tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w, _ := tt.wrap(rec)
			called := false
			Handler(func(s *Stream) error {
				called = true
				return s.Send(Event{Data: "x"})
			}, WithHeartbeat(0)).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if called != tt.ok {
				t.Errorf("StreamFunc called = %v, want %v", called, tt.ok)
			}
			wantCode, wantType := http.StatusOK, "text/event-stream"
			if !tt.ok {
				wantCode, wantType = http.StatusInternalServerError, "text/plain; charset=utf-8"
			}
			if got := rec.Header().Get("Content-Type"); rec.Code != wantCode || got != wantType {
				t.Errorf("response %d %q, want %d %q", rec.Code, got, wantCode, wantType)
			}
			if !tt.ok && !strings.HasPrefix(rec.Body.String(), ErrNotFlushable.Error()) {
				t.Errorf("body = %q, want it to start with %q", rec.Body, ErrNotFlushable.Error())
			}
		})
	}
}

func TestServeThroughUnwrappingMiddleware(t *testing.T) {
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			read := make(chan struct{})
			h, served := serveFunc(func(s *Stream) error {
				if err := s.Send(Event{Data: "one"}); err != nil {
					return err
				}
				select {
				case <-read:
				case <-s.Done():
					return s.Err()
				}
				return s.Send(Event{Data: "two"})
			}, WithWriteTimeout(time.Second))
			middleware := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(unwrappingResponseWriter{w}, r)
			})
			ls := startLiveServer(t, p.http2, middleware, nil)
			resp, wr, _ := openEventStream(t, ls, "/", nil)
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
				t.Fatalf("response %d %q, want 200 text/event-stream", resp.StatusCode, ct)
			}
			if got := wr.next(t, arrive, "event sent through the wrapper (was it flushed?)").text; got != "data: one" {
				t.Errorf("first frame = %q, want %q", got, "data: one")
			}
			close(read)
			if frames, err := wr.rest(t, arrive); !slices.Equal(frames, []string{"data: two"}) || err != io.EOF {
				t.Errorf("frames %q, end %v; want [\"data: two\"] and EOF", frames, err)
			}
			if err := receive(t, served, arrive, "Serve"); err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		})
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	const streams = 50
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			leaktest.Check(t)
			var returned, idle atomic.Int32
			allReturned := make(chan struct{})
			h, served := serveFunc(func(s *Stream) error {
				defer func() {
					if returned.Add(1) == streams {
						close(allReturned)
					}
				}()
				if err := s.Send(Event{Data: "open"}); err != nil {
					return err
				}
				idle.Add(1)
				<-s.Done()
				return nil
			})
			// An ordinary request in progress during the shutdown keeps its
			// context: EndOnShutdown ends only streams. It finishes once
			// the shutdown has ended every stream, so it is in progress
			// while EndOnShutdown acts, however late the test runs.
			slowStarted, slowDone := make(chan struct{}), make(chan error, 1)
			mux := http.NewServeMux()
			mux.Handle("/", h)
			mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				close(slowStarted)
				select {
				case <-allReturned:
					if err := context.Cause(r.Context()); err != nil {
						slowDone <- err
						return
					}
					io.WriteString(w, "done")
					slowDone <- nil
				case <-r.Context().Done():
					slowDone <- context.Cause(r.Context())
				}
			})
			// The wiring core/doc.go describes.
			ls := startLiveServer(t, p.http2, mux, EndOnShutdown)

			readers := make([]*wireReader, streams)
			for i := range readers {
				_, readers[i], _ = openEventStream(t, ls, "/", nil)
				if got := readers[i].next(t, arrive, "first event").text; got != "data: open" {
					t.Fatalf("stream %d: first frame = %q, want %q", i, got, "data: open")
				}
			}
			// The client can read "open" before the server's Send has
			// returned. An end that comes while a write is in progress
			// may cut the stream (HTTP/2 resets it), so the streams must
			// be idle, as the test says, before the shutdown.
			waitIdle := time.Now().Add(arrive)
			for idle.Load() != streams {
				if time.Now().After(waitIdle) {
					t.Fatalf("%d of %d streams idle after %v", idle.Load(), streams, arrive)
				}
				time.Sleep(time.Millisecond)
			}

			slowResp := make(chan error, 1)
			go func() {
				resp, err := ls.client.Get(ls.URL + "/slow")
				if err == nil {
					resp.Body.Close()
				}
				slowResp <- err
			}()
			receive(t, slowStarted, arrive, "the ordinary request starts")

			ctx, stop := context.WithTimeout(context.Background(), arrive)
			defer stop()
			start := time.Now()
			err := ls.Config.Shutdown(ctx)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Shutdown = %v after %v", err, took)
			}
			if took > time.Second {
				t.Errorf("Shutdown took %v with %d open streams, want within 1s", took, streams)
			}
			if n := returned.Load(); n != streams {
				t.Errorf("%d of %d StreamFuncs had returned when Shutdown returned", n, streams)
			}
			for range streams {
				if err := receive(t, served, arrive, "Serve"); err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			}
			for i, wr := range readers {
				if frames, err := wr.rest(t, arrive); len(frames) != 0 || err != io.EOF {
					t.Errorf("stream %d: frames %q, end %v; want none and EOF", i, frames, err)
				}
			}
			if err := receive(t, slowDone, arrive, "the ordinary request"); err != nil {
				t.Errorf("the ordinary request's context ended (%v) during Shutdown; want it to finish", err)
			}
			if err := receive(t, slowResp, arrive, "the ordinary response"); err != nil {
				t.Errorf("the ordinary request failed: %v", err)
			}
		})
	}
}

func TestConcurrentSend(t *testing.T) {
	const senders, perSender = 8, 40
	// frame returns the wire form of sender g's i-th event, written by
	// hand: three data lines of a size that varies across buffer sizes.
	frame := func(g, i int) (Event, string) {
		line := strings.Repeat(string(rune('a'+g)), 100+(g*perSender+i)*37%3000)
		ev := Event{ID: fmt.Sprintf("%d-%d", g, i), Data: line + "\n" + line + "\r\n" + line}
		return ev, fmt.Sprintf("id: %d-%d\ndata: %s\ndata: %s\ndata: %s", g, i, line, line, line)
	}
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			h, served := serveFunc(func(s *Stream) error {
				errs := make(chan error, senders)
				var wg sync.WaitGroup
				for g := range senders {
					wg.Go(func() {
						for i := range perSender {
							ev, _ := frame(g, i)
							if err := s.Send(ev); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				return <-errs
			}, WithHeartbeat(time.Millisecond)) // heartbeats race the senders too
			ls := startLiveServer(t, p.http2, h, nil)
			_, wr, _ := openEventStream(t, ls, "/", nil)
			frames, err := wr.rest(t, arrive)
			if err != io.EOF {
				t.Fatalf("stream ended with %v, want EOF", err)
			}
			if err := receive(t, served, arrive, "Serve"); err != nil {
				t.Fatalf("Serve = %v, want nil", err)
			}

			next := make([]int, senders) // each sender's next event
			for n, f := range frames {
				if f == ":" {
					continue
				}
				var g, i int
				if _, err := fmt.Sscanf(f, "id: %d-%d\n", &g, &i); err != nil || g < 0 || g >= senders {
					t.Fatalf("frame %d is not an event of this test: %.80q", n, f)
				}
				if _, want := frame(g, i); f != want {
					t.Fatalf("frame %d is not whole: %.80q...", n, f)
				}
				if i != next[g] {
					t.Fatalf("frame %d is sender %d's event %d, want its event %d", n, g, i, next[g])
				}
				next[g]++
			}
			for g, n := range next {
				if n != perSender {
					t.Errorf("sender %d: %d events arrived, want %d", g, n, perSender)
				}
			}
		})
	}
}

func TestRunBufferedWriter(t *testing.T) {
	t.Run("each Send is flushed", func(t *testing.T) {
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 64<<10) // holds everything unless flushed
		events := []struct {
			ev   Event
			wire string
		}{
			{Event{ID: "1", Data: "a"}, "id: 1\ndata: a\n\n"},
			{Event{Type: "t", Data: "b\nc"}, "event: t\ndata: b\ndata: c\n\n"},
			{Event{Comment: "note"}, ": note\n\n"},
		}
		want := "retry: 1500\n\n"
		err := StreamTo(context.Background(), bw, func(s *Stream) error {
			if s.Request() != nil || s.LastEventID() != "" {
				t.Errorf("Request() = %v, LastEventID() = %q; want nil and empty", s.Request(), s.LastEventID())
			}
			if got := out.String(); got != want {
				t.Errorf("before the first Send, written %q, want %q", got, want)
			}
			for _, e := range events {
				if err := s.Send(e.ev); err != nil {
					return err
				}
				want += e.wire
				if got := out.String(); got != want || bw.Buffered() != 0 {
					t.Errorf("after Send, written %q (%d bytes buffered), want %q", got, bw.Buffered(), want)
				}
			}
			return nil
		}, WithHeartbeat(0), WithRetry(1500*time.Millisecond))
		if err != nil {
			t.Errorf("StreamTo = %v, want nil", err)
		}
	})

	t.Run("ctx cancel ends the stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started := make(chan *Stream, 1)
		ended := make(chan error, 1)
		go func() {
			ended <- StreamTo(ctx, bufio.NewWriter(io.Discard), func(s *Stream) error {
				started <- s
				<-s.Done()
				return s.Err()
			})
		}()
		s := receive(t, started, arrive, "StreamFunc start")
		cancel()
		err := receive(t, ended, time.Second, "StreamTo return after cancel")
		if !errors.Is(err, ErrClosed) || !errors.Is(err, context.Canceled) {
			t.Errorf("Err() after cancel = %v, want ErrClosed and context.Canceled", err)
		}
		if err := s.Send(Event{Data: "late"}); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after the stream ended = %v, want ErrClosed", err)
		}
	})

	t.Run("ctx cancel ends Every", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out bytes.Buffer
		var ticks int
		err := StreamTo(ctx, bufio.NewWriter(&out), func(s *Stream) error {
			return s.Every(time.Millisecond, func() error {
				if ticks++; ticks == 3 {
					cancel()
				}
				return s.Send(Event{Data: "tick"})
			})
		}, WithHeartbeat(0))
		if err != nil {
			t.Errorf("StreamTo = %v, want nil", err)
		}
		// The third tick cancels before it sends, so its Send fails and
		// Every returns.
		if got, want := out.String(), strings.Repeat("data: tick\n\n", 2); got != want {
			t.Errorf("written %q, want %q", got, want)
		}
	})

	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(fmt.Sprintf("Every(%v)", d), func(t *testing.T) {
			called := false
			err := StreamTo(context.Background(), bufio.NewWriter(io.Discard), func(s *Stream) error {
				return s.Every(d, func() error {
					called = true
					return nil
				})
			}, WithHeartbeat(0))
			if err == nil || called {
				t.Errorf("StreamTo = %v, called = %v; want an error, no call", err, called)
			}
		})
	}

	t.Run("failing writer", func(t *testing.T) {
		boom := errors.New("boom")
		called := false
		err := StreamTo(context.Background(), failingFlushWriter{boom}, func(s *Stream) error {
			called = true
			return nil
		})
		if !errors.Is(err, ErrClosed) || !errors.Is(err, boom) || called {
			t.Errorf("StreamTo = %v, called = %v; want ErrClosed and the cause, no call", err, called)
		}
	})
}

// failingFlushWriter fails every flush.
type failingFlushWriter struct{ err error }

func (w failingFlushWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w failingFlushWriter) Flush() error                { return w.err }

// TestStreamReadsRequestBody checks that a stream function can read the
// request body, as a POST that streams an answer to a prompt does, though
// the headers went out before it ran: at once, after sending events, and a
// body larger than any buffer on the way, over HTTP/1.1 and HTTP/2.
func TestStreamReadsRequestBody(t *testing.T) {
	prompts := map[string]string{
		"json":  `{"model":"m","prompt":"Say hello."}`,
		"large": strings.Repeat("a prompt of some length. ", 80_000), // 2 MB
	}
	for _, p := range liveProtocols {
		for name, prompt := range prompts {
			t.Run(p.name+"/"+name, func(t *testing.T) {
				h, served := serveFunc(func(s *Stream) error {
					if err := s.Send(Event{Data: "started"}); err != nil {
						return err
					}
					var head [8]byte
					n, err := io.ReadFull(s.Request().Body, head[:])
					if err != nil {
						return fmt.Errorf("reading the first %d bytes: %w", len(head), err)
					}
					if err := s.Send(Event{Data: "head " + string(head[:n])}); err != nil {
						return err
					}
					rest, err := io.ReadAll(s.Request().Body)
					if err != nil {
						return fmt.Errorf("reading the rest after %d bytes: %w", n, err)
					}
					return s.Send(Event{Data: "read " + strconv.Itoa(n+len(rest))})
				}, WithHeartbeat(0))
				ls := startLiveServer(t, p.http2, h, nil)
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ls.URL, strings.NewReader(prompt))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Accept", "text/event-stream")
				resp, err := ls.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				dec := NewDecoder(resp.Body)
				for _, want := range []string{"started", "head " + prompt[:8], "read " + strconv.Itoa(len(prompt))} {
					ev, err := dec.Next()
					if err != nil || ev.Data != want {
						t.Fatalf("event %q, %v; want %q (the stream function returned %v)", ev.Data, err, want, receive(t, served, arrive, "Serve's result"))
					}
				}
				if err := receive(t, served, arrive, "Serve's result"); err != nil {
					t.Errorf("Serve: %v", err)
				}
			})
		}
	}
}

// TestStreamLeavesRequestBodyUnread checks that a stream function may
// ignore the request body, all of it or the end of it, whether the client
// has sent it all or is still sending: the server neither panics (as
// net/http's HTTP/1.x server does when a full-duplex body ends after the
// handler, go.dev/issue/68560) nor hangs, and the connection serves the
// next request or closes.
func TestStreamLeavesRequestBodyUnread(t *testing.T) {
	bodies := []struct {
		name string
		body func() io.Reader
	}{
		{"sent", func() io.Reader { return strings.NewReader(`{"prompt":"hi"}`) }},
		{"chunked", func() io.Reader { return io.MultiReader(strings.NewReader(`{"prompt":"hi"}`)) }},
		{"large", func() io.Reader { return strings.NewReader(strings.Repeat("x", 1<<20)) }},
		{"still sending", func() io.Reader {
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte(`{"prompt":`))
				<-t.Context().Done()
				pw.Close()
			}()
			return pr
		}},
	}
	for _, p := range liveProtocols {
		for _, b := range bodies {
			t.Run(p.name+"/"+b.name, func(t *testing.T) {
				var logged syncbuf.Buffer
				var conns atomic.Int32
				h, served := serveFunc(func(s *Stream) error {
					return s.Send(Event{Data: "answer"})
				}, WithHeartbeat(0))
				ls := startLiveServer(t, p.http2, h, func(srv *http.Server) {
					srv.ErrorLog = log.New(&logged, "", 0)
					srv.ConnState = func(_ net.Conn, state http.ConnState) {
						if state == http.StateNew {
							conns.Add(1)
						}
					}
				})
				for i := range 2 {
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ls.URL, b.body())
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Accept", "text/event-stream")
					resp, err := ls.client.Do(req)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(got) != "data: answer\n\n" {
						t.Errorf("request %d: body %q, %v", i, got, err)
					}
					if err := receive(t, served, arrive, "Serve's result"); err != nil {
						t.Errorf("Serve: %v", err)
					}
				}
				// HTTP/2 streams share their connection; an HTTP/1.x
				// request with a body closes its own.
				if want := map[bool]int32{false: 2, true: 1}[p.http2]; conns.Load() != want {
					t.Errorf("the two requests took %d connections, want %d", conns.Load(), want)
				}
				ls.client.CloseIdleConnections()
				ls.CloseClientConnections()
				if s := logged.String(); s != "" {
					t.Errorf("server logged:\n%s", s)
				}
			})
		}
	}
}

// TestEndAsLastWriteFinishes checks that a stream whose end (a shutdown, a
// hub closing) comes just as its last write finishes leaves no deadline in
// the past on the connection: the server writes the end of the response
// (a chunked response's last chunk) after the handler returns, and the
// client must see the stream end cleanly, not cut.
func TestEndAsLastWriteFinishes(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		hook    string // where the stream ends: "flush" of the event, or "clear" of its deadline after it
	}{
		{"during the flush, no write timeout", 0, "flush"},
		{"during the flush", time.Minute, "flush"},
		{"as the deadline is cleared", time.Minute, "clear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &deadlineWriter{set: make(chan time.Time, 16)}
			hook := func() {
				cancel()
				if tt.hook == "flush" {
					// The end moves the deadline of the write in progress;
					// then the last bytes go out all the same.
					receive(t, w.set, arrive, "the stream's end moving the deadline")
					return
				}
				// The write is over: the end must leave the deadline
				// alone. Give it the time to do otherwise.
				select {
				case d := <-w.set:
					t.Errorf("the stream's end moved the deadline to %v after the write was over", d)
				case <-time.After(100 * time.Millisecond):
				}
			}
			err := StreamTo(ctx, w, func(s *Stream) error {
				w.arm(tt.hook, hook)
				return s.Send(Event{Data: "last"})
			}, WithWriteTimeout(tt.timeout), WithHeartbeat(0))
			if err != nil {
				t.Errorf("StreamTo = %v, want nil: the event went out", err)
			}
			if got, want := w.written(), "data: last\n\n"; got != want {
				t.Errorf("written %q, want %q", got, want)
			}
			if d := w.lastDeadline(); !d.IsZero() && !d.After(time.Now()) {
				t.Errorf("the stream left the write deadline in the past (%v): the end of the response would fail", d)
			}
		})
	}
}

// deadlineWriter is a FlushWriter with a write deadline, as a connection
// has. It records the last deadline set and, once armed, runs a hook once,
// outside its lock, at the next flush or the next clearing of the
// deadline.
type deadlineWriter struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	deadline time.Time
	at       string // "flush" or "clear": where hook runs
	hook     func()
	running  bool           // the hook is running
	set      chan time.Time // the deadlines set while the hook runs
}

func (w *deadlineWriter) arm(at string, hook func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at, w.hook = at, hook
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *deadlineWriter) Flush() error {
	w.run("flush")
	return nil
}

func (w *deadlineWriter) SetWriteDeadline(d time.Time) error {
	w.mu.Lock()
	w.deadline = d
	running := w.running
	w.mu.Unlock()
	if running {
		w.set <- d
	} else if d.IsZero() {
		w.run("clear")
	}
	return nil
}

// run runs the hook if it is armed for at, and disarms it.
func (w *deadlineWriter) run(at string) {
	w.mu.Lock()
	hook := w.hook
	if w.at != at || w.running {
		hook = nil
	}
	w.running = hook != nil
	w.mu.Unlock()
	if hook != nil {
		hook()
		w.mu.Lock()
		w.at, w.hook, w.running = "", nil, false
		w.mu.Unlock()
	}
}

func (w *deadlineWriter) written() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *deadlineWriter) lastDeadline() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deadline
}

// TestMaxLifetime checks that WithMaxLifetime ends the stream, not before
// its lifetime, with a retry field asking for a reconnection within a
// second (or within the stream's own retry), after which the response
// ends cleanly and the stream's context reports ErrMaxLifetime.
func TestMaxLifetime(t *testing.T) {
	const lifetime = 50 * time.Millisecond
	for _, p := range liveProtocols {
		for _, retry := range []time.Duration{0, 200 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/retry=%v", p.name, retry), func(t *testing.T) {
				causes := make(chan error, 1)
				h, served := serveFunc(func(s *Stream) error {
					<-s.Done()
					causes <- context.Cause(s.Context())
					return s.Err()
				}, WithHeartbeat(0), WithRetry(retry), WithMaxLifetime(lifetime))
				ls := startLiveServer(t, p.http2, h, nil)
				start := time.Now()
				resp, cancel := doStream(t, ls, "/", nil)
				defer cancel()
				body, err := io.ReadAll(resp.Body)
				elapsed := time.Since(start)
				if err != nil {
					t.Fatalf("the stream did not end cleanly: %v after %q", err, body)
				}
				frames := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
				last := frames[len(frames)-1]
				ms, err := strconv.Atoi(strings.TrimPrefix(last, "retry: "))
				limit := 1000
				if retry > 0 {
					limit = int(retry.Milliseconds())
				}
				if !strings.HasPrefix(last, "retry: ") || err != nil || ms < 1 || ms > limit {
					t.Errorf("last frame %q, want a retry of 1 to %d ms", last, limit)
				}
				if elapsed < lifetime {
					t.Errorf("the stream ended after %v, before its lifetime of %v", elapsed, lifetime)
				}
				if cause := receive(t, causes, arrive, "the stream's cause"); cause != ErrMaxLifetime {
					t.Errorf("the stream's context ended with %v, want ErrMaxLifetime", cause)
				}
				if err := receive(t, served, arrive, "Serve's result"); !errors.Is(err, ErrMaxLifetime) || !errors.Is(err, ErrClosed) {
					t.Errorf("Serve returned %v, want ErrClosed and ErrMaxLifetime", err)
				}
			})
		}
	}
}
