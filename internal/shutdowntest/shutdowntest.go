// Package shutdowntest checks, for any router, that [http.Server.Shutdown]
// ends every event stream at once when the server is wired with
// [sse.EndOnShutdown]. It is for this module's tests only.
package shutdowntest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// Mount builds a router's handler that serves plain at /plain and hub at
// /hub, each with opts, through the router's adapter.
type Mount func(plain, hub sse.StreamFunc, opts ...sse.Option) http.Handler

// The streams of a run: half plain stream functions, half hub subscribers,
// with stuck clients that stopped reading among both.
const (
	Streams      = 1000
	StuckPerKind = 10
	healthy      = Streams/2 - StuckPerKind // of each kind
)

// Run serves Streams streams through the handler mount builds, StuckPerKind
// of each kind held by a client that stopped reading while its stream
// writes, and fails t unless [http.Server.Shutdown] returns well before
// anything but the shutdown could end a stream (shutdownWithin, against a
// write timeout and a tick interval of a minute), every stream ends for
// the shutdown, and no goroutine is left.
func Run(t *testing.T, mount Mount) {
	leaktest.Check(t)
	hub, err := sse.NewHub(sse.WithQueueSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })

	var stuck stuckConns
	var endedByShutdown atomic.Int64 // streams whose context ended with http.ErrServerClosed
	counted := func(fn sse.StreamFunc) sse.StreamFunc {
		return func(s *sse.Stream) error {
			err := fn(s)
			if errors.Is(context.Cause(s.Context()), http.ErrServerClosed) {
				endedByShutdown.Add(1)
			}
			return err
		}
	}
	plain := counted(func(s *sse.Stream) error {
		if s.Request().URL.Query().Has("stuck") {
			stuck.add(t, s)
			for {
				if err := s.Send(sse.Event{Data: bigData}); err != nil {
					return err
				}
			}
		}
		tick := func() error { return s.Send(sse.Event{Data: "tick"}) }
		if err := tick(); err != nil {
			return err
		}
		return s.Every(time.Minute, tick)
	})
	subscribe := counted(func(s *sse.Stream) error {
		if s.Request().URL.Query().Has("stuck") {
			stuck.add(t, s)
			return hub.Subscribe(s, "big")
		}
		return hub.Subscribe(s, "t")
	})
	// A write timeout and a tick interval of a minute: only the shutdown
	// can end the streams, the stuck ones included, within shutdownWithin.
	h := mount(plain, subscribe, sse.WithWriteTimeout(time.Minute), sse.WithHeartbeat(time.Second))

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	sse.EndOnShutdown(srv)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := watchListener{tcp}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served // closed by the test, or after Close
	})
	addr := ln.Addr().String()

	transport := &http.Transport{MaxConnsPerHost: Streams, MaxIdleConnsPerHost: Streams}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	bodies := openAll(t, ctx, client, addr, healthy)
	for _, b := range bodies {
		t.Cleanup(func() { b.body.Close() })
	}
	waitFor(t, "the hub's healthy subscribers", func() bool { return hub.Stats().Subscribers >= healthy })
	stuckClients := make([]net.Conn, 0, 2*StuckPerKind)
	t.Cleanup(func() {
		for _, c := range stuckClients {
			c.Close()
		}
	})
	for i := range 2 * StuckPerKind {
		path := "/plain?stuck"
		if i%2 == 1 {
			path = "/hub?stuck"
		}
		stuckClients = append(stuckClients, openStuck(t, addr, path))
	}
	waitFor(t, "every subscriber", func() bool { return hub.Stats().Subscribers == Streams/2 })

	// Every healthy stream delivers; then the stuck ones are made to
	// block in a write.
	if err := hub.Publish(ctx, sse.Event{Data: "hello"}, "t"); err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		want := "tick"
		if b.hub {
			want = "hello"
		}
		if ev, err := b.dec.Next(); err != nil || ev.Data != want {
			t.Fatalf("stream %d: %q, %v; want %q", i, ev.Data, err, want)
		}
	}
	// One large event is more than a stuck connection can take: its
	// subscriber blocks in the write. One more then waits in its queue.
	if err := hub.Publish(ctx, sse.Event{Data: bigData}, "big"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every stuck stream to block in a write", func() bool { return stuck.blocked(2 * StuckPerKind) })
	if err := hub.Publish(ctx, sse.Event{Data: bigData}, "big"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stuck subscribers to fall behind", func() bool { return hub.Stats().QueueDepth >= StuckPerKind })

	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), shutdownWithin)
	defer cancelShutdown()
	start := time.Now()
	err = srv.Shutdown(shutdownCtx)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("http.Server.Shutdown = %v after %v; want it within %v, which only the shutdown ending the streams allows", err, took, shutdownWithin)
	}
	t.Logf("http.Server.Shutdown with %d streams, %d of them stuck, took %v", Streams, 2*StuckPerKind, took)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want http.ErrServerClosed", err)
	}
	close(served)
	for _, b := range bodies {
		for {
			if _, err := b.dec.Next(); err != nil {
				break // the stream ended
			}
		}
	}
	if st := hub.Stats(); st.Subscribers != 0 {
		t.Errorf("%d subscribers after Shutdown, want 0", st.Subscribers)
	}
	if n := endedByShutdown.Load(); n != Streams {
		t.Errorf("%d of %d streams ended for the shutdown (context cause http.ErrServerClosed)", n, Streams)
	}
}

// shutdownWithin bounds http.Server.Shutdown. It is far below the minute
// after which a stream could end on its own (the write timeout, the tick
// interval), so a shutdown within it is one that ended the streams; and it
// leaves a loaded machine the time to end a thousand streams under the
// race detector (it took up to 2 s with two busy cores).
const shutdownWithin = 10 * time.Second

// bigData is an event larger than what a connection whose client does not
// read can take (sendBuffer on the server's side, a few kilobytes on the
// client's): a stream that writes it blocks until the shutdown ends it.
var bigData = strings.Repeat("x", 1<<20)

// sendBuffer is the socket send buffer of the server's connections. Set,
// it bounds what the kernel takes of a stuck stream (without it Linux
// grows the buffer to megabytes), so that a write of bigData cannot
// finish.
const sendBuffer = 64 << 10

// connKey is the context key under which the server leaves each
// request's connection.
type connKey struct{}

// watchListener hands the server connections that count their writes.
type watchListener struct{ net.Listener }

func (l watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("shutdowntest: accepted a %T, want a *net.TCPConn", c)
	}
	if err := tc.SetWriteBuffer(sendBuffer); err != nil {
		c.Close()
		return nil, err
	}
	return &watchedConn{TCPConn: tc}, nil
}

// watchedConn is a server's connection that counts the bytes handed to
// Write and the writes in progress.
type watchedConn struct {
	*net.TCPConn
	offered atomic.Int64 // bytes handed to Write, a write in progress included
	writing atomic.Int32 // writes in progress
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.offered.Add(int64(len(p)))
	c.writing.Add(1)
	defer c.writing.Add(-1)
	return c.TCPConn.Write(p)
}

// stuckConns are the connections of the streams whose clients do not read.
type stuckConns struct {
	mu    sync.Mutex
	conns []*watchedConn
}

// add records the connection of s.
func (sc *stuckConns) add(t *testing.T, s *sse.Stream) {
	c, _ := s.Request().Context().Value(connKey{}).(*watchedConn)
	if c == nil {
		t.Errorf("the request of a stuck stream does not carry its connection: the router replaced its context")
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.conns = append(sc.conns, c)
}

// blocked reports whether n stuck streams have started and each is in a
// write it cannot finish: more bytes than the connection can take (bigData
// alone is) have been handed to it, and a write is in progress.
func (sc *stuckConns) blocked(n int) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.conns) != n {
		return false
	}
	for _, c := range sc.conns {
		if c == nil || c.writing.Load() == 0 || c.offered.Load() <= int64(len(bigData)) {
			return false
		}
	}
	return true
}

type openStream struct {
	body io.ReadCloser
	dec  *sse.Decoder
	hub  bool
}

// openAll opens n healthy streams of each kind.
func openAll(t *testing.T, ctx context.Context, client *http.Client, addr string, n int) []openStream {
	t.Helper()
	streams := make([]openStream, 2*n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	const openers = 16
	for w := range openers {
		wg.Go(func() {
			for i := w; i < 2*n; i += openers {
				path := "/plain"
				if i%2 == 1 {
					path = "/hub"
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
				if err != nil {
					errs[i] = err
					continue
				}
				req.Header.Set("Accept", "text/event-stream")
				resp, err := client.Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				streams[i] = openStream{body: resp.Body, dec: sse.NewDecoder(resp.Body), hub: i%2 == 1}
				if resp.StatusCode != http.StatusOK {
					errs[i] = fmt.Errorf("GET %s: %s", path, resp.Status)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range streams {
			if s.body != nil {
				s.body.Close()
			}
		}
		t.Fatal(err)
	}
	return streams
}

// openStuck sends a stream request on a connection with a small receive
// buffer that is never read.
func openStuck(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", path); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
