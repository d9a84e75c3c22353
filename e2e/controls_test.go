package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// TestNginxControls shows that the proxied checks can fail: with nginx's
// defaults, a stream without X-Accel-Buffering: no is held back, and one
// without heartbeats is closed by the read timeout. A Go client reads the
// streams; no browser is needed.
func TestNginxControls(t *testing.T) {
	leaktest.Check(t)
	srv := startTestServer(t, serverOpts{heartbeat: heartbeat})
	n := startNginx(t, srv.addr, nil)

	t.Run("buffered-without-header", func(t *testing.T) {
		events := readStream(t, n.url("default")+"/hub-buffered")
		srv.waitSubscribers(t, 1)
		srv.publish(t, 1)
		select {
		case ev, ok := <-events:
			t.Errorf("nginx passed %+v (open %t) at once without X-Accel-Buffering: no, so the live check proves nothing", ev, ok)
		case <-time.After(2 * time.Second):
		}
	})
	t.Run("quiet-closed-by-timeout", func(t *testing.T) {
		events := readStream(t, n.url("timeout")+"/hub-quiet")
		start := time.Now()
		select {
		case ev, ok := <-events:
			if ok {
				t.Fatalf("got %+v from a stream nothing was published to", ev)
			}
			if d := time.Since(start); d < proxyReadTimeout/2 {
				t.Errorf("the stream ended after %v, before the read timeout %v", d, proxyReadTimeout)
			}
		case <-time.After(eventTimeout):
			t.Errorf("nginx kept a stream without heartbeats open %v behind a %v read timeout, so the heartbeat check proves nothing", eventTimeout, proxyReadTimeout)
		}
	})
}

// readStream opens url and decodes its events into the returned channel,
// which is closed when the stream ends or cannot start. A buffering nginx
// holds back even the response's header, so the request is made in the
// reading goroutine too. When the test ends the request is canceled, which
// interrupts a read in progress, and the goroutine waited for.
func readStream(t *testing.T, url string) <-chan sse.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Transport: &http.Transport{}}
	events := make(chan sse.Event, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return
		}
		dec := sse.NewDecoder(resp.Body)
		for {
			ev, err := dec.Next()
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		client.CloseIdleConnections()
	})
	return events
}
