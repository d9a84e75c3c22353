package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// tserver is a running test server (internal/testserver) and what it
// takes to start it again, on the same address, after a crash.
type tserver struct {
	*server
	bin    string
	args   []string
	base   string       // its URL without path
	client *http.Client // trusts its certificate
}

// serverOpts are the test server's settings.
type serverOpts struct {
	cert      *certFiles    // nil: plain HTTP/1.1; else HTTPS with HTTP/2
	heartbeat time.Duration // 0: the library's default
}

// startTestServer starts the test server on a fresh loopback address.
func startTestServer(t *testing.T, opts serverOpts) *tserver {
	t.Helper()
	addr := freeAddr(t)
	s := &tserver{
		bin:    testServer(t),
		args:   []string{"-addr", addr, "-interval", counterInterval.String(), "-retry", retry.String(), "-limit-retry", limitRetry.String()},
		base:   "http://" + addr,
		client: &http.Client{Timeout: actionTimeout},
	}
	if opts.heartbeat > 0 {
		s.args = append(s.args, "-heartbeat", opts.heartbeat.String())
	}
	if opts.cert != nil {
		s.args = append(s.args, "-cert", opts.cert.cert, "-key", opts.cert.key)
		s.base = "https://" + addr
		s.client.Transport = &http.Transport{TLSClientConfig: opts.cert.clientConfig(), ForceAttemptHTTP2: true}
	}
	s.server = startServer(t, addr, s.bin, s.args...)
	return s
}

// startAgain starts the server again on the same address, after a crash:
// everything it held in memory is gone.
func (s *tserver) startAgain(t *testing.T) {
	t.Helper()
	s.server = startServer(t, s.addr, s.bin, s.args...)
}

// call sends a request to the server's control endpoint path and decodes
// its JSON answer into v.
func (s *tserver) call(t *testing.T, method, path string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, body.Bytes())
	}
	if err := json.Unmarshal(body.Bytes(), v); err != nil {
		t.Fatalf("%s %s: %v in %q", method, path, err, body.Bytes())
	}
}

// publish has the hub publish n events and returns their data.
func (s *tserver) publish(t *testing.T, n int) []string {
	t.Helper()
	var data []string
	s.call(t, http.MethodPost, "/publish?n="+strconv.Itoa(n), &data)
	return data
}

// drop ends every stream the server has open, from the server's side.
func (s *tserver) drop(t *testing.T) {
	t.Helper()
	var n int
	s.call(t, http.MethodPost, "/drop", &n)
	if n == 0 {
		t.Fatal("POST /drop found no stream to end")
	}
}

// requests returns the stream requests the server has seen.
func (s *tserver) requests(t *testing.T) []cases.Request {
	t.Helper()
	var reqs []cases.Request
	s.call(t, http.MethodGet, "/requests", &reqs)
	return reqs
}

// waitSubscribers waits until the hub has n subscribers, so that what is
// published next reaches them live.
func (s *tserver) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		var stats struct{ Subscribers int }
		s.call(t, http.MethodGet, "/stats", &stats)
		if stats.Subscribers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d subscribers after %v, want %d", stats.Subscribers, eventTimeout, n)
		}
		time.Sleep(pollEvery)
	}
}

// checkRequests fails the test unless every request for path the server
// saw (at least one) came with the protocol proto, Accept
// text/event-stream and the Last-Event-ID lastID (nil: none). With a proxy
// in front, clientProto is the protocol between the browser and the
// proxy.
func checkRequests(t *testing.T, reqs []cases.Request, path, proto, clientProto string, lastID []byte) {
	t.Helper()
	n := 0
	for _, r := range reqs {
		if r.Path != path {
			continue
		}
		n++
		if r.Proto != proto || r.ClientProto != clientProto || r.Accept != "text/event-stream" || !bytes.Equal(r.LastEventID, lastID) {
			t.Errorf("request for %s came %s (from the browser: %q) with Accept %q and Last-Event-ID %s; want %s (%q), text/event-stream and %s",
				path, r.Proto, r.ClientProto, r.Accept, quoteID(r.LastEventID), proto, clientProto, quoteID(lastID))
		}
	}
	if n == 0 {
		t.Errorf("the server saw no request for %s, only %+v", path, reqs)
	}
}

// quoteID shows a raw header value, or "none".
func quoteID(id []byte) string {
	if id == nil {
		return "none"
	}
	return fmt.Sprintf("%q", id)
}
