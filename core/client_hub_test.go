package sse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// restartable serves a handler on a server that can be killed and started
// again, reached through one URL: the client's transport dials whichever
// server runs now.
type restartable struct {
	t      *testing.T
	h      http.Handler
	h2     bool
	protos sync.Map // protocols the handler saw

	mu   sync.Mutex
	srv  *httptest.Server
	addr string
}

func newRestartable(t *testing.T, h http.Handler, h2 bool) *restartable {
	rs := &restartable{t: t, h2: h2}
	rs.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.protos.Store(r.Proto, true)
		h.ServeHTTP(w, r)
	})
	rs.start()
	t.Cleanup(rs.kill)
	return rs
}

func (rs *restartable) start() {
	srv := httptest.NewUnstartedServer(rs.h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // killed mid-handshake: expected
	if rs.h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	rs.mu.Lock()
	rs.srv, rs.addr = srv, srv.Listener.Addr().String()
	rs.mu.Unlock()
}

// kill drops every connection at once and stops the server, as a crash
// would.
func (rs *restartable) kill() {
	rs.mu.Lock()
	srv := rs.srv
	rs.srv = nil
	rs.mu.Unlock()
	if srv != nil {
		// The listener first: a client that reconnects between the two
		// would otherwise get a connection that Close waits for.
		srv.Listener.Close()
		srv.CloseClientConnections()
		srv.Close()
	}
}

// client returns a client for url, which reaches the current server.
func (rs *restartable) client() (*http.Client, string) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			rs.mu.Lock()
			addr := rs.addr
			rs.mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	rs.t.Cleanup(tr.CloseIdleConnections)
	if !rs.h2 {
		return &http.Client{Transport: tr}, "http://sse.test/events"
	}
	pool := x509.NewCertPool()
	rs.mu.Lock()
	pool.AddCert(rs.srv.Certificate()) // every httptest server has the same one
	rs.mu.Unlock()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr}, "https://example.com/events"
}

// TestClientHubRestarts kills and restarts the server 20 times while a hub
// publishes: the client must receive every event exactly once, in order.
func TestClientHubRestarts(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2]
		t.Run(name, func(t *testing.T) {
			leaktest.Check(t)
			hub, err := NewHub()
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			rs := newRestartable(t, Handler(hub.StreamFunc("t"), WithHeartbeat(0)), h2)
			client, url := rs.client()

			// The client starts from a known ID, so that even its first
			// connection can be killed before an event and replay from there.
			if err := hub.Publish(context.Background(), Event{ID: "start", Data: "before the client"}, "t"); err != nil {
				t.Fatal(err)
			}
			// The client reads until it has every event the publisher
			// sent, however many that is.
			var published atomic.Int64
			var restarts atomic.Int32
			publisherDone := make(chan struct{})
			type result struct {
				data       []int
				reconnects int
				err        error
			}
			done := make(chan result, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			go func() {
				var res result
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Last-Event-ID", "start")
				hook := WithReconnectHook(func(Reconnect) { res.reconnects++ })
				for ev, err := range Events(client, req, WithReconnectDelay(2*time.Millisecond), WithMaxReconnectDelay(20*time.Millisecond), hook) {
					if err != nil {
						res.err = err
						break
					}
					if ev.Type != "message" {
						t.Errorf("event %+v: want only the published events", ev)
						continue
					}
					n, _ := strconv.Atoi(ev.Data)
					res.data = append(res.data, n)
					select {
					case <-publisherDone:
						if int64(len(res.data)) >= published.Load() {
							done <- res
							return
						}
					default:
					}
				}
				done <- res
			}()

			go func() {
				defer close(publisherDone)
				for i := 1; ctx.Err() == nil; i++ {
					if err := hub.Publish(ctx, Event{Data: strconv.Itoa(i)}, "t"); err != nil {
						t.Errorf("publish %d: %v", i, err)
						return
					}
					published.Store(int64(i))
					if i >= 300 && restarts.Load() >= 20 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			for range 20 {
				time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
				rs.kill()
				time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
				rs.start()
				restarts.Add(1)
			}
			<-publisherDone
			// The last events may all have been sent already; one more
			// lets a client that has them all see that it has.
			if err := hub.Publish(ctx, Event{Data: strconv.Itoa(int(published.Load()) + 1)}, "t"); err != nil {
				t.Fatal(err)
			}
			published.Add(1)

			res := <-done
			if res.err != nil {
				t.Errorf("client error: %v", res.err)
			}
			for i, n := range res.data {
				if n != i+1 {
					t.Fatalf("event %d is %d: events lost, duplicated or out of order (got %d events of %d)", i+1, n, len(res.data), published.Load())
				}
			}
			if int64(len(res.data)) != published.Load() {
				t.Fatalf("got %d events, want %d", len(res.data), published.Load())
			}
			if res.reconnects < 20 {
				t.Errorf("%d reconnects for 20 restarts", res.reconnects)
			}
			want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
			rs.protos.Range(func(p, _ any) bool {
				if p != want {
					t.Errorf("a request came over %s, want %s", p, want)
				}
				return true
			})
			t.Logf("%d events, %d reconnects", len(res.data), res.reconnects)
		})
	}
}

// TestClientHubReset checks that a client whose last event ID has left the
// hub's history while the server was down receives sse-reset, then the
// events that follow.
func TestClientHubReset(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(WithHistory(HistoryLimits{Count: 5}))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	rs := newRestartable(t, Handler(hub.StreamFunc("t"), WithHeartbeat(0)), false)
	client, url := rs.client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)

	events := make(chan Event)
	go func() {
		defer close(events)
		for ev, err := range Events(client, req, WithReconnectDelay(time.Millisecond)) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	// Publish until the client has subscribed and has an event.
	var first Event
	for i := 0; first.ID == ""; i++ {
		if err := hub.Publish(ctx, Event{Data: "warm-up"}, "t"); err != nil {
			t.Fatal(err)
		}
		select {
		case first = <-events:
		case <-time.After(5 * time.Millisecond):
		}
	}
	rs.kill()
	for first := true; first; {
		select { // drain what arrived before the kill
		case _, ok := <-events:
			if !ok {
				t.Fatal("the client ended before the restart")
			}
		default:
			first = false
		}
	}
	for i := range 20 {
		if err := hub.Publish(ctx, Event{Data: "missed " + strconv.Itoa(i)}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	rs.start()
	var got Event
	for got = range events {
		if got.Type == ResetEvent || got.Data == "after" {
			break
		}
		if got.Data != "warm-up" {
			t.Fatalf("event %+v: want sse-reset, not a replay from a lost ID", got)
		}
	}
	if got.Type != ResetEvent {
		t.Fatalf("got %+v, want an event of type %s", got, ResetEvent)
	}
	go func() {
		for ctx.Err() == nil {
			hub.Publish(ctx, Event{Data: "after"}, "t")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if ev := <-events; ev.Data != "after" {
		t.Errorf("after the reset: %+v, want the new events", ev)
	}
	cancel()
	for range events {
	}
}
