package demo

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// The demo's server lets go of clients that never finish their request
// headers (200 slowloris connections), while a stream served by it lives
// on past that time: no WriteTimeout ends it.
func TestServerSettings(t *testing.T) {
	leaktest.Check(t)
	srv := Server("127.0.0.1:0", sse.Handler(Flags{Interval: 50 * time.Millisecond}.Events))
	if srv.WriteTimeout != 0 {
		t.Fatalf("WriteTimeout = %v, want 0: it would end every stream", srv.WriteTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()

	req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := make(chan error, 1)
	go func() {
		dec := sse.NewDecoder(resp.Body)
		for {
			if _, err := dec.Next(); err != nil {
				stream <- err
				return
			}
		}
	}()

	const clients = 200
	start := time.Now()
	var wg sync.WaitGroup
	closed := make(chan time.Duration, clients)
	for range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: demo\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(srv.ReadHeaderTimeout + 5*time.Second))
			var b [512]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					closed <- time.Since(start)
					return
				}
			}
		})
	}
	wg.Wait()
	close(closed)
	for took := range closed {
		if took > srv.ReadHeaderTimeout+2*time.Second {
			t.Fatalf("a client that never finished its headers was held %v, want about %v", took, srv.ReadHeaderTimeout)
		}
	}
	select {
	case err := <-stream:
		t.Fatalf("the stream ended after %v: %v", time.Since(start), err)
	default:
	}
}
