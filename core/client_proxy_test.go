package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// faultProxy is a TCP proxy that breaks every connection it carries: it
// passes the client's bytes on untouched, but of the server's it forwards
// a random number and then cuts the connection (mid-frame, as likely as
// not), or stalls it without a word, or trickles them a few bytes at a
// time and then cuts.
type faultProxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[net.Conn]struct{}
	faults map[string]int // connections broken in each way
}

func newFaultProxy(t *testing.T, upstream string, seed uint64) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		ln:       ln,
		upstream: upstream,
		rng:      rand.New(rand.NewPCG(seed, 1)),
		conns:    make(map[net.Conn]struct{}),
		faults:   make(map[string]int),
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.carry(c)
	}
}

// track adds or removes c from the connections that close closes.
func (p *faultProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *faultProxy) carry(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client, true)
	p.track(server, true)
	defer p.track(client, false)
	defer p.track(server, false)

	p.mu.Lock()
	mode := []string{"cut", "cut", "cut", "cut", "cut", "trickle", "trickle", "stall"}[p.rng.IntN(8)]
	limit := p.rng.IntN(3000)
	seed := p.rng.Uint64()
	p.faults[mode]++
	p.mu.Unlock()

	p.wg.Add(1)
	go func() { // the request: passed on as it is
		defer p.wg.Done()
		io.Copy(server, client)
		server.Close()
	}()
	rng := rand.New(rand.NewPCG(seed, 2))
	buf := make([]byte, 512)
	for sent := 0; sent < limit; {
		n := min(len(buf), limit-sent)
		if mode == "trickle" {
			n = min(n, 1+rng.IntN(7))
		}
		n, err := server.Read(buf[:n])
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
			sent += n
		}
		if err != nil {
			return
		}
		if mode == "trickle" {
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
	}
	if mode == "stall" {
		// Hold the connection open and send nothing until the client
		// gives up on it.
		io.Copy(io.Discard, client)
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxyPayload is the data of event n: its length varies, and every byte
// of it can be checked.
func proxyPayload(n int) string {
	return fmt.Sprintf("%d:%s:%d", n, strings.Repeat(strconv.Itoa(n%10), (n*37)%600), n)
}

// TestClientFaultProxy reads a hub's stream through a proxy that cuts
// connections at random points (mid-frame included) and stalls them: no
// event may be lost, duplicated or delivered half.
func TestClientFaultProxy(t *testing.T) {
	leaktest.Check(t)
	const events = 250
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	srv := httptest.NewServer(Handler(hub.StreamFunc("t"), WithHeartbeat(15*time.Millisecond)))
	defer srv.Close()
	seed := uint64(time.Now().UnixNano())
	t.Logf("proxy seed %d", seed)
	proxy := newFaultProxy(t, srv.Listener.Addr().String(), seed)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxy.ln.Addr().String()+"/", nil)

	var causes sync.Map
	hook := WithReconnectHook(func(r Reconnect) {
		kind := "other"
		switch {
		case errors.Is(r.Cause, ErrIdleTimeout):
			kind = "idle"
		case r.Cause == io.EOF, errors.Is(r.Cause, io.ErrUnexpectedEOF):
			kind = "cut"
		}
		n, _ := causes.LoadOrStore(kind, new(int))
		*n.(*int)++
	})
	// The client starts from a known ID, so that even its first connection
	// can be cut before an event and replay from there.
	if err := hub.Publish(ctx, Event{ID: "start", Data: "before the client"}, "t"); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Last-Event-ID", "start")
	go func() {
		for i := 1; i <= events && ctx.Err() == nil; i++ {
			if err := hub.Publish(ctx, Event{Data: proxyPayload(i)}, "t"); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()

	next := 1
	for ev, err := range Events(&http.Client{Transport: tr}, req, WithReconnectDelay(time.Millisecond),
		WithMaxReconnectDelay(10*time.Millisecond), WithIdleTimeout(80*time.Millisecond), hook) {
		if err != nil {
			t.Fatalf("after %d events: %v", next-1, err)
		}
		if ev.Data != proxyPayload(next) {
			t.Fatalf("event %d: got %.40q… (%d bytes), want %.40q… (%d bytes)", next, ev.Data, len(ev.Data), proxyPayload(next), len(proxyPayload(next)))
		}
		if next++; next > events {
			break
		}
	}
	proxy.mu.Lock()
	t.Logf("connections broken: %v", proxy.faults)
	if proxy.faults["stall"] == 0 || proxy.faults["cut"] == 0 {
		t.Errorf("faults %v: the proxy should both cut and stall", proxy.faults)
	}
	proxy.mu.Unlock()
	if n, ok := causes.Load("idle"); !ok || *n.(*int) == 0 {
		t.Errorf("no reconnection after a stall")
	}
}
