package sse

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// limitServer serves streams that stay open until their client leaves,
// under l, with the key of a request in its X-User header.
func limitServer(t *testing.T, http2 bool, l *Limit) *liveServer {
	t.Helper()
	l.Key = func(r *http.Request) string { return r.Header.Get("X-User") }
	h := Handler(func(s *Stream) error {
		if err := s.Send(Event{Data: "open"}); err != nil {
			return err
		}
		<-s.Done()
		return nil
	}, WithHeartbeat(0), WithLimit(l))
	return startLiveServer(t, http2, h, nil)
}

// openAs sends a GET for a stream as user, with extra headers as name,
// value pairs, and returns the response once its headers have arrived.
func openAs(t *testing.T, ls *liveServer, user string, header ...string) *http.Response {
	t.Helper()
	h := http.Header{"X-User": {user}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	resp, _ := doStream(t, ls, "/", h)
	return resp
}

// wantRefused checks a 503 with a Retry-After of retry, give or take a
// half, in whole seconds.
func wantRefused(t *testing.T, resp *http.Response, retry time.Duration, what string) {
	t.Helper()
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	lo, hi := int((retry/2)/time.Second), int((retry*3/2+time.Second-1)/time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || err != nil || secs < lo || secs > hi {
		t.Errorf("%s: %s, Retry-After %q; want 503 with %d to %d seconds", what, resp.Status, resp.Header.Get("Retry-After"), lo, hi)
	}
}

// TestLimitCaps checks the caps in all and for one key: a stream over a
// cap is refused at once, and one under it opens once a stream has ended.
func TestLimitCaps(t *testing.T) {
	leaktest.Check(t)
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			l := &Limit{Max: 3, PerKey: 2, Retry: 4 * time.Second}
			ls := limitServer(t, p.http2, l)
			ann1 := openAs(t, ls, "ann")
			openAs(t, ls, "ann")
			wantRefused(t, openAs(t, ls, "ann"), l.Retry, "ann's third stream")
			openAs(t, ls, "bob")
			wantRefused(t, openAs(t, ls, "carol"), l.Retry, "a fourth stream in all")
			if l.Open() != 3 {
				t.Errorf("%d streams open, want 3", l.Open())
			}
			ann1.Body.Close() // ann leaves one
			deadline := time.Now().Add(arrive)
			for l.Open() != 2 {
				if time.Now().After(deadline) {
					t.Fatalf("%d streams open %v after one left, want 2", l.Open(), arrive)
				}
				time.Sleep(time.Millisecond)
			}
			if resp := openAs(t, ls, "carol"); resp.StatusCode != http.StatusOK {
				t.Errorf("carol, once there is room: %s, want 200", resp.Status)
			}
		})
	}
}

// TestLimitBrowser checks what a browser's EventSource refused at the cap
// gets: 200 with a retry delay and a BusyEvent, then the end of the
// stream, so that it reconnects by itself; a browser's fetch that POSTs
// gets the 503 of every other client.
func TestLimitBrowser(t *testing.T) {
	leaktest.Check(t)
	l := &Limit{PerKey: 1, Retry: 2 * time.Second}
	ls := limitServer(t, false, l)
	openAs(t, ls, "ann")
	resp := openAs(t, ls, "ann", "Sec-Fetch-Mode", "cors")
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("%s, %v; want 200 and a stream that ends", resp.Status, err)
	}
	d := NewDecoder(strings.NewReader(string(body)))
	ev, err := d.Next()
	if err != nil || ev.Type != BusyEvent || d.Retry() < time.Second || d.Retry() > 3*time.Second {
		t.Errorf("stream %q: event %+v (%v), retry %v; want a %s event and a retry of 1 s to 3 s", body, ev, err, d.Retry(), BusyEvent)
	}

	req, err := http.NewRequest(http.MethodPost, ls.URL, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"X-User": {"ann"}, "Sec-Fetch-Mode": {"cors"}, "Accept": {"text/event-stream"}}
	post, err := ls.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	wantRefused(t, post, l.Retry, "a browser's POST")
}

// TestLimitClientComesBack checks that this module's client, refused at
// the cap, waits as long as Retry-After says and then gets its stream.
func TestLimitClientComesBack(t *testing.T) {
	leaktest.Check(t)
	l := &Limit{PerKey: 1, Retry: 2 * time.Second}
	ls := limitServer(t, false, l)
	holder := openAs(t, ls, "ann")
	var asked []time.Duration
	hook := WithReconnectHook(func(r Reconnect) {
		asked = append(asked, r.Delay)
		holder.Body.Close() // room, before the client tries again
		for l.Open() != 0 {
			time.Sleep(time.Millisecond)
		}
	})
	var w waits
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-User", "ann")
	for ev, err := range Events(ls.client, req, hook, w.option()) {
		if err != nil || ev.Data != "open" {
			t.Fatalf("event %+v, error %v; want the stream once there is room", ev, err)
		}
		break
	}
	if len(asked) != 1 || asked[0] < time.Second || asked[0] > 3*time.Second {
		t.Errorf("waited %v before trying again, want once, 1 s to 3 s", asked)
	}
}

// TestLimitLoop opens streams in a loop as one user, as a broken or
// hostile client would: no more than the cap are ever open, every other
// request is refused at once, and the refused requests do not pile up
// connections.
func TestLimitLoop(t *testing.T) {
	leaktest.Check(t)
	const perKey, attempts = 4, 300
	l := &Limit{PerKey: perKey}
	var conns, most atomic.Int32
	l.Key = func(r *http.Request) string { return r.Header.Get("X-User") }
	h := Handler(func(s *Stream) error { <-s.Done(); return nil }, WithHeartbeat(0), WithLimit(l))
	ls := startLiveServer(t, false, h, func(srv *http.Server) {
		srv.ConnState = func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				if n := conns.Add(1); n > most.Load() {
					most.Store(n)
				}
			case http.StateClosed, http.StateHijacked:
				conns.Add(-1)
			}
		}
	})
	refused := 0
	for i := range attempts {
		resp := openAs(t, ls, "mallory")
		if resp.StatusCode == http.StatusServiceUnavailable {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close() // the connection goes back to the pool
			refused++
		}
		if n := l.Open(); n > perKey {
			t.Fatalf("attempt %d: %d streams open, more than the cap of %d", i, n, perKey)
		}
	}
	if refused != attempts-perKey {
		t.Errorf("%d of %d attempts refused, want %d", refused, attempts, attempts-perKey)
	}
	if n := most.Load(); n > perKey+1 {
		t.Errorf("the server had %d connections at once for %d streams: refused requests held connections", n, perKey)
	}
}
