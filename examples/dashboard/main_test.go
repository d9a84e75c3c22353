package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// wait bounds every wait of these tests.
const wait = 10 * time.Second

// metricKeys are the event types the page shows.
var metricKeys = []string{"uptime", "heap", "goroutines", "requests"}

// startDashboard serves the dashboard, sampled once as at start and never
// again, so that what a client sees of the samples was handed over.
func startDashboard(t *testing.T) *httptest.Server {
	t.Helper()
	hub, err := newHub()
	if err != nil {
		t.Fatal(err)
	}
	m := &metrics{hub: hub, start: time.Now()}
	m.sample(context.Background())
	srv := httptest.NewServer(newApp(hub, m))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		if err := hub.Close(); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
	})
	return srv
}

// stream is a client of /events.
type stream struct {
	dec  *sse.Decoder
	stop func()
}

// openStream opens /events, resuming after lastID unless it is empty.
func openStream(t *testing.T, srv *httptest.Server, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events: %s", resp.Status)
	}
	s := &stream{dec: sse.NewDecoder(resp.Body), stop: func() { cancel(); resp.Body.Close() }}
	t.Cleanup(s.stop)
	return s
}

// next returns the next event; the request's deadline bounds the wait.
func (s *stream) next(t *testing.T) sse.Event {
	t.Helper()
	ev, err := s.dec.Next()
	if err != nil {
		t.Fatalf("reading /events: %v", err)
	}
	return ev
}

// values reads events until it has one of every metric and returns the
// latest value of each.
func (s *stream) values(t *testing.T) map[string]string {
	t.Helper()
	got := make(map[string]string)
	for len(got) < len(metricKeys) {
		ev := s.next(t)
		if ev.Type == sse.ResetEvent {
			t.Fatalf("got %s %q: a dashboard client gets the latest values instead", ev.Type, ev.Data)
		}
		got[ev.Type] = ev.Data
	}
	return got
}

func get(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", path, resp.Status, err)
	}
	return string(body)
}

// A client sees every metric at once, sampled before it came, then each
// change live; one that reconnects with an ID the server does not know
// (it restarted) gets the current values, not a reset.
func TestDashboard(t *testing.T) {
	leaktest.Check(t)
	srv := startDashboard(t)
	if body := get(t, srv, "/"); !strings.Contains(body, `new EventSource("/events")`) {
		t.Errorf("the page has no EventSource on /events:\n%s", body)
	}

	first := openStream(t, srv, "")
	vals := first.values(t)
	for _, k := range metricKeys {
		if vals[k] == "" || vals[k] == "–" {
			t.Errorf("metric %s = %q, want a value", k, vals[k])
		}
	}
	if vals["requests"] != "2" { // the page and the stream
		t.Errorf("requests = %s, want 2", vals["requests"])
	}

	get(t, srv, "/healthz")
	if ev := first.next(t); ev.Type != "requests" || ev.Data != "3" {
		t.Errorf("after a request the client got %s=%q, want requests=\"3\"", ev.Type, ev.Data)
	}

	late := openStream(t, srv, "1700000000000000") // from a server that has gone
	vals = late.values(t)
	if vals["requests"] != "4" || vals["uptime"] == "" {
		t.Errorf("a reconnecting client got %v, want the current values, requests 4", vals)
	}
	if ev := first.next(t); ev.Type != "requests" || ev.Data != strconv.Itoa(4) {
		t.Errorf("the first client got %s=%q, want requests=\"4\"", ev.Type, ev.Data)
	}
}
