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
// writes, and fails t unless [http.Server.Shutdown] returns within a
// second, every stream ends, and no goroutine is left.
func Run(t *testing.T, mount Mount) {
	leaktest.Check(t)
	hub, err := sse.NewHub(sse.WithQueueSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })

	var plainBig atomic.Int64 // large events the stuck plain streams have written
	plain := func(s *sse.Stream) error {
		if s.Request().URL.Query().Has("stuck") {
			for {
				if err := s.Send(sse.Event{Data: bigData}); err != nil {
					return err
				}
				plainBig.Add(1)
			}
		}
		tick := func() error { return s.Send(sse.Event{Data: "tick"}) }
		if err := tick(); err != nil {
			return err
		}
		return s.Every(time.Second, tick)
	}
	subscribe := func(s *sse.Stream) error {
		if s.Request().URL.Query().Has("stuck") {
			return hub.Subscribe(s, "big")
		}
		return hub.Subscribe(s, "t")
	}
	// A write timeout of a minute: only the shutdown can let the stuck
	// clients go in time.
	h := mount(plain, subscribe, sse.WithWriteTimeout(time.Minute), sse.WithHeartbeat(time.Second))

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	sse.EndOnShutdown(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	stuck := make([]net.Conn, 0, 2*StuckPerKind)
	t.Cleanup(func() {
		for _, c := range stuck {
			c.Close()
		}
	})
	for i := range 2 * StuckPerKind {
		path := "/plain?stuck"
		if i%2 == 1 {
			path = "/hub?stuck"
		}
		stuck = append(stuck, openStuck(t, addr, path))
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
	for range 40 {
		if err := hub.Publish(ctx, sse.Event{Data: bigData}, "big"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the stuck subscribers to fall behind", func() bool { return hub.Stats().QueueDepth >= 10*StuckPerKind })
	waitFor(t, "the stuck plain streams to block", func() bool {
		before := plainBig.Load()
		time.Sleep(200 * time.Millisecond)
		return before > 0 && plainBig.Load() == before
	})

	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	start := time.Now()
	err = srv.Shutdown(shutdownCtx)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("http.Server.Shutdown = %v after %v", err, took)
	}
	t.Logf("http.Server.Shutdown with %d streams, %d of them stuck, took %v", Streams, 2*StuckPerKind, took)
	if took > time.Second {
		t.Errorf("http.Server.Shutdown took %v, want under a second", took)
	}
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
}

var bigData = strings.Repeat("x", 256<<10)

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
