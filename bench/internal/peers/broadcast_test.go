package peers

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
)

// broadcaster is a library's broadcast server, set up with its defaults
// and a replay history: handler serves path, publish sends data to every
// client, and ready receives once for each client that has subscribed.
type broadcaster struct {
	handler http.Handler
	path    string
	publish func(data string) error
	ready   <-chan struct{}
	close   func()
}

var broadcasters = []struct {
	name  string
	start func() (*broadcaster, error)
}{
	{"go-sse", startGoSSE},
	{"r3labs", startR3labs},
	{"eventwire", startEventwire},
}

// readyReplayer tells when go-sse's Joe has taken a subscription: it
// replays to it and adds it on its one goroutine, before any later publish.
type readyReplayer struct {
	gosse.Replayer
	ready chan<- struct{}
}

func (r readyReplayer) Replay(sub gosse.Subscription) error {
	err := r.Replayer.Replay(sub)
	r.ready <- struct{}{}
	return err
}

func startGoSSE() (*broadcaster, error) {
	rep, err := gosse.NewFiniteReplayer(1000, true)
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{}, 8)
	srv := &gosse.Server{Provider: &gosse.Joe{Replayer: readyReplayer{rep, ready}}}
	return &broadcaster{
		handler: srv,
		path:    "/",
		publish: func(data string) error {
			m := &gosse.Message{}
			m.AppendData(data)
			return srv.Publish(m)
		},
		ready: ready,
		close: func() { _ = srv.Shutdown(context.Background()) },
	}, nil
}

func startR3labs() (*broadcaster, error) {
	srv := r3sse.New() // AutoReplay on
	ready := make(chan struct{}, 8)
	srv.OnSubscribe = func(string, *r3sse.Subscriber) { ready <- struct{}{} }
	srv.CreateStream("s")
	return &broadcaster{
		handler: srv,
		path:    "/?stream=s",
		publish: func(data string) error {
			srv.Publish("s", &r3sse.Event{Data: []byte(data)})
			return nil
		},
		ready: ready,
		close: srv.Close,
	}, nil
}

func startEventwire() (*broadcaster, error) {
	ready := make(chan struct{}, 8)
	hub, err := sse.NewHub(sse.WithHooks(sse.Hooks{
		Connect: func(*sse.Stream, []string) { ready <- struct{}{} },
	}))
	if err != nil {
		return nil, err
	}
	return &broadcaster{
		handler: sse.Handler(hub.StreamFunc("t")),
		path:    "/",
		publish: func(data string) error { return hub.Publish(context.Background(), sse.Event{Data: data}, "t") },
		ready:   ready,
		close:   func() { _ = hub.Close() },
	}, nil
}

// startServer serves b on a loopback port whose connections have small
// send buffers, so that a client that stops reading holds up writes to it
// after a few events, as it would over a real network after a while.
func startServer(t *testing.T, b *broadcaster) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(b.handler)
	ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*net.TCPConn); ok {
			if err := tc.SetWriteBuffer(16 << 10); err != nil {
				t.Errorf("SetWriteBuffer: %v", err)
			}
		}
		return ctx
	}
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		b.close()
	})
	return ts
}

// TestPeersSlowClient subscribes a client that never reads and a healthy
// one, publishes events far larger than the stuck client's buffers, and
// checks whether publishing returns and the healthy client gets every
// event within a bound.
func TestPeersSlowClient(t *testing.T) {
	const (
		n     = 200
		size  = 16 << 10
		bound = 2 * time.Second
	)
	want := map[string]struct{ published, delivered bool }{
		"go-sse":    {false, false}, // Joe writes to each client in turn: all wait on the stuck one
		"r3labs":    {true, false},  // Publish is buffered, the stream's goroutine waits on the stuck one
		"eventwire": {true, true},
	}
	payload := strings.Repeat("x", size)
	for _, bc := range broadcasters {
		t.Run(bc.name, func(t *testing.T) {
			b, err := bc.start()
			if err != nil {
				t.Fatal(err)
			}
			ts := startServer(t, b)

			stuck, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer stuck.Close()
			if err := stuck.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
				t.Fatal(err)
			}
			if _, err := stuck.Write([]byte("GET " + b.path + " HTTP/1.1\r\nHost: peers\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			recv(t, b.ready, "stuck subscription")
			healthy := connect(t, ts.URL+b.path, "", func(events []sse.Event) bool { return len(events) == n })
			recv(t, b.ready, "healthy subscription")

			published := make(chan error, 1)
			go func() {
				for i := range n {
					if err := b.publish(strconv.Itoa(i) + payload); err != nil {
						published <- err
						return
					}
				}
				published <- nil
			}()
			deadline := time.After(bound)
			var didPublish, didDeliver bool
		wait:
			for !didPublish || !didDeliver {
				select {
				case err := <-published:
					if err != nil {
						t.Fatalf("publish: %v", err)
					}
					didPublish = true
				case events := <-healthy.done:
					healthy.done <- events // for the cleanup
					didDeliver = true
				case <-deadline:
					break wait
				}
			}
			got := healthy.got.Load()
			t.Logf("within %v: publishing returned %v, healthy client got %d of %d events", bound, didPublish, got, n)
			if w := want[bc.name]; didPublish != w.published || didDeliver != w.delivered {
				t.Errorf("published %v, delivered %v (%d of %d); want %v, %v", didPublish, didDeliver, got, n, w.published, w.delivered)
			}
			// Let everything go: the stuck client leaves, the publisher ends.
			stuck.Close()
			if !didPublish {
				if err := recv(t, published, "end of publishing"); err != nil {
					t.Errorf("publish: %v", err)
				}
			}
			healthy.cancel()
		})
	}
}

// TestPeersReplay has a client receive five events, then reconnect with
// the last event ID its browser would hold after the second one, and a new
// client connect without one; it checks what each is sent.
func TestPeersReplay(t *testing.T) {
	want := map[string]struct{ reconnect, fresh []string }{
		"go-sse":    {[]string{"3", "4", "5", "6"}, []string{"7"}},
		"r3labs":    {[]string{"2", "3", "4", "5", "6"}, []string{"1", "2", "3", "4", "5", "6", "7"}},
		"eventwire": {[]string{"3", "4", "5", "6"}, []string{"7"}},
	}
	for _, bc := range broadcasters {
		t.Run(bc.name, func(t *testing.T) {
			b, err := bc.start()
			if err != nil {
				t.Fatal(err)
			}
			ts := startServer(t, b)
			url := ts.URL + b.path
			publish := func(data string) {
				t.Helper()
				if err := b.publish(data); err != nil {
					t.Fatalf("publish %s: %v", data, err)
				}
			}

			first := connect(t, url, "", until("5"))
			recv(t, b.ready, "subscription")
			for i := 1; i <= 5; i++ {
				publish(strconv.Itoa(i))
			}
			seen := first.wait(t)
			if got := datas(seen); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
				t.Fatalf("live client got %q", got)
			}
			first.cancel()
			lastID := seen[1].ID

			again := connect(t, url, lastID, until("6"))
			recv(t, b.ready, "reconnection")
			publish("6")
			got := datas(again.wait(t))
			again.cancel()

			fresh := connect(t, url, "", until("7"))
			recv(t, b.ready, "new subscription")
			publish("7")
			gotFresh := datas(fresh.wait(t))

			w := want[bc.name]
			if !slices.Equal(got, w.reconnect) {
				t.Errorf("reconnect with Last-Event-ID %q got %q, want %q", lastID, got, w.reconnect)
			}
			if !slices.Equal(gotFresh, w.fresh) {
				t.Errorf("new client got %q, want %q", gotFresh, w.fresh)
			}
		})
	}
}
